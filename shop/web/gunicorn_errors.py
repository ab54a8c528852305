"""The errors gunicorn answers by itself, before any app sees the request (a request line or
header it cannot parse, a URL or headers over its limits, Content-Length together with
Transfer-Encoding, an untrusted proxy header), in the contract's JSON shape instead of
gunicorn's HTML page.

gunicorn writes them with ``gunicorn.util.write_error``, whatever the worker class (gthread,
gevent); ``install`` replaces that function in the master, before it forks the workers
(shop/web/gunicorn_conf.py). The message is a fixed sentence per status: the request's own
content (a path, a header) is never echoed back."""
import json
import os

from gunicorn import util

_MESSAGES = {
    400: "The request is not valid HTTP (its request line, a header or its framing); it was not processed.",
    403: "The request is forbidden.",
    414: "The request line (method and URL) is too long.",
    417: "The Expect header asks for something this server does not do.",
    431: "The request has too many headers, or one that is too long.",
    501: "The request's Transfer-Encoding is not supported.",
}
INTERNAL = "Something went wrong on our side; it has been logged."


def json_error(status: int, reason: str) -> bytes:
    """The whole HTTP response gunicorn sends for one of its own errors."""
    code = "internal_error" if status == 500 else "invalid_request"
    message = INTERNAL if status >= 500 and status != 501 else _MESSAGES.get(status, _MESSAGES[400])
    body = (json.dumps({"error": {"code": code, "message": message}}, sort_keys=True,
                       separators=(",", ":")) + "\n").encode()
    head = (f"HTTP/1.1 {status} {reason}\r\n"
            "Connection: close\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            # The request may not even have been read: a new id, as for any request without one.
            f"X-Request-ID: {os.urandom(16).hex()}\r\n"
            "\r\n").encode("latin-1")
    return head + body


def _write_json_error(sock, status_int, reason, mesg):
    util.write_nonblock(sock, json_error(int(status_int), reason))


def install() -> None:
    util.write_error = _write_json_error
