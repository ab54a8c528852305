"""The operator's endpoints (fault injection, for now) are guarded by one admin token from
the deployable's configuration (``SHOP_ADMIN_TOKEN``), sent as ``X-Admin-Token``. With no
token configured they are switched off: every call is refused."""
import hmac

from flask import request

from shop.errors import ApiError, Unauthorized

HEADER = "X-Admin-Token"


class AdminDisabled(ApiError):
    status, code = 403, "forbidden"


def require_admin(configured: str | None) -> None:
    if not configured:
        raise AdminDisabled("The admin API is switched off: set SHOP_ADMIN_TOKEN to use it.")
    given = request.headers.get(HEADER, "")
    if not given or not hmac.compare_digest(given.encode(), configured.encode()):
        raise Unauthorized(f"This needs the admin token in the {HEADER} header.")
