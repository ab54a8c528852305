"""Reading Prometheus text (loadtests/scrape.py) as the shop's processes write it: made here
by prometheus_client itself, read back with its parser, turned into the run's timings."""
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from loadtests.scrape import outcomes, parse, timings


def exposition(requests: int, seconds: float, route: str = '/api/products/<int:product_id>') -> str:
    registry = CollectorRegistry()
    counter = Counter("shop_internal_calls_total", "calls", ["caller", "callee", "outcome"], registry=registry)
    counter.labels("orders", "billing", "ok").inc(requests)
    histogram = Histogram("shop_http_request_duration_seconds", "time", ["service", "route"], registry=registry)
    for _ in range(requests):
        histogram.labels("catalog", route).observe(seconds / requests)
    return generate_latest(registry).decode()


def test_samples_are_read_with_their_labels():
    samples = parse(exposition(4, 0.2, route='/odd "route"\\'))
    key = ("shop_http_request_duration_seconds_count", (("route", '/odd "route"\\'), ("service", "catalog")))
    assert samples[key] == 4.0      # escaped quotes and backslashes come back as they were
    assert samples[("shop_internal_calls_total", (("callee", "billing"), ("caller", "orders"), ("outcome", "ok")))] == 4.0


def test_a_run_is_the_difference_between_two_scrapes():
    before, after = {"catalog": parse(exposition(2, 0.02))}, {"catalog": parse(exposition(6, 0.06))}
    [row] = timings(before, after)["routes"]
    assert row["count"] == 4 and row["avg_ms"] == 10.0
    assert outcomes(before, after)["calls"] == {"orders->billing ok": 4}
