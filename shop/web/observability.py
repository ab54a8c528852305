"""Metrics, structured logs and optional tracing: the same in every deployable.

- Prometheus metrics, served by every process group's gunicorn master on a port of their own
  (shop/web/gunicorn_conf.py, from the deployable's configuration), never on the public port: route names, service names and order counts are for operators. gunicorn runs
  several worker processes; with ``PROMETHEUS_MULTIPROC_DIR`` set (the launchers set one
  directory per deployable) each worker writes its numbers there and the master adds them up.
- JSON log lines, each with the service and the request id, so that one public request can
  be followed through every service it touched (``make logs`` / README).
- OpenTelemetry tracing, off unless the deployable's configuration (``SHOP_TRACING``) says
  ``console`` or ``otlp`` (then the exporter's own ``OTEL_EXPORTER_OTLP_ENDPOINT`` says where to).

Nothing here reads the environment: ``configure`` is told the log format and the tracing mode
once per process, by the app factory, from the deployable's settings. Spans are created per request and
  per internal call, and the W3C ``traceparent`` header carries the trace between services.
"""
import contextvars
import datetime as dt
import json
import logging
import os
import threading

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("shop_http_requests_total", "HTTP requests served, by route and status",
                   ["service", "method", "route", "status"])
REQUEST_SECONDS = Histogram("shop_http_request_duration_seconds", "Time to serve a request",
                            ["service", "method", "route"], buckets=_BUCKETS)
# "via" is the route of the request that made the call: it tells a checkout's calls from a quote's.
CALLS = Counter("shop_internal_calls_total", "Calls from one service to another, by outcome",
                ["caller", "callee", "operation", "via", "outcome"])
CALL_SECONDS = Histogram("shop_internal_call_duration_seconds", "Time of a call to another service",
                         ["caller", "callee", "operation", "via"], buckets=_BUCKETS)
# Resilience (microservices/http.py). A call's outcome above is one of ok, error (a 5xx
# answer), timeout, unavailable (refused, reset), short_circuit (failed fast: circuit open).
# Each extra attempt of a call is counted here, by what went wrong with the one before
# (refused, reset, stale, 503, timeout); each retry NOT made, by why (budget, breaker).
RETRIES = Counter("shop_internal_retries_total", "Extra attempts of internal calls, by what failed before",
                  ["caller", "callee", "operation", "reason"])
RETRIES_SKIPPED = Counter("shop_internal_retries_skipped_total",
                          "Retries not made: the retry budget was spent or the circuit was open",
                          ["caller", "callee", "operation", "why"])
CIRCUIT_OPENED = Counter("shop_circuit_opened_total", "Times a circuit breaker opened (or re-opened "
                         "after a failed probe)", ["caller", "callee"])
CIRCUIT_CLOSED = Counter("shop_circuit_closed_total", "Times a circuit breaker closed again (a probe "
                         "succeeded)", ["caller", "callee"])

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
route_var: contextvars.ContextVar[str] = contextvars.ContextVar("route", default="-")


# -- metrics -----------------------------------------------------------------------------
# ``Metric.labels(...)`` takes a lock and rebuilds its key on every call; the label values
# are bounded (routes, methods, statuses, outcomes), so each combination's children are
# looked up once and kept. A plain dict is safe here: at worst two threads both look one up.
_request_children: dict[tuple, tuple] = {}
_call_children: dict[tuple, tuple] = {}
_counter_children: dict[tuple, object] = {}


def record_request(service: str, method: str, route: str, status: int, seconds: float) -> None:
    key = (service, method, route, status)
    children = _request_children.get(key)
    if children is None:
        children = _request_children[key] = (REQUESTS.labels(service, method, route, str(status)),
                                             REQUEST_SECONDS.labels(service, method, route))
    children[0].inc()
    children[1].observe(seconds)


def record_call(caller: str, callee: str, operation: str, outcome: str, seconds: float) -> None:
    via = route_var.get()
    key = (caller, callee, operation, via, outcome)
    children = _call_children.get(key)
    if children is None:
        children = _call_children[key] = (CALLS.labels(caller, callee, operation, via, outcome),
                                          CALL_SECONDS.labels(caller, callee, operation, via))
    children[0].inc()
    children[1].observe(seconds)


def _count(counter: Counter, *labels: str) -> None:
    key = (counter, labels)
    child = _counter_children.get(key)
    if child is None:
        child = _counter_children[key] = counter.labels(*labels)
    child.inc()


def record_retry(caller: str, callee: str, operation: str, reason: str) -> None:
    _count(RETRIES, caller, callee, operation, reason)


def record_retry_skipped(caller: str, callee: str, operation: str, why: str) -> None:
    _count(RETRIES_SKIPPED, caller, callee, operation, why)


def record_circuit(caller: str, callee: str, opened: bool) -> None:
    _count(CIRCUIT_OPENED if opened else CIRCUIT_CLOSED, caller, callee)


