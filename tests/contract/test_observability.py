"""Metrics and logs, checked against the real processes: one public request shows up in the
metrics and the JSON log lines of every process it touched, under one request id."""
import json
import re
import time
import uuid

import requests

from tests.support.client import US_ADDRESS, VALID_CARD, Api

# What a checkout touches in the microservices, and the calls orders makes on the way.
CHECKOUT_PROCESSES = ["gateway", "orders", "cart", "catalog", "tax", "shipping", "billing"]


def _metric(text: str, name: str, **labels) -> float:
    """The sum of a metric's samples whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _checkout(api: Api, rid: str) -> None:
    user = api.new_user("obs")
    api.add_to_cart(user["token"], 700, 1)
    r = api.post("/api/orders", token=user["token"], headers={"X-Request-ID": rid},
                 json={"address": US_ADDRESS, "shipping_option": "standard", "payment": VALID_CARD})
    assert r.status_code == 201, r.text
    assert r.headers["X-Request-ID"] == rid


def _lines_with(lines, rid: str) -> list[dict]:
    out = []
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if doc.get("request_id") == rid:
            out.append(doc)
    return out


def _wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_one_checkout_is_in_the_metrics_and_logs_of_every_service_it_touched(microservices):
    cluster = microservices.cluster
    before = {name: requests.get(f"{p.metrics_url}/metrics", timeout=10).text for name, p in cluster.processes.items()}
    rid = f"obs-{uuid.uuid4().hex}"
    _checkout(Api(microservices.url), rid)

    after = {name: requests.get(f"{p.metrics_url}/metrics", timeout=10).text for name, p in cluster.processes.items()}
    services = [n for n in CHECKOUT_PROCESSES if n != "gateway"]
    served = {name: _metric(after[name], "shop_http_requests_total", service=name)
              - _metric(before[name], "shop_http_requests_total", service=name) for name in services}
    assert all(n >= 1 for n in served.values()), served
    if microservices.gateway_kind == "envoy":   # Envoy's own stats: per cluster and status
        assert (_metric(after["gateway"], "envoy_cluster_upstream_rq", envoy_cluster_name="orders", envoy_response_code="201")
                > _metric(before["gateway"], "envoy_cluster_upstream_rq", envoy_cluster_name="orders", envoy_response_code="201"))
    else:
        assert _metric(after["gateway"], "shop_http_requests_total", service="gateway") > _metric(
            before["gateway"], "shop_http_requests_total", service="gateway")
        assert _metric(after["gateway"], "shop_http_requests_total", route="/api/orders", status="201") >= 1
    # the orders service counted its calls to each service it depends on, all successful
    for callee in ("cart", "catalog", "tax", "shipping", "billing"):
        calls = (_metric(after["orders"], "shop_internal_calls_total", caller="orders", callee=callee, outcome="ok")
                 - _metric(before["orders"], "shop_internal_calls_total", caller="orders", callee=callee, outcome="ok"))
        assert calls >= 1, callee
    assert _metric(after["orders"], "shop_internal_call_duration_seconds_count", caller="orders", callee="billing") >= 1

    def every_process_logged():
        seen = {name: _lines_with(list(cluster.processes[name].log), rid) for name in CHECKOUT_PROCESSES}
        return seen if all(seen.values()) else None

    seen = _wait_for(every_process_logged)
    assert seen, {name: len(_lines_with(list(cluster.processes[name].log), rid)) for name in CHECKOUT_PROCESSES}
    for name, docs in seen.items():
        assert all(d["service"] == name for d in docs), docs
        assert any(d.get("status") for d in docs), docs   # access lines are fields, not a sentence
    # a service it did not touch has no line for it; accounts only the services' check that
    # the token's user exists (once per user and worker: microservices/services/__init__.py)
    accounts = _lines_with(list(cluster.processes["accounts"].log), rid)
    assert all(d.get("path", "").startswith("/internal/users/") for d in accounts), accounts


def test_the_monolith_adds_up_its_workers_metrics_and_logs_the_request_id(monolith):
    api = Api(monolith.url)
    metrics = f"{monolith.metrics_url}/metrics"
    before = _metric(requests.get(metrics, timeout=10).text, "shop_http_requests_total",
                     route="/api/products/<int:product_id>")
    for product_id in range(1, 21):  # spread over both workers
        assert api.get(f"/api/products/{product_id}").status_code == 200
    after = _metric(requests.get(metrics, timeout=10).text, "shop_http_requests_total",
                    route="/api/products/<int:product_id>")
    assert after - before == 20

    rid = f"obs-{uuid.uuid4().hex}"
    _checkout(api, rid)
    docs = _wait_for(lambda: _lines_with(monolith.log_path.read_text().splitlines(), rid))
    assert docs and all(d["service"] == "monolith" for d in docs)
    assert any(d.get("path") == "/api/orders" and d.get("status") == 201 for d in docs), docs


def test_metrics_are_prometheus_text_on_the_metrics_port(deployment):
    for name, url in deployment.metrics_urls().items():
        r = requests.get(f"{url}/metrics", timeout=10)
        assert r.status_code == 200, name
        assert r.headers["Content-Type"].startswith("text/plain"), name
        if name == "gateway" and deployment.gateway_kind == "envoy":   # Envoy's admin stats
            assert "# TYPE envoy_http_downstream_rq_total counter" in r.text
            assert "# TYPE envoy_cluster_upstream_rq_time histogram" in r.text
            continue
        assert "# TYPE shop_http_requests_total counter" in r.text, name
        assert "# TYPE shop_http_request_duration_seconds histogram" in r.text, name


def test_metrics_are_not_on_the_public_port(api):
    """Route names, internal service names and order counts are for an operator, not the public."""
    r = api.get("/metrics")
    assert r.status_code == 404, r.text[:200]
    assert r.json()["error"]["code"] == "not_found"
    assert "shop_" not in r.text
