"""Signed, expiring bearer tokens (JWT, HS256) that any process holding the secret can verify
without a network call: this is what lets every microservice authenticate a request locally."""
import time

import jwt

from shop.errors import Unauthorized

_ALGORITHM = "HS256"


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
        """The user id the token was issued to; Unauthorized if forged, malformed or expired."""
        try:
            payload = jwt.decode(token, self.secret, algorithms=[_ALGORITHM],
                                 options={"require": ["sub", "exp"]})
            return int(payload["sub"])
        except jwt.ExpiredSignatureError:
            raise Unauthorized("Your token has expired; log in again.") from None
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise Unauthorized("The bearer token is invalid; log in again.") from None


def bearer_token(authorization_header: str | None) -> str:
    if not authorization_header:
        raise Unauthorized("This endpoint needs an 'Authorization: Bearer <token>' header.")
    scheme, _, token = authorization_header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
    return token.strip()