def start_metrics_server(address: str, metrics_dir=None):
    """Serve the metrics on ``host:port``, from a thread of the calling process: the gunicorn
    master (shop/web/gunicorn_conf.py), so that they are never on the public port, and still
    answer when every worker is busy. With ``metrics_dir`` (the workers' PROMETHEUS_MULTIPROC_DIR)
    every worker's numbers are added up. Returns the server (its ``socket`` is what a forked
    worker closes)."""
    from prometheus_client import start_http_server
    host, _, port = address.rpartition(":")
    if metrics_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(metrics_dir))
    else:
        registry = REGISTRY
    server, _thread = start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=registry)
    return server


# -- logs --------------------------------------------------------------------------------
class RequestIdFilter(logging.Filter):
    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line. gunicorn's access lines become fields, not a sentence."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname, "service": self.service,
               "request_id": getattr(record, "request_id", None) or request_id_var.get(),
               "logger": record.name}
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            a = record.args
            doc.update({"request_id": a.get("{x-request-id}o") or doc["request_id"], "method": a.get("m"),
                        "path": a.get("U"), "query": a.get("q") or None, "status": _int(a.get("s")),
                        "bytes": _int(a.get("B")), "duration_ms": _int(a.get("M")), "client": a.get("h")})
            doc["message"] = f'{a.get("m")} {a.get("U")} {a.get("s")}'
        else:
            doc["message"] = record.getMessage()
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def text_formatter(service: str) -> logging.Formatter:
    return logging.Formatter(f"%(asctime)s %(levelname)s {service} rid=%(request_id)s %(name)s: %(message)s")


def formatter(service: str, log_format: str = "json") -> logging.Formatter:
    return JsonFormatter(service) if log_format == "json" else text_formatter(service)


_tracing_mode = "off"


def configure(service: str, *, log_format: str = "json", tracing: str = "off") -> None:
    """Once per process, from the deployable's settings: the log format ("json" or "text") and
    the tracing mode ("off", "console", "otlp")."""
    global _tracing_mode
    _tracing_mode = tracing.lower()
    configure_logging(service, log_format)


def configure_logging(service: str, log_format: str = "json") -> None:
    """Our own log lines: JSON (or text) with the request id, on stderr."""
    root = logging.getLogger()
    if any(isinstance(f, RequestIdFilter) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(formatter(service, log_format.lower()))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


# -- tracing -----------------------------------------------------------------------------
_tracer = None
_tracer_pid = None
_tracer_lock = threading.Lock()


def tracing_mode() -> str:
    return _tracing_mode


def tracing_enabled() -> bool:
    return tracing_mode() in ("console", "otlp")


def tracer(service: str):
    """The process's tracer, or None when tracing is off. Set up lazily in each worker
    (gunicorn forks after loading the app; exporter threads must start after the fork)."""
    global _tracer, _tracer_pid
    mode = tracing_mode()
    if mode not in ("console", "otlp"):
        return None
    if _tracer is not None and _tracer_pid == os.getpid():
        return _tracer
    with _tracer_lock:
        if _tracer is None or _tracer_pid != os.getpid():
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
            if mode == "otlp":
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
                exporter = OTLPSpanExporter()  # OTEL_EXPORTER_OTLP_ENDPOINT, default localhost:4318
            else:
                exporter = ConsoleSpanExporter()
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            provider.add_span_processor(BatchSpanProcessor(exporter))
            _tracer = provider.get_tracer("shop")
            _tracer_pid = os.getpid()
    return _tracer


def start_server_span(service: str, name: str, headers):
    """A span for an incoming request, continuing the caller's trace. None when off."""
    t = tracer(service)
    if t is None:
        return None
    from opentelemetry import context, trace
    from opentelemetry.propagate import extract
    parent = extract(headers)
    span = t.start_span(name, context=parent, kind=trace.SpanKind.SERVER)
    token = context.attach(trace.set_span_in_context(span, parent))
    return span, token


def end_server_span(handle, status: int) -> None:
    if handle is None:
        return
    from opentelemetry import context
    span, token = handle
    span.set_attribute("http.response.status_code", status)
    span.end()
    context.detach(token)


def client_span(service: str, callee: str, operation: str, headers: dict):
    """A context manager around an internal call; injects traceparent into ``headers``."""
    t = tracer(service)
    if t is None:
        return _NO_SPAN
    from opentelemetry import trace
    from opentelemetry.propagate import inject
    span_cm = t.start_as_current_span(f"{callee} {operation}", kind=trace.SpanKind.CLIENT,
                                      attributes={"peer.service": callee})

    class _Span:
        def __enter__(self):
            self.span = span_cm.__enter__()
            inject(headers)
            return self.span

        def __exit__(self, *exc):
            return span_cm.__exit__(*exc)

    return _Span()


class _NoSpan:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


_NO_SPAN = _NoSpan()
