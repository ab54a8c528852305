"""One HTTP client per upstream service: a timeout on every call, the request id passed
along, failures turned into the API's errors, and the resilience around each call:

- ``microservices/pool.py``: the pooled keep-alive connections (closed after a few seconds of
  life, so that workers added to a service while it runs get a share of them);
- ``microservices/retries.py``: which failed calls are tried again, with what backoff, within
  what budget;
- ``microservices/breaker.py``: the circuit breaker per client (so per calling process and
  upstream), and what counts as the upstream failing.

Configured by ``microservices.config.Resilience``, counted in the metrics."""
import contextvars
import http.client
import json
import logging
import random
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from microservices.breaker import CALL, PROBE, CircuitBreaker, upstream_failed
from microservices.config import Resilience
from microservices.pool import ConnectionPool
from microservices.retries import RetryPolicy
from shop import errors
from shop.web import observability

_ID_SEGMENT = re.compile(r"/[0-9]+(?=/|$)")
# What a kept-alive connection closed by the server looks like when we try to reuse it.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.BadStatusLine)
# Requests safe to send twice by their method; anything else must be marked ``idempotent``.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

log = logging.getLogger(__name__)


def _operation(method: str, path: str) -> str:
    """A call's label for metrics: its method and path with ids folded (few distinct values)."""
    return f"{method} {_ID_SEGMENT.sub('/<id>', path.split('?', 1)[0])}"


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    data: bytes


class _Failed(Exception):
    """One attempt failed without an answer; ``reason`` is the retry metric's label."""

    def __init__(self, reason: str, why: str = errors.UNAVAILABLE):
        super().__init__(reason)
        self.reason, self.why = reason, why


