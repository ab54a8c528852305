"""The report's two derived readings: where a checkout's time goes, and capacity."""
from loadtests import insights, scrape

METRICS_BEFORE = """
shop_http_request_duration_seconds_count{method="POST",route="/api/orders",service="orders"} 10.0
shop_http_request_duration_seconds_sum{method="POST",route="/api/orders",service="orders"} 0.5
shop_internal_call_duration_seconds_count{callee="billing",caller="orders",operation="POST /internal/charges",via="POST /api/orders"} 10.0
shop_internal_call_duration_seconds_sum{callee="billing",caller="orders",operation="POST /internal/charges",via="POST /api/orders"} 0.1
"""
METRICS_AFTER = """
# HELP shop_http_request_duration_seconds Time to serve a request
shop_http_request_duration_seconds_count{method="POST",route="/api/orders",service="orders"} 110.0
shop_http_request_duration_seconds_sum{method="POST",route="/api/orders",service="orders"} 1.5
shop_http_request_duration_seconds_count{method="POST",route="/api/orders",service="gateway"} 100.0
shop_http_request_duration_seconds_sum{method="POST",route="/api/orders",service="gateway"} 1.2
shop_internal_call_duration_seconds_count{callee="billing",caller="orders",operation="POST /internal/charges",via="POST /api/orders"} 110.0
shop_internal_call_duration_seconds_sum{callee="billing",caller="orders",operation="POST /internal/charges",via="POST /api/orders"} 0.3
shop_internal_call_duration_seconds_count{callee="cart",caller="orders",operation="GET /internal/carts/<id>/lines",via="POST /api/orders"} 200.0
shop_internal_call_duration_seconds_sum{callee="cart",caller="orders",operation="GET /internal/carts/<id>/lines",via="POST /api/orders"} 0.2
shop_internal_call_duration_seconds_count{callee="tax",caller="orders",operation="GET /internal/tax",via="POST /api/checkout/quote"} 50.0
shop_internal_call_duration_seconds_sum{callee="tax",caller="orders",operation="GET /internal/tax",via="POST /api/checkout/quote"} 0.05
"""


def _timings():
    before = {"orders": scrape.parse(METRICS_BEFORE)}
    after = {"orders": scrape.parse(METRICS_AFTER)}
    return scrape.timings(before, after)


def test_timings_are_the_differences_of_the_histograms():
    t = _timings()
    orders = [r for r in t["routes"] if r["service"] == "orders"][0]
    assert orders["count"] == 100 and orders["avg_ms"] == 10.0      # (1.5 - 0.5) s / 100
    billing = [c for c in t["calls"] if c["callee"] == "billing"][0]
    assert billing["count"] == 100 and billing["avg_ms"] == 2.0      # (0.3 - 0.1) s / 100


def test_a_checkout_breakdown_counts_only_the_calls_the_checkout_made():
    b = insights.checkout_breakdown({"timings": _timings()}, "POST /api/orders")
    assert b["requests"] == 100
    assert b["at_gateway_ms"] == 12.0 and b["in_orders_ms"] == 10.0
    by_callee = {c["callee"]: c for c in b["calls"]}
    assert set(by_callee) == {"billing", "cart"}                     # the quote's tax call is not counted
    assert by_callee["cart"]["per_request"] == 2.0 and by_callee["cart"]["avg_ms"] == 1.0
    assert b["sum_of_calls_ms"] == 2.0 * 1.0 + 1.0 * 2.0


def test_capacity_scales_each_process_by_whole_replicas_and_compares_with_scaling_alike():
    run = {"totals": {"all": {"requests": 10_000, "rps": 50.0}, "spike": {"rps": 100.0}},
           "resources": {"processes": [{"name": "gateway", "cpu_seconds": 10.0, "peak_rss_mb": 70.0},
                                       {"name": "tax", "cpu_seconds": 1.0, "peak_rss_mb": 60.0}]}}
    est = insights.capacity(run, 10)                     # 1,000 req/s
    rows = {r["name"]: r for r in est["rows"]}
    assert rows["gateway"]["cpu_ms"] == 1.0 and rows["gateway"]["cores"] == 1.0
    assert rows["tax"]["cores"] == 0.1 and rows["tax"]["replicas"] == 1
    est100 = insights.capacity(run, 100)                 # 10,000 req/s
    assert {r["name"]: r["replicas"] for r in est100["rows"]} == {"gateway": 10, "tax": 1}
    assert est100["scaled_as_needed"] == {"cores": 11, "memory_mb": 10 * 70.0 + 60.0}
    assert est100["scaled_alike"] == {"cores": 20, "memory_mb": 10 * 130.0}


def test_capacity_needs_measured_resources():
    assert insights.capacity({"totals": {"all": {"requests": 10, "rps": 1.0}}}, 10) is None
