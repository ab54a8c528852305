"""Admission control: a process that cannot serve a request in time says so at once.

Past its capacity, a server with an unbounded queue serves every request late: latency grows
without limit, every visitor waits until their client gives up, and goodput (answers within
the SLO) falls towards zero while throughput still looks fine. A bounded queue sheds what it
cannot serve in time with a fast ``503 service_unavailable`` and ``Retry-After``, and keeps
serving the rest promptly: goodput stays near capacity.

The same policy in every process of both deployments, by worker type:

- **threaded workers** (gthread: the monolith and every service): a request that waited more
  than ``max_queue_ms`` for a free thread, while the queue is standing (every request of the
  last 100 ms waited at least a quarter of that: see ``Standing``), is answered 503 at once
  instead of being served late. gunicorn's thread pool has an unbounded queue; the worker
  (shop/web/gunicorn_conf.py) stamps each request when it is queued, and this middleware
  reads how long it waited.
- **gevent workers** (the gateway): there is no thread to wait for; every request runs in a
  greenlet of its own as soon as the event loop gets to it. A request waits for the loop, so
  the same rule is applied to the loop's lag (how late a 10 ms timer fires: the "toobusy"
  technique of event-loop servers), taken as the smallest lateness over the last 100 ms so
  that a pause is not mistaken for overload: while it is over ``max_queue_ms``, new requests
  are answered 503 at once. Requests in flight in the worker process are also capped at
  ``max_in_flight`` (a slow upstream must not pile up requests without bound).

``/healthz``, ``/metrics`` and ``/admin/`` are never shed: health checks, scraping and fault
injection must keep working under overload. The limits and what was shed are in the metrics
(``shop_admission_*``)."""
import collections
import json
import os
import re
import socket
import threading
import time

from prometheus_client import Counter, Gauge

from shop.web.settings import AdmissionSettings  # noqa: F401  (the settings live with the others)

EXEMPT = ("/healthz", "/metrics", "/admin/")
STANDING_SHARE = 4   # a queue is standing when every request waited at least a quarter of the limit
DOOR_SHARE = 4       # the door closes when the oldest queued request waited over a quarter of the limit
RETRY_AFTER_S = 1

SHED = Counter("shop_admission_shed_total", "Requests answered 503 at once by admission control, by why",
               ["service", "reason"])
QUEUED = Gauge("shop_admission_queued", "Requests waiting for a worker thread", ["service"],
               multiprocess_mode="livesum")
IN_FLIGHT = Gauge("shop_admission_in_flight", "Requests being served (gevent workers)", ["service"],
                  multiprocess_mode="livesum")
LIMIT = Gauge("shop_admission_limit", "Admission limits: queue_ms (the longest wait for a thread, or the "
              "event loop's lag in gevent workers), in_flight (gevent workers, per worker process); 0 means off",
              ["service", "kind"], multiprocess_mode="max")
LOOP_LAG = Gauge("shop_admission_loop_lag_seconds", "How late the event loop runs a timer (gevent workers)",
                 ["service"], multiprocess_mode="max")


# -- standing queues, not bursts ------------------------------------------------------------
INTERVAL_S = 0.1   # CoDel's interval: a queue that stays for this long is standing


