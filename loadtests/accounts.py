"""The pool of seeded shopper accounts the Shopper users log in as.

Each live Shopper holds one account of its own (two users sharing a cart would empty it under
each other). Tokens are cached for the whole Locust process: an account logs in once, so a
spike of new users measures shopping, not a burst of password hashing (every login costs the
server a deliberately slow scrypt hash)."""
import threading


class AccountPool:
    def __init__(self, size: int, email_for):
        self._free = list(range(size, 0, -1))  # pop() hands out account 1 first
        self._email_for = email_for
        self._tokens: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()

    def acquire(self) -> int | None:
        with self._lock:
            return self._free.pop() if self._free else None

    def release(self, n: int) -> None:
        with self._lock:
            self._free.append(n)

    def email(self, n: int) -> str:
        return self._email_for(n)

    def token(self, host: str, n: int) -> str | None:
        return self._tokens.get((host, n))

    def remember(self, host: str, n: int, token: str) -> None:
        self._tokens[(host, n)] = token

    def forget(self, host: str, n: int) -> None:
        self._tokens.pop((host, n), None)


def log_in(host: str, email: str, password: str, timeout: float = 30) -> str | None:
    """One login outside Locust's statistics (used to prepare tokens before a run)."""
    import json
    import urllib.request
    request = urllib.request.Request(
        f"{host.rstrip('/')}/api/auth/login", method="POST",
        data=json.dumps({"email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return json.loads(r.read())["token"]
    except (OSError, ValueError, KeyError):
        return None


def prewarm(pool: AccountPool, host: str, count: int, password: str, concurrency: int = 2) -> int:
    """Log in the first `count` accounts that have no token yet, before the run starts, so the
    spike's new shoppers find their tokens ready. Returns how many logged in."""
    import gevent.pool
    todo = [n for n in range(1, count + 1) if pool.token(host, n) is None]

    def one(n):
        token = log_in(host, pool.email(n), password)
        if token:
            pool.remember(host, n, token)
        return token is not None

    return sum(gevent.pool.Pool(concurrency).map(one, todo))
