"""The login limits' rules (shop/accounts/limits.py), on a real SQLite file and a fake clock."""
import pytest

from shop.accounts.limits import LoginLimits, LoginThrottle
from shop.errors import TooManyRequests
from shop.web.db import Database


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def throttle(tmp_path):
    clock = Clock()
    t = LoginThrottle(Database(tmp_path / "users.db"), LoginLimits(per_account=3, per_client=5, window=60), clock)
    t.create_schema()
    t.clock_ = clock
    return t


def fail(throttle, email="a@x.io", client="10.0.0.1", times=1):
    for _ in range(times):
        throttle.attempt(email, client)   # counted as a failure unless it succeeds


def test_the_account_limit_and_when_to_retry(throttle):
    fail(throttle, times=3)
    throttle.clock_.now += 20
    with pytest.raises(TooManyRequests) as err:
        throttle.attempt("a@x.io", "10.0.0.2")          # another address: the account is locked
    assert err.value.status == 429 and err.value.code == "too_many_requests"
    assert err.value.headers == {"Retry-After": "40"}  # the window started at the first failure
    throttle.clock_.now += 40
    throttle.attempt("a@x.io", "10.0.0.2")              # the window has passed


def test_a_refused_attempt_does_not_extend_the_lock(throttle):
    fail(throttle, times=3)
    for _ in range(10):
        throttle.clock_.now += 5
        with pytest.raises(TooManyRequests):
            throttle.attempt("a@x.io", "10.0.0.1")
    throttle.clock_.now += 10
    throttle.attempt("a@x.io", "10.0.0.1")


def test_the_client_limit_spans_accounts(throttle):
    for n in range(5):
        fail(throttle, email=f"u{n}@x.io")
    with pytest.raises(TooManyRequests):
        throttle.attempt("someone-else@x.io", "10.0.0.1")
    throttle.attempt("someone-else@x.io", "10.0.0.9")   # another client is not affected


def test_a_success_clears_the_account_and_takes_back_the_clients_attempt(throttle):
    fail(throttle, times=2)
    throttle.attempt("a@x.io", "10.0.0.1")
    throttle.succeeded("a@x.io", "10.0.0.1")
    fail(throttle, times=2)                              # the account's count started over
    throttle.attempt("a@x.io", "10.0.0.1")
    with pytest.raises(TooManyRequests):                 # client: 2 + 2 + 1 failures = 5
        throttle.attempt("b@x.io", "10.0.0.1")


def test_successes_never_add_up(throttle):
    for n in range(250):                                 # the load tests' prewarm, from one address
        throttle.attempt(f"shopper{n}@x.io", "127.0.0.1")
        throttle.succeeded(f"shopper{n}@x.io", "127.0.0.1")
    throttle.attempt("anyone@x.io", "127.0.0.1")


def test_a_limit_of_zero_is_off(tmp_path):
    t = LoginThrottle(Database(tmp_path / "u.db"), LoginLimits(per_account=0, per_client=0))
    t.create_schema()
    for _ in range(50):
        t.attempt("a@x.io", "10.0.0.1")


def test_old_windows_are_forgotten(throttle):
    fail(throttle, times=2)
    throttle.clock_.now += 61
    fail(throttle, email="other@x.io")
    rows = throttle.db.query("SELECT scope FROM login_failures")
    assert sorted(r["scope"] for r in rows) == ["account:other@x.io", "client:10.0.0.1"]