class Standing:
    """The smallest wait seen over the last interval (CoDel's idea, Nichols and Jacobson,
    "Controlling Queue Delay", 2012): a burst, or a process descheduled for a moment, leaves
    some requests waiting long but others not at all, while a standing queue (overload) makes
    every request wait. Only a wait that is both long and standing is shed."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._low = float("inf")      # the smallest wait in the current interval
        self.last = 0.0               # ... and in the last complete one

    def seen(self, wait: float) -> float:
        """Record one wait; returns the standing wait: the larger of the current and last
        intervals' smallest waits once the current one is complete, else the last one's."""
        now = self.clock()
        with self._lock:
            if now - self._started >= INTERVAL_S:
                self.last = self._low if self._low != float("inf") else wait
                self._started, self._low = now, wait
            else:
                self._low = min(self._low, wait)
            return min(self.last, max(self._low, 0.0)) if self._low != float("inf") else self.last


# -- the queue, as the threaded worker sees it (one per worker process) ---------------------
class _Queue:
    """Requests queued for the thread pool (gunicorn's gthread takes them in order), how long
    the one a thread took had waited, and whether new ones should be turned away at the door."""

    def __init__(self):
        self._lock = threading.Lock()
        self._queued = collections.deque()   # when each queued request was queued, oldest first
        self._local = threading.local()
        self.standing = Standing()
        self.door: "Door | None" = None      # set by the Admission middleware (in gunicorn's master)

    @property
    def length(self) -> int:
        return len(self._queued)

    def put(self) -> float:
        now = time.monotonic()
        with self._lock:
            self._queued.append(now)
        return now

    def take(self, queued_at: float | None) -> None:
        """A pool thread picked a request up (called in that thread, before the app runs)."""
        if queued_at is None:
            return
        with self._lock:
            if self._queued:
                self._queued.popleft()
        waited = time.monotonic() - queued_at
        self._local.waited = (waited, self.standing.seen(waited))

    def oldest_wait(self) -> float:
        """How long the oldest request still queued has waited: the queue's delay right now."""
        with self._lock:
            return time.monotonic() - self._queued[0] if self._queued else 0.0

    def waited(self) -> tuple[float, float] | None:
        """(seconds the current thread's request waited, the standing wait), or None if it
        was not queued (no gunicorn threaded worker)."""
        waited = getattr(self._local, "waited", None)
        self._local.waited = None
        return waited


class Door:
    """Turning a request away before the worker parses it: the cheapest shed there is.

    Shedding a request the worker has parsed and routed costs about a third of serving it, so
    past twice its capacity a worker spends most of its CPU saying no. While the queue stands
    over the limit (its oldest request waited longer than ``max_queue_ms``, and every request
    of the last 100 ms waited over a quarter of it), the worker's main thread answers the next
    request of a kept-alive connection itself (from a quarter of the limit on, so that the threads,
    which shed at the limit, rarely have to), with a canned 503: it only finds where the
    request ends (a plain request with no body or a Content-Length one), reads exactly that,
    and keeps the connection (closing it would make every client connect again, which costs
    more than it saves). Anything else takes the normal way."""
    _LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
    _REQUEST_ID = re.compile(rb"\r\nx-request-id:[ \t]*([\x21-\x7e]{1,128})[ \t]*\r\n", re.IGNORECASE)
    _NOT_HERE = re.compile(rb"\r\n(transfer-encoding|connection|expect):", re.IGNORECASE)

    def __init__(self, service: str, settings: AdmissionSettings, body: bytes, pressure):
        self.service, self.settings = service, settings
        self.pressure = pressure    # () -> (the queue's delay now, its standing wait), seconds
        self.limit = settings.max_queue_ms / 1000
        self._head = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                      b"Retry-After: " + str(RETRY_AFTER_S).encode() + b"\r\n"
                      b"Content-Length: " + str(len(body)).encode() + b"\r\nX-Request-ID: ")
        self._body = body
        self._counter = None

    def closed(self) -> bool:
        # It closes at a quarter of the limit, before the workers start shedding (at the limit):
        # the cheap way takes the excess, and the queue stays short enough to serve in time.
        if not self.settings.enabled:
            return False
        delay, standing = self.pressure()
        return delay > self.limit / DOOR_SHARE and standing > self.limit / STANDING_SHARE

    def turn_away(self, sock) -> bool:
        """Answer the one request waiting on ``sock`` (non-blocking) with the canned 503;
        False, with nothing read, if it is not one this can answer without a parser."""
        try:
            data = sock.recv(65536, socket.MSG_PEEK)
        except OSError:
            return False
        end = data.find(b"\r\n\r\n")
        if end < 0 or not data.startswith((b"GET ", b"POST ", b"PUT ", b"DELETE ", b"HEAD ")):
            return False
        head = data[:end + 2]
        if self._NOT_HERE.search(head) or b" HTTP/1.1\r\n" not in head[:head.find(b"\r\n") + 2]:
            return False
        length = self._LENGTH.search(head)
        total = end + 4 + (int(length.group(1)) if length else 0)
        if len(data) != total:      # a body still on its way, or a second request behind it
            return False
        found = self._REQUEST_ID.search(head)
        rid = found.group(1) if found else os.urandom(16).hex().encode()
        answer = self._head + rid + b"\r\n\r\n" + (b"" if data.startswith(b"HEAD ") else self._body)
        try:
            sock.recv(total)
            sent = sock.send(answer)
            if sent < len(answer):
                sock.setblocking(True)
                sock.sendall(answer[sent:])
                sock.setblocking(False)
        except OSError:
            return False
        if self._counter is None:
            self._counter = SHED.labels(self.service, "door")
        self._counter.inc()
        return True


QUEUE = _Queue()


