"""Signed, expiring bearer tokens (JWT, HS256) that any process holding the secret can verify
without a network call: this is what lets every microservice authenticate a request locally."""
import re
import time

import jwt

from shop.errors import Unauthorized

_ALGORITHM = "HS256"
# A user id as issue() writes it: a positive whole number in ASCII digits, no sign, no
# leading zero, no space, and small enough for SQLite's 64-bit integers.
_CANONICAL_ID = re.compile(r"[1-9][0-9]{0,18}")
MAX_ID = 2**63 - 1


class TokenSigner:
    def __init__(self, secret: str, ttl_seconds: int = 86_400):
        if not secret:
            raise ValueError("a token secret is required")
        self.secret = secret
        self.ttl_seconds = ttl_seconds

    def issue(self, user_id: int, now: float | None = None) -> str:
        now = int(time.time() if now is None else now)
        payload = {"sub": str(user_id), "iat": now, "exp": now + self.ttl_seconds}
        return jwt.encode(payload, self.secret, algorithm=_ALGORITHM)

    def verify(self, token: str) -> int:
        """The user id the token was issued to; Unauthorized if forged, malformed or expired,
        or if its subject is not a user id as ``issue`` writes it (see ``canonical_id``).
        Whether that user exists is for the caller to check (``KnownUsers``)."""
        try:
            payload = jwt.decode(token, self.secret, algorithms=[_ALGORITHM],
                                 options={"require": ["sub", "exp"]})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("Your token has expired; log in again.") from None
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise Unauthorized("The bearer token is invalid; log in again.") from None
        user_id = canonical_id(payload.get("sub"))
        if user_id is None:
            raise Unauthorized("The bearer token is invalid; log in again.")
        return user_id


def canonical_id(value) -> int | None:
    """``value`` as a user id if it is one written canonically ("42"), else None: "0", "-1",
    " 42", "042", other scripts' digits and numbers past int64 are not ids."""
    if not isinstance(value, str) or not _CANONICAL_ID.fullmatch(value):
        return None
    number = int(value)
    return number if number <= MAX_ID else None


class KnownUsers:
    """Whether a user id belongs to an existing account, asked once per id and remembered.

    A token is signed by the shop, so it names a user who existed when it was issued; only a
    forged token (someone holding the secret) names one who never did. Accounts are never
    deleted while the shop runs, so a "yes" stays true and is kept (up to ``max_size`` ids,
    then the memory starts over); a "no" is asked again each time."""

    def __init__(self, exists, max_size: int = 100_000):
        self._exists = exists
        self._known: set[int] = set()
        self.max_size = max_size

    def check(self, user_id: int) -> int:
        """``user_id``, or Unauthorized if there is no such user."""
        if user_id in self._known:
            return user_id
        if not self._exists(user_id):
            raise Unauthorized("The bearer token is for an unknown user; log in again.")
        if len(self._known) >= self.max_size:
            self._known.clear()
        self._known.add(user_id)
        return user_id


def bearer_token(authorization_header: str | None) -> str:
    if not authorization_header:
        raise Unauthorized("This endpoint needs an 'Authorization: Bearer <token>' header.")
    scheme, _, token = authorization_header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
    return token.strip()
