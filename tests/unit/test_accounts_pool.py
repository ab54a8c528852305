"""The shopper account pool: each load-generator process gets its own share, and open-model
visits only take accounts that are already signed in (loadtests/accounts.py)."""
from loadtests.accounts import AccountPool


def pool(size=10):
    return AccountPool(size, lambda n: f"shopper{n:04d}@example.com")


def test_shares_of_the_workers_never_overlap_and_cover_every_account():
    shares = [pool().share(i, 3) for i in range(3)]
    assert shares[0] == [1, 4, 7, 10] and shares[1] == [2, 5, 8] and shares[2] == [3, 6, 9]
    assert sorted(n for s in shares for n in s) == list(range(1, 11))


def test_a_worker_hands_out_only_its_own_accounts_lowest_first():
    p = pool()
    p.share(1, 2)
    taken = [p.acquire() for _ in range(6)]
    assert taken == [2, 4, 6, 8, 10, None]
    p.release(6)
    assert p.acquire() == 6


def test_open_visits_take_only_signed_in_accounts():
    p = pool(4)
    assert p.acquire_signed_in("h") == (None, None)
    p.remember("h", 3, "t3")
    p.remember("other", 2, "x")            # a token for another deployment does not count
    assert p.acquire_signed_in("h") == (3, "t3")
    assert p.acquire_signed_in("h") == (None, None)   # taken until released
    p.release(3)
    assert p.acquire_signed_in("h") == (3, "t3")
    assert p.tokens("h") == {3: "t3"} and p.tokens("h", [1, 2]) == {}
