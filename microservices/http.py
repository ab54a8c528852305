"""One HTTP client per upstream service: pooled keep-alive connections, a timeout on every
call, the request id passed along, and failures turned into the API's errors.

Built on urllib3 (the connection pool inside requests) rather than requests.Session: it is
thread-safe as one shared pool and does less work per call, and every internal hop is paid
on the hot path."""
import json
import logging
from urllib.parse import urlencode, urlsplit

import urllib3
from flask import g, has_request_context
from urllib3.exceptions import (HTTPError, NewConnectionError, ProtocolError, ReadTimeoutError,
                                ConnectTimeoutError)

from shop import errors

log = logging.getLogger(__name__)


class ServiceClient:
    def __init__(self, name: str, base_url: str, *, connect_timeout: float, call_timeout: float,
                 pool_size: int = 16):
        self.name = name
        parts = urlsplit(base_url)
        self.pool = urllib3.HTTPConnectionPool(
            parts.hostname, parts.port or 80, maxsize=pool_size, block=False, retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=call_timeout))

    def request_raw(self, method: str, path: str, *, body: bytes | None = None,
                    headers: dict | None = None) -> urllib3.BaseHTTPResponse:
        """Send one request; ServiceUnavailable if the service is down or too slow."""
        headers = dict(headers or {})
        if has_request_context() and "X-Request-ID" not in headers:
            headers["X-Request-ID"] = getattr(g, "request_id", "")
        for attempt in (1, 2):
            try:
                return self.pool.urlopen(method, path, body=body, headers=headers,
                                         redirect=False, preload_content=True)
            except ProtocolError:
                # The server closed a kept-alive connection just as we reused it: nothing was
                # processed, so one immediate retry on a fresh connection is safe.
                if attempt == 2:
                    raise errors.ServiceUnavailable(self.name) from None
            except (ConnectTimeoutError, NewConnectionError):
                raise errors.ServiceUnavailable(self.name) from None
            except ReadTimeoutError:
                raise errors.ServiceUnavailable(self.name, "did not answer in time") from None
            except HTTPError:
                raise errors.ServiceUnavailable(self.name) from None

    def call(self, method: str, path: str, *, json_body=None, query: dict | None = None) -> dict:
        """A JSON call: the decoded body on 2xx, the upstream's error re-raised on 4xx,
        ServiceUnavailable on 5xx (the failure is theirs, the caller only sees it is down)."""
        if query:
            path = f"{path}?{urlencode({k: v for k, v in query.items() if v is not None})}"
        body, headers = None, {}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        response = self.request_raw(method, path, body=body, headers=headers)
        try:
            data = json.loads(response.data) if response.data else {}
        except ValueError:
            data = {}
        if response.status < 400:
            return data
        if response.status >= 500:
            log.warning("%s answered %s to %s %s", self.name, response.status, method, path)
            raise errors.ServiceUnavailable(self.name, "failed")
        raise errors.from_response(response.status, data)
