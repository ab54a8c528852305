"""One HTTP client per upstream service: pooled keep-alive connections, a timeout on every
call, the request id passed along, and failures turned into the API's errors.

Resilience (configured by ``microservices.config.Resilience``, counted in the metrics):
- a call marked safe to repeat (``idempotent``) is retried after a refused or reset connection
  or a 503 of the upstream's own, with exponential backoff and jitter; a timeout is not
  retried unless asked (the first attempt may still be running: retrying doubles the load on
  a slow service);
- retries are bounded per client by a token bucket (``RetryBudget``), so that a spike of
  failures cannot turn into a retry storm, and none are made while the circuit is open;
- a circuit breaker per client (so per calling process and upstream) fails calls at once
  while the upstream is down, and lets one probe call through now and then to see it back;
- pooled connections are closed after a few seconds of life, so that workers added to a
  service while it runs get a share of the connections.

The breaker and the budget live here rather than in a module of their own: the import rules
(tests/unit/test_architecture.py) let services share only a few named infrastructure modules.
They are written here rather than taken from pybreaker: pybreaker's state changes use a plain
``threading.RLock`` and, more to the point, it has no half-open limit of one probe at a time
(every caller that arrives in half-open state goes through) and its failure test is per
exception type, while ours needs the reply's status and body; the whole machine is 60 lines.

Built directly on the standard library's http.client with a small pool of persistent
connections. Every internal hop is paid on the hot path, and measured (make bench): this
client costs less CPU per call than urllib3's pool (which wraps http.client) and far less than
requests.Session. It is safe for threads (gthread workers) and greenlets (gevent workers)."""
import contextvars
import http.client
import json
import logging
import random
import socket
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from flask import g, has_request_context

from microservices.config import Resilience
from shop import errors
from shop.web import observability

_ID_SEGMENT = re.compile(r"/[0-9]+(?=/|$)")
# Services keep idle connections for 30 s (gunicorn --keep-alive): reuse ours for less, so that
# we do not pick one the server is closing at that very moment.
IDLE_SECONDS = 20.0
# What a kept-alive connection closed by the server looks like when we try to reuse it.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.BadStatusLine)
# Requests safe to send twice by their method; anything else must be marked ``idempotent``.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BACKOFF = 1.0  # seconds: however many retries are configured, none waits longer than this


def _operation(method: str, path: str) -> str:
    """A call's label for metrics: its method and path with ids folded (few distinct values)."""
    return f"{method} {_ID_SEGMENT.sub('/<id>', path.split('?', 1)[0])}"

log = logging.getLogger(__name__)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    data: bytes


# -- circuit breaker ----------------------------------------------------------------------
CALL, PROBE = "call", "probe"   # the tickets ``CircuitBreaker.allow`` hands out


class CircuitBreaker:
    """closed: calls go through; ``failures`` failed calls in a row open it.
    open: every call fails at once, for ``open_seconds``.
    half-open: then ONE call at a time goes through as a probe (the others still fail at
    once): its success closes the circuit, its failure opens it again for ``open_seconds``.

    A failure is the upstream not answering, or answering that it is failing (502, 503, 504 of
    its own: ``upstream_failed`` has the whole rule); a 4xx or a 500 is the upstream working.
    The lock is never held across I/O, so it is as safe for
    greenlets (gevent patches threading.Lock) as for threads."""
    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"

    def __init__(self, failures: int, open_seconds: float, clock=time.monotonic):
        self.failures_to_open = failures
        self.open_seconds = open_seconds
        self.clock = clock
        self.state = self.CLOSED
        self.failures = 0          # consecutive failed calls while closed
        self.opened_at = 0.0
        self._probing = False
        self._lock = threading.Lock()

    def allow(self) -> str | None:
        """CALL or PROBE if the call may go ahead (report its end with ``succeeded`` or
        ``failed``), None if it must fail at once."""
        if self.state == self.CLOSED:  # the hot path takes no lock
            return CALL
        with self._lock:
            if self.state == self.CLOSED:
                return CALL
            if self.state == self.OPEN:
                if self.clock() - self.opened_at < self.open_seconds:
                    return None
                self.state, self._probing = self.HALF_OPEN, False
            if self._probing:
                return None
            self._probing = True
            return PROBE

    def succeeded(self, ticket: str) -> bool:
        """True if this closed the circuit (the probe succeeded)."""
        if ticket == CALL and not self.failures:  # the hot path takes no lock
            return False
        with self._lock:
            self.failures = 0
            if ticket == PROBE:
                self._probing = False
                self.state = self.CLOSED
                return True
            return False

    def failed(self, ticket: str) -> bool:
        """True if this opened the circuit (again)."""
        with self._lock:
            if ticket == PROBE:
                self._probing = False
            elif self.state == self.CLOSED:
                self.failures += 1
                if self.failures < self.failures_to_open:
                    return False
            else:
                return False  # a call that started before the circuit opened: already known
            self.state, self.opened_at, self.failures = self.OPEN, self.clock(), 0
            return True


