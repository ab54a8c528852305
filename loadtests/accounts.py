"""The pool of seeded shopper accounts the shoppers sign in as.

Each live shopper (a closed-model Shopper, or an open-model shopper visit while it runs) holds
one account of its own (two sharing a cart would empty it under each other). Tokens are
prepared before a run and kept for the whole Locust process: an account logs in once, so a
spike of new shoppers measures shopping, not a burst of password hashing (every login costs
the server a deliberately slow scrypt hash).

In Locust's distributed mode each load-generator process gets its own share of the accounts
(``share``): worker i of n takes accounts i+1, i+1+n, i+1+2n... so no two processes ever use
the same account. The master signs them in and hands each worker the tokens of its share."""
import json
import threading
from pathlib import Path


class AccountPool:
    def __init__(self, size: int, email_for):
        self.size = size
        self._email_for = email_for
        self._tokens: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()
        self.share(0, 1)

    def share(self, index: int, count: int) -> list[int]:
        """Keep only this process's share of the accounts (worker ``index`` of ``count``)."""
        mine = [n for n in range(1, self.size + 1) if (n - 1) % max(1, count) == index]
        with self._lock:
            self._mine = mine
            self._free = list(reversed(mine))  # pop() hands out the lowest account first
        return mine

    @property
    def accounts(self) -> list[int]:
        return list(self._mine)

    def acquire(self) -> int | None:
        with self._lock:
            return self._free.pop() if self._free else None

    def acquire_signed_in(self, host: str) -> tuple[int | None, str | None]:
        """A free account that already has a token for ``host`` (open-model visits never log in
        during a run), or (None, None)."""
        with self._lock:
            for i in range(len(self._free) - 1, -1, -1):
                n = self._free[i]
                token = self._tokens.get((host, n))
                if token:
                    del self._free[i]
                    return n, token
        return None, None

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

    def tokens(self, host: str, accounts=None) -> dict[int, str]:
        wanted = set(accounts) if accounts is not None else None
        return {n: t for (h, n), t in self._tokens.items() if h == host and (wanted is None or n in wanted)}


def log_in(host: str, email: str, password: str, timeout: float = 30) -> str | None:
    """One login outside Locust's statistics (used to prepare tokens before a run)."""
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


def token_works(host: str, token: str, timeout: float = 10) -> bool:
    """The deployment at ``host`` accepts this token (GET /api/users/me answers 200)."""
    import urllib.request
    request = urllib.request.Request(f"{host.rstrip('/')}/api/users/me",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def load_cache(pool: AccountPool, host: str, path: Path) -> int:
    """Tokens saved by an earlier run against the same deployment (``--tokens-file``: one file
    per deployment; it may have restarted on other ports with the same seed and secret), if
    it still accepts them (one is checked). Returns how many were loaded."""
    try:
        saved = {int(n): t for n, t in json.loads(Path(path).read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return 0
    if not saved or not token_works(host, next(iter(saved.values()))):
        return 0
    for n, token in saved.items():
        pool.remember(host, n, token)
    return len(saved)


def save_cache(pool: AccountPool, host: str, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({str(n): t for n, t in sorted(pool.tokens(host).items())}))


def prewarm(pool: AccountPool, host: str, count: int, password: str, concurrency: int = 2,
            accounts=None) -> int:
    """Log in the first ``count`` accounts (of ``accounts``, default all of the pool) that have no
    token yet, before the run starts, so the spike's new shoppers find their tokens ready.
    Returns how many logged in."""
    import gevent.pool
    candidates = list(accounts) if accounts is not None else list(range(1, pool.size + 1))
    todo = [n for n in candidates[:count] if pool.token(host, n) is None]

    def one(n):
        token = log_in(host, pool.email(n), password)
        if token:
            pool.remember(host, n, token)
        return token is not None

    return sum(gevent.pool.Pool(concurrency).map(one, todo))
