"""Errors every capability raises, each mapped to one status and code of the public API.

A view never builds an error response by hand: it raises one of these and the app's error
handler turns it into ``{"error": {"code", "message"}}``.
"""


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_json(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class InvalidRequest(ApiError):
    status, code = 400, "invalid_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class PaymentDeclined(ApiError):
    status, code = 402, "payment_declined"


class NotFound(ApiError):
    status, code = 404, "not_found"


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"


class Conflict(ApiError):
    status, code = 409, "conflict"


class EmailTaken(Conflict):
    code = "email_taken"


class OutOfStock(Conflict):
    code = "out_of_stock"


class CartEmpty(Conflict):
    code = "cart_empty"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class TooManyRequests(ApiError):
    """429, with ``Retry-After``: the whole seconds after which trying again may succeed."""
    status, code = 429, "too_many_requests"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


UNAVAILABLE = "is unavailable"
TIMED_OUT = "did not answer in time"


class ServiceUnavailable(ApiError):
    status, code = 503, "service_unavailable"

    def __init__(self, service: str, why: str = UNAVAILABLE, message: str | None = None):
        super().__init__(message or f"The {service} service {why}; please try again shortly.")
        self.service = service
        self.why = why


class InternalError(ApiError):
    status, code = 500, "internal_error"


_BY_STATUS_AND_CODE = {
    (cls.status, cls.code): cls
    for cls in (InvalidRequest, Unauthorized, PaymentDeclined, NotFound, MethodNotAllowed,
                Conflict, EmailTaken, OutOfStock, CartEmpty, PayloadTooLarge, InternalError)
}


def from_response(status: int, body: dict) -> ApiError:
    """Rebuild the error a remote capability raised, so callers handle it like a local one."""
    err = (body or {}).get("error") or {}
    code = err.get("code", "internal_error")
    message = err.get("message", "")
    if (status, code) == (ServiceUnavailable.status, ServiceUnavailable.code):
        return ServiceUnavailable("upstream", message=message)
    cls = _BY_STATUS_AND_CODE.get((status, code))
    if cls is None:
        cls = type("RemoteError", (ApiError,), {"status": status, "code": code})
    return cls(message)
