"""What became of one request, in the words the reports use. Pure functions, no Locust.

Every request ends as exactly one of:

- ``ok``: an answer the journey expected (e.g. 200, or 409 "sold out" when adding to a cart);
- ``shed``: 503 with a ``Retry-After`` header, the deployment's admission control turning
  the request away at once because it could not serve it in time (graceful overload);
- ``unavailable``: 503 without ``Retry-After``: a service answered that something it needs
  is unavailable (a dependency down, timed out, or shedding itself, or its circuit open);
- ``5xx``: any other server error (500 and the like: a bug);
- ``4xx``: a client error the journey did not expect (a bug in the journey or the shop);
- ``timeout``: no answer within the load generator's timeout;
- ``refused``: the connection was refused (nothing listening, or the backlog full);
- ``connection``: any other transport failure (a reset, a closed connection).

"Answered" means an HTTP answer came back (ok, shed, unavailable, 5xx or 4xx); timeouts, refused and other
connection errors are not answers. Goodput counts only ``ok`` answers within the SLO."""
import errno
import socket

KINDS = ["ok", "shed", "unavailable", "5xx", "4xx", "timeout", "refused", "connection"]
ERRORS = KINDS[1:]
ANSWERED = {"ok", "shed", "unavailable", "5xx", "4xx"}


def of_answer(status: int, headers, expected: tuple[int, ...]) -> str:
    """The outcome of a request that got an HTTP answer."""
    if status in expected:
        return "ok"
    if status == 503:
        return "shed" if _has(headers, "Retry-After") else "unavailable"
    if status >= 500:
        return "5xx"
    if 400 <= status < 500:
        return "4xx"
    return "connection" if status == 0 else "4xx"   # 1xx/3xx where none was expected


def of_exception(error: BaseException) -> str:
    """The outcome of a request that got no HTTP answer."""
    if isinstance(error, (TimeoutError, socket.timeout)) or type(error).__name__ == "Timeout":
        return "timeout"
    if isinstance(error, ConnectionRefusedError) or getattr(error, "errno", None) == errno.ECONNREFUSED:
        return "refused"
    return "connection"


def _has(headers, name: str) -> bool:
    if not headers:
        return False
    if headers.get(name) is not None:    # geventhttpclient's headers ignore case themselves
        return True
    return any(k.lower() == name.lower() for k in headers)
