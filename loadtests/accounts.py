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
