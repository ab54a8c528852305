"""Login rate limits (issue 13), the same in both deployments: failed logins are limited per
account and per client address; past a limit every attempt, even with the right password, is
refused with 429 ``too_many_requests`` and ``Retry-After``, and nobody else is affected.

Each test that trips the per-client limit sends from a loopback address of its own (any
127.x.y.z is this machine), so the rest of the suite, which logs in from 127.0.0.1, is not."""
import threading
import time

import pytest

from tests.support.client import Api, error_code, own_loopback_address, shed, unshed

PER_ACCOUNT, PER_CLIENT = 10, 100   # the defaults (shop/accounts/limits.py)


def assert_429(r):
    assert r.status_code == 429, f"expected 429, got {r.status_code}: {r.text[:200]}"
    assert r.headers["Content-Type"].startswith("application/json")
    assert error_code(r) == "too_many_requests"
    assert r.headers.get("X-Request-ID")
    retry_after = r.headers.get("Retry-After")
    assert retry_after and retry_after.isdigit() and 1 <= int(retry_after) <= 300, retry_after


def login(api, email, password):
    """A login attempt that reached the shop: one shed under load (a fast 503, nothing
    counted) is sent again."""
    return unshed(lambda: api.post("/api/auth/login", json={"email": email, "password": password}))


def test_too_many_wrong_passwords_lock_the_account_not_the_others(api):
    """The issue's probe: 60 wrong passwords in a row, then the right one, succeeded."""
    victim, other = api.new_user("locked"), api.new_user("unlocked")
    attacker = Api(api.base_url, source_address=own_loopback_address())
    for i in range(PER_ACCOUNT):
        r = login(attacker, victim["email"], f"wrong guess {i}")
        assert r.status_code == 401 and error_code(r) == "unauthorized", r.text
    assert_429(login(attacker, victim["email"], "yet another guess"))
    assert_429(login(attacker, victim["email"], victim["password"]))   # right, but too late
    assert_429(login(attacker, victim["email"].upper(), victim["password"]))  # the same account
    # Its tokens already issued still work, and another account logs in from the same client.
    assert api.get("/api/users/me", token=victim["token"]).status_code == 200
    assert login(attacker, other["email"], other["password"]).status_code == 200


def test_a_right_password_clears_the_accounts_failures(api):
    user = api.new_user("forgetful")
    client = Api(api.base_url, source_address=own_loopback_address())
    for round_ in range(3):   # 3 x (PER_ACCOUNT - 1) failures in all, never PER_ACCOUNT in a row
        for i in range(PER_ACCOUNT - 1):
            assert login(client, user["email"], f"typo {round_} {i}").status_code == 401
        assert login(client, user["email"], user["password"]).status_code == 200


def test_too_many_failures_from_one_address_lock_that_address_only(api):
    """Guessing across many accounts (here: addresses nobody registered) from one client."""
    user = api.new_user("spray")
    address = own_loopback_address()
    sprayer = Api(api.base_url, source_address=address)
    stamp = time.time_ns()
    statuses = []

    def guess(worker):
        mine = Api(api.base_url, source_address=address)   # a session per thread, one address
        for i in range(worker, PER_CLIENT, 4):
            statuses.append(login(mine, f"spray-{stamp}-{i}@example.com", "password1").status_code)
    threads = [threading.Thread(target=guess, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(401) == PER_CLIENT, sorted(set(statuses))
    assert_429(login(sprayer, f"spray-{stamp}-last@example.com", "password1"))
    assert_429(login(sprayer, user["email"], user["password"]))   # a right password, same address
    # Everyone else is unaffected: the same account from another address logs in.
    assert login(Api(api.base_url, source_address=own_loopback_address()), user["email"],
                 user["password"]).status_code == 200
    assert login(api, user["email"], user["password"]).status_code == 200


def test_guesses_sent_all_at_once_get_no_more_tries(api):
    """Each attempt is counted before its password is checked: 40 wrong guesses sent together
    get at most the limit's worth of answers, the others 429."""
    victim = api.new_user("burst")
    address = own_loopback_address()
    statuses, lock = [], threading.Lock()

    def guess(i):   # all together; one shed under load (not a try) is sent again, so all 40 count
        client = Api(api.base_url, source_address=address)
        r = unshed(lambda: client.post("/api/auth/login",
                                       json={"email": victim["email"], "password": f"burst {i}"}))
        with lock:
            statuses.append("shed" if shed(r) else r.status_code)
    threads = [threading.Thread(target=guess, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(statuses) <= {401, 429, "shed"}, statuses
    assert statuses.count(401) <= PER_ACCOUNT, statuses
    # and the limit holds afterwards, for the right password too
    assert_429(login(Api(api.base_url, source_address=address), victim["email"], victim["password"]))


def test_successful_logins_never_count(api):
    """What the load tests do before a run (log in their seeded shoppers, up to 250, from one
    address) and what this suite does (hundreds of fresh users): never limited."""
    address = own_loopback_address()
    client = Api(api.base_url, source_address=address)
    user = api.new_user("often")
    for _ in range(PER_ACCOUNT + 5):
        assert login(client, user["email"], user["password"]).status_code == 200
    for n in range(1, 30):   # seeded shoppers, as loadtests/accounts.py's prewarm logs them in
        r = login(client, f"shopper{n:04d}@example.com", "shopper-password")
        assert r.status_code == 200, r.text
