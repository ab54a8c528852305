"""Tracing is off by default; when on, a call carries the trace to the next service."""
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shop.web import observability


@pytest.fixture
def spans(monkeypatch):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(observability, "_tracing_mode", "console")
    monkeypatch.setattr(observability, "_tracer", provider.get_tracer("test"))
    monkeypatch.setattr(observability, "_tracer_pid", __import__("os").getpid())
    return exporter


def test_tracing_is_off_unless_configured(monkeypatch):
    monkeypatch.setattr(observability, "_tracing_mode", "off")
    assert observability.tracer("catalog") is None
    assert observability.start_server_span("catalog", "GET /x", {}) is None
    headers = {}
    with observability.client_span("orders", "billing", "POST /internal/charges", headers):
        pass
    assert "traceparent" not in headers


def test_a_call_continues_the_callers_trace_in_the_next_service(spans):
    incoming = observability.start_server_span("gateway", "POST /api/orders", {})
    headers = {}
    with observability.client_span("gateway", "orders", "POST /api/orders", headers):
        pass
    observability.end_server_span(incoming, 201)
    assert headers["traceparent"].startswith("00-")

    downstream = observability.start_server_span("orders", "POST /api/orders", headers)
    observability.end_server_span(downstream, 201)

    call, gateway_in, orders_in = spans.get_finished_spans()   # in the order they ended
    assert (call.kind.name, gateway_in.kind.name, orders_in.kind.name) == ("CLIENT", "SERVER", "SERVER")
    assert call.name == "orders POST /api/orders"
    assert len({s.context.trace_id for s in (call, gateway_in, orders_in)}) == 1  # one trace
    assert call.parent.span_id == gateway_in.context.span_id
    assert orders_in.parent.span_id == call.context.span_id
    assert orders_in.attributes["http.response.status_code"] == 201