class RetryBudget:
    """A token bucket: every first attempt earns ``ratio`` of a retry (up to ``cap`` saved),
    every retry spends a whole one. So retries add at most ``ratio`` to the load in the long
    run, whatever fails, and a burst of at most ``cap``: when everything fails at once (a
    spike on a dying service), the calls fail instead of coming back two or three times."""

    def __init__(self, ratio: float, cap: float):
        self.ratio, self.cap = ratio, cap
        self.tokens = cap
        self._lock = threading.Lock()

    def deposit(self) -> None:
        if self.tokens < self.cap:  # usually full: no lock on the hot path
            with self._lock:
                self.tokens = min(self.cap, self.tokens + self.ratio)

    def withdraw(self) -> bool:
        with self._lock:
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


# What the upstream answers when it is itself failing (or a proxy in front of it does): the
# answers a breaker counts, besides no answer at all (refused, reset, timed out).
FAILING_STATUSES = frozenset({502, 503, 504})


def upstream_failed(reply: "Reply") -> bool:
    """Did the upstream itself fail (for the breaker and for retries)? The rule:

    - counted: no answer (refused, reset, timed out: those never reach here) and a 502, 503
      or 504 that is not the shop's own ``service_unavailable`` error;
    - not counted: every 4xx (the upstream working), a 500 (the upstream up, answering, and
      failing THIS request: a bug its content hit; counting it would let one client's bad
      requests open the circuit for every other client), a 503 ``service_unavailable`` in the
      shop's error shape (the upstream telling us that one of ITS dependencies is down, or that
      it sheds load: its own breaker and retries deal with that; counting it would open the
      gateway's circuit to orders because tax is down, and retrying it would multiply the
      attempts at every layer, 3 x 3 x ...), and a call that failed fast because this circuit
      was open (it never reached the upstream: ``ServiceClient.request_raw``)."""
    if reply.status not in FAILING_STATUSES:
        return False
    if reply.status != 503:
        return True
    try:
        return json.loads(reply.data)["error"]["code"] != "service_unavailable"
    except (ValueError, TypeError, KeyError):
        return True


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
        self.budget = RetryBudget(self.policy.retry_budget, self.policy.retry_budget_cap)
        # time.sleep looked up at each call: under gevent it must be the patched one.
        self.clock, self.sleep, self.rng = clock, sleep or (lambda seconds: time.sleep(seconds)), rng
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.connect_timeout, self.call_timeout = connect_timeout, call_timeout
        self.pool_size = pool_size
        try:
            socket.inet_aton(self.host)
            self._ipv4 = self.host.count(".") == 3
        except OSError:
            self._ipv4 = False
        self._idle: list[tuple[http.client.HTTPConnection, float]] = []  # (connection, idle since)
        self._lock = threading.Lock()

    # -- connections --------------------------------------------------------------------
    def _too_old(self, conn, now: float) -> bool:
        max_age = self.policy.conn_max_age
        return bool(max_age) and now - conn.born >= max_age

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        now = self.clock()
        with self._lock:
            while self._idle:
                conn, since = self._idle.pop()
                if now - since < IDLE_SECONDS and not self._too_old(conn, now):
                    return conn, True
                conn.close()  # idle too long: the server may be closing it right now
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)
        conn.born = now
        if self._ipv4:
            # A literal address needs no name lookup (which under gevent goes through a thread).
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(self.connect_timeout)
            try:
                sock.connect((self.host, self.port))
            except BaseException:
                sock.close()
                raise
            conn.sock = sock
        else:
            conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sock.settimeout(self.call_timeout)
        return conn, False

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        now = self.clock()
        # A connection stays with the server worker that accepted it: a busy one is never idle
        # long enough to be dropped, so without an age limit the workers added to a service
        # under load (gunicorn TTIN) would get no share of our calls.
        if not self._too_old(conn, now):
            with self._lock:
                if len(self._idle) < self.pool_size:
                    self._idle.append((conn, now))
                    return
        conn.close()

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
            rid = getattr(g, "request_id", None) if has_request_context() else None
            headers["X-Request-ID"] = rid or observability.request_id_var.get()
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
        self.budget.deposit()
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
            self.sleep(self._backoff(retries))

    def _may_retry(self, reason: str, retries: int, idempotent: bool, ticket: str, operation: str) -> bool:
        policy = self.policy
        if not idempotent or retries >= policy.retries:
            return False
        if reason in ("timeout", "connect_timeout") and not policy.retry_timeouts:
            return False
        # A probe is one attempt; and while the circuit is open (other calls failed meanwhile)
        # nobody retries: the upstream is known to be down.
        if ticket == PROBE or (self.breaker is not None and self.breaker.state != CircuitBreaker.CLOSED):
            observability.record_retry_skipped(self.caller, self.name, operation, "breaker")
            return False
        if not self.budget.withdraw():
            observability.record_retry_skipped(self.caller, self.name, operation, "budget")
            return False
        return True

    def _backoff(self, retry: int) -> float:
        """Exponential, with jitter (between half and all of it) so that the callers that
        failed together do not all come back at the same moment."""
        delay = min(MAX_BACKOFF, self.policy.backoff * 2 ** (retry - 1))
        return delay * (0.5 + self.rng() / 2)

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()

    def _send(self, method: str, path: str, body: bytes | None, headers: dict, retry_stale: bool,
              operation: str = "-") -> Reply:
        """One attempt (and, on a kept-alive connection the server had closed, one more on a
        fresh connection): the reply, or _Failed."""
        for attempt in (1, 2):
            try:
                conn, reused = self._take()
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
                self._drop_idle()
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
                self._give_back(conn)
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
