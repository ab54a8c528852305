"""Login rate limits: too many failed logins for one account, or from one client address,
within a window, and further attempts are refused (429 ``too_many_requests``, with
``Retry-After``) until the window has passed, before any password is checked.

The counts live in the accounts database (the monolith's one, or the accounts service's), so
every worker process of the deployable shares them. Only failures count: a shopper, a load
test logging in its 250 seeded shoppers from one address, or a test suite logging in
hundreds of fresh users never gets near a limit. Each attempt is counted as a failure before
the password is checked, in one transaction with the check, and taken back if it succeeds: so
60 guesses sent at once get no more tries than 60 sent one after another. A success also
clears the account's count (whoever knows the password is not guessing it); not the client
address's (an attacker could otherwise reset it by logging in to an account of their own).

An attacker can still lock one account for a window by failing on purpose: the price of a
per-account limit, bounded by the window (``Retry-After`` says how long)."""
import math
import time
from dataclasses import dataclass

from shop.errors import TooManyRequests
from shop.web.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS login_failures (
    scope TEXT PRIMARY KEY,          -- 'account:<email>' or 'client:<address>'
    failures INTEGER NOT NULL,
    window_start REAL NOT NULL       -- epoch seconds; a window is counted from its first failure
);
CREATE INDEX IF NOT EXISTS login_failures_by_age ON login_failures(window_start);
"""


@dataclass(frozen=True)
class LoginLimits:
    per_account: int = 10     # failed logins for one account within the window (0: no limit)
    per_client: int = 100     # failed logins from one client address within the window (0: no limit)
    window: float = 300.0     # seconds


class LoginThrottle:
    def __init__(self, db: Database, limits: LoginLimits, clock=time.time):
        self.db = db
        self.limits = limits
        self.clock = clock

    def create_schema(self) -> None:
        self.db.executescript(SCHEMA)

    def _scopes(self, email: str, client: str | None) -> list[tuple[str, int]]:
        scopes = [(f"account:{email}", self.limits.per_account)]
        if client:
            scopes.append((f"client:{client}", self.limits.per_client))
        return [(scope, limit) for scope, limit in scopes if limit > 0]

    def attempt(self, email: str, client: str | None) -> None:
        """Before checking a password: TooManyRequests if a limit is reached, else the attempt
        is counted as a failure (``succeeded`` takes it back)."""
        scopes = self._scopes(email, client)
        if not scopes:
            return
        now, window = self.clock(), self.limits.window
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM login_failures WHERE window_start <= ?", (now - window,))
            rows = {row["scope"]: row for row in conn.execute(
                f"SELECT * FROM login_failures WHERE scope IN ({','.join('?' * len(scopes))})",
                [scope for scope, _ in scopes])}
            wait = [rows[scope]["window_start"] + window - now for scope, limit in scopes
                    if scope in rows and rows[scope]["failures"] >= limit]
            if wait:
                seconds = max(1, math.ceil(max(wait)))
                raise TooManyRequests(f"Too many failed logins; try again in {seconds} seconds.", seconds)
            for scope, _ in scopes:
                conn.execute("INSERT INTO login_failures (scope, failures, window_start) VALUES (?, 1, ?) "
                             "ON CONFLICT (scope) DO UPDATE SET failures = failures + 1", (scope, now))

    def succeeded(self, email: str, client: str | None) -> None:
        """The password was right: the account's count is cleared, the client's attempt taken back."""
        scopes = dict(self._scopes(email, client))
        if not scopes:
            return
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM login_failures WHERE scope = ?", (f"account:{email}",))
            if client and f"client:{client}" in scopes:
                conn.execute("UPDATE login_failures SET failures = failures - 1 WHERE scope = ? AND failures > 0",
                             (f"client:{client}",))