class LoopLag:
    """How late the gevent event loop runs a 10 ms timer: the wait a request that arrives now
    can expect before the loop gets to it. ``lag`` is the smallest lateness over the last
    interval (see Standing), so one late tick (a pause) does not count, a busy loop does.
    Started in the worker that serves."""
    TICK_S = 0.01

    def __init__(self):
        self.lag = 0.0
        self.standing = Standing()

    def start(self) -> "LoopLag":
        """Start measuring (once per process: the worker's, which forked after the app was built)."""
        import gevent
        if getattr(self, "_pid", None) != os.getpid():
            self._pid = os.getpid()
            gevent.spawn(self._run)
        return self

    def _run(self):
        import gevent
        while True:
            before = time.monotonic()
            gevent.sleep(self.TICK_S)
            self.lag = self.standing.seen(max(0.0, time.monotonic() - before - self.TICK_S))


LOOP = LoopLag()          # the gevent worker's event loop (started by the first request it serves)
GEVENT_DOOR: "Door | None" = None   # set by the gateway's Admission middleware


# -- the middleware -------------------------------------------------------------------------
class Admission:
    """WSGI middleware around a deployable's app (see the module's docstring)."""

    def __init__(self, app, service: str, settings: AdmissionSettings, gevent: bool = False):
        self.app, self.service, self.settings, self.gevent = app, service, settings, gevent
        self.in_flight = 0
        self._metrics_pid = None
        self.message = json.dumps({"error": {
            "code": "service_unavailable",
            "message": f"The {service} is too busy to answer in time; please try again shortly."}},
            sort_keys=True, separators=(",", ":")).encode() + b"\n"
        if gevent:
            global GEVENT_DOOR
            GEVENT_DOOR = Door(service, settings, self.message, lambda: (LOOP.lag, LOOP.lag))
        else:
            QUEUE.door = Door(service, settings, self.message,
                              lambda: (QUEUE.oldest_wait(), QUEUE.standing.last))

    def _metrics(self) -> None:
        """Bind the metrics in the worker process that serves (not in gunicorn's master, which
        builds the app before the metrics directory exists, and forks the workers after)."""
        service, on = self.service, self.settings.enabled
        self._shed_queue = SHED.labels(service, "queue_wait")
        SHED.labels(service, "door")   # shown at 0 until the first
        self._shed_busy = SHED.labels(service, "in_flight")
        self._loop = LOOP.start() if self.gevent else None
        self._queued = QUEUED.labels(service)
        self._busy = IN_FLIGHT.labels(service)
        self._lag = LOOP_LAG.labels(service)
        LIMIT.labels(service, "queue_ms").set(self.settings.max_queue_ms if on else 0)
        LIMIT.labels(service, "in_flight").set(self.settings.max_in_flight if on and self.gevent else 0)
        self._metrics_pid = os.getpid()

    def __call__(self, environ, start_response):
        if self._metrics_pid != os.getpid():
            self._metrics()
        if environ.get("PATH_INFO", "").startswith(EXEMPT):
            return self.app(environ, start_response)
        if self.gevent:
            return self._limit_in_flight(environ, start_response)
        waited = QUEUE.waited()
        self._queued.set(QUEUE.length)   # (a snapshot, taken as requests come)
        if self.settings.enabled and waited is not None:
            limit = self.settings.max_queue_ms / 1000
            if waited[0] > limit and waited[1] > limit / STANDING_SHARE:
                self._shed_queue.inc()
                return self._shed(environ, start_response)
        return self.app(environ, start_response)

    def _limit_in_flight(self, environ, start_response):
        if self.settings.enabled:
            if self._loop.lag * 1000 > self.settings.max_queue_ms:
                self._shed_queue.inc()
                return self._shed(environ, start_response)
            if self.in_flight >= self.settings.max_in_flight:
                self._shed_busy.inc()
                return self._shed(environ, start_response)
        self.in_flight += 1   # one thread per process under gevent: no lock needed
        self._busy.inc()
        self._lag.set(self._loop.lag)
        try:
            # The body is built before returning (the gateway answers with a list), so the
            # request is finished when the app returns.
            return self.app(environ, start_response)
        finally:
            self.in_flight -= 1
            self._busy.dec()

    def _shed(self, environ, start_response):
        from shop.web.app import new_request_id   # (shop.web.app imports this module)
        rid = new_request_id(environ.get("HTTP_X_REQUEST_ID"))
        start_response("503 SERVICE UNAVAILABLE", [
            ("Content-Type", "application/json"), ("Content-Length", str(len(self.message))),
            ("Retry-After", str(RETRY_AFTER_S)), ("X-Request-ID", rid)])
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [self.message]