class ServiceClient:
    def __init__(self, name: str, base_url: str, *, connect_timeout: float, call_timeout: float,
                 pool_size: int = 16, caller: str = "-", resilience: Resilience | None = None,
                 clock=time.monotonic, sleep=None, rng=random.random):
        self.name = name
        self.caller = caller
        self.policy = resilience or Resilience()
        self.breaker = (CircuitBreaker(self.policy.breaker_failures, self.policy.breaker_open, clock)
                        if self.policy.breaker else None)
        self.retries = RetryPolicy(self.policy, rng)
        # time.sleep looked up at each call: under gevent it must be the patched one.
        self.sleep = sleep or (lambda seconds: time.sleep(seconds))
        parts = urlsplit(base_url)
        self.pool = ConnectionPool(parts.hostname, parts.port or 80, connect_timeout=connect_timeout,
                                   call_timeout=call_timeout, size=pool_size,
                                   max_age=self.policy.conn_max_age, clock=clock)

    @property
    def budget(self):
        return self.retries.budget

    # -- calls --------------------------------------------------------------------------
    def request_raw(self, method: str, path: str, *, body: bytes | None = None,
                    headers: dict | None = None, operation: str | None = None,
                    retry_stale: bool = True, idempotent: bool | None = None) -> Reply:
        """Send one request; ServiceUnavailable if the service is down or too slow, or if its
        circuit is open. ``idempotent``: the request may be sent again after a failure (by
        default only GET, HEAD and OPTIONS). ``retry_stale``: it may be sent again on a fresh
        connection when a kept-alive one turns out closed by the server.
        Every call is counted and timed (metrics) and traced when tracing is on."""
        headers = dict(headers or {})
        if "X-Request-ID" not in headers:
            # Set for each request by the app (shop/web/app.py) or the gateway, and carried into
            # the threads of Gather by its copied context.
            headers["X-Request-ID"] = observability.request_id_var.get()
        operation = operation or _operation(method, path)
        if idempotent is None:
            idempotent = method in SAFE_METHODS
        started, outcome = time.perf_counter(), "error"
        ticket = self.breaker.allow() if self.breaker is not None else CALL
        if ticket is None:
            observability.record_call(self.caller, self.name, operation, "short_circuit",
                                      time.perf_counter() - started)
            raise errors.ServiceUnavailable(self.name)
        healthy = False
        try:
            with observability.client_span(self.caller, self.name, operation, headers):
                reply = self._attempts(method, path, body, headers, operation, retry_stale, idempotent, ticket)
            healthy = not upstream_failed(reply)
            outcome = "ok" if reply.status < 500 else "error"
            return reply
        except errors.ServiceUnavailable as err:
            outcome = "timeout" if err.why == errors.TIMED_OUT else "unavailable"
            raise
        finally:
            # Also on anything unexpected (a greenlet killed mid-call): a probe must never
            # stay in flight for ever, or the circuit would never close.
            if self.breaker is not None:
                self._settle(ticket, healthy)
            observability.record_call(self.caller, self.name, operation, outcome, time.perf_counter() - started)

    def _settle(self, ticket: str, healthy: bool) -> None:
        if healthy:
            if self.breaker.succeeded(ticket):
                log.warning("circuit to %s closed: it answered again", self.name)
                observability.record_circuit(self.caller, self.name, opened=False)
        elif self.breaker.failed(ticket):
            log.warning("circuit to %s opened: calls fail at once for %.0f ms, then one probes",
                        self.name, 1000 * self.breaker.open_seconds)
            observability.record_circuit(self.caller, self.name, opened=True)

    def _attempts(self, method, path, body, headers, operation, retry_stale, idempotent, ticket) -> Reply:
        """The first attempt and the retries the policy, the budget and the breaker allow."""
        self.retries.budget.deposit()
        retries = 0
        while True:
            try:
                reply = self._send(method, path, body, headers, retry_stale, operation)
                if not (reply.status == 503 and upstream_failed(reply)):
                    return reply
                failure, reason = None, "503"
            except _Failed as exc:
                failure, reason = exc, exc.reason
            if not self._may_retry(reason, retries, idempotent, ticket, operation):
                if failure is None:
                    return reply
                raise errors.ServiceUnavailable(self.name, failure.why) from None
            retries += 1
            observability.record_retry(self.caller, self.name, operation, reason)
            self.sleep(self.retries.backoff(retries))

    def _may_retry(self, reason: str, retries: int, idempotent: bool, ticket: str, operation: str) -> bool:
        if not self.retries.allows(reason, retries, idempotent):
            return False
        # A probe is one attempt; and while the circuit is open (other calls failed meanwhile)
        # nobody retries: the upstream is known to be down.
        if ticket == PROBE or (self.breaker is not None and self.breaker.state != CircuitBreaker.CLOSED):
            observability.record_retry_skipped(self.caller, self.name, operation, "breaker")
            return False
        if not self.retries.budget.withdraw():
            observability.record_retry_skipped(self.caller, self.name, operation, "budget")
            return False
        return True

    def _send(self, method: str, path: str, body: bytes | None, headers: dict, retry_stale: bool,
              operation: str = "-") -> Reply:
        """One attempt (and, on a kept-alive connection the server had closed, one more on a
        fresh connection): the reply, or _Failed."""
        for attempt in (1, 2):
            try:
                conn, reused = self.pool.take()
            except ConnectionRefusedError:
                raise _Failed("refused") from None
            except socket.timeout:  # no answer to the connect in time: a full backlog, a dead host
                raise _Failed("connect_timeout") from None
            except OSError:  # unreachable, ...
                raise _Failed("connect") from None
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except socket.timeout:
                conn.close()
                raise _Failed("timeout", errors.TIMED_OUT) from None
            except _STALE:
                conn.close()
                # The server closed a kept-alive connection (a restart, an idle timeout, a
                # worker killed) as we reused it. The other idle ones are likely just as dead:
                # drop them all.
                self.pool.drop_idle()
                if reused and attempt == 1 and retry_stale:
                    # Try once more on a fresh connection at once, for requests that are safe
                    # to repeat (every internal call is; a public POST without a key is not).
                    # Not charged to the retry budget: the fault was our pool's, not the upstream's.
                    observability.record_retry(self.caller, self.name, operation, "stale")
                    continue
                raise _Failed("reset") from None
            except (OSError, http.client.HTTPException):
                conn.close()
                raise _Failed("reset") from None
            if response.will_close:
                conn.close()
            else:
                self.pool.give_back(conn)
            return Reply(response.status, response.headers, data)
        raise _Failed("reset")

    def call(self, method: str, path: str, *, json_body=None, query: dict | None = None,
             idempotent: bool | None = None) -> dict:
        """A JSON call: the decoded body on 2xx, the upstream's error re-raised on 4xx,
        ServiceUnavailable on 5xx (the failure is theirs, the caller only sees it is down).
        ``idempotent``: see ``request_raw``; every POST must say whether it is."""
        if query:
            path = f"{path}?{urlencode({k: v for k, v in query.items() if v is not None})}"
        body, headers = None, {}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        response = self.request_raw(method, path, body=body, headers=headers, idempotent=idempotent)
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


class Gather:
    """Run independent calls at the same time and return their results in order (the first
    error, in order, is raised). Each call runs in a copy of the caller's context, so it still
    sees the request (and passes its X-Request-ID along)."""

    def __init__(self, max_workers: int = 32):
        self.pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="gather")

    def __call__(self, *calls):
        futures = [self.pool.submit(contextvars.copy_context().run, call) for call in calls[1:]]
        first = calls[0]()  # the caller's own thread does one of them
        return [first, *[f.result() for f in futures]]
