"""Resilience of the internal calls against real processes and real sockets (microservices
only): retries on refused and reset connections, the circuit breaker opening while a service
is down and closing once it is back, and no failed GET when a service's workers are killed.

Every stopped or killed service is brought back in ``finally``: the deployment is shared by
the whole session. The counters are read from the processes' /metrics as deltas."""
import contextlib
import os
import signal
import socket
import threading

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from microservices.config import Resilience
from microservices.http import ServiceClient
from shop import errors
from tests.support.waiting import wait_until
from tests.support.client import US_ADDRESS, Api, error_code


def counter(url: str, name: str, **labels) -> float:
    """The sum of a counter's samples whose labels include ``labels``, from a /metrics page."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


# What the gateway counted, by gateway: the Python one's own metrics, or Envoy's stats (its
# outlier detection is its circuit breaker; its retries are per cluster).
GATEWAY_COUNTERS = {
    "python": {"opened": ("shop_circuit_opened_total", "caller", "callee"),
               "retries": ("shop_internal_retries_total", "caller", "callee")},
    "envoy": {"opened": ("envoy_cluster_outlier_detection_ejections_enforced_total", None, "envoy_cluster_name"),
              "retries": ("envoy_cluster_upstream_rq_retry", None, "envoy_cluster_name")},
}


def gateway_counter(microservices, what: str, callee: str) -> float:
    name, caller, callee_label = GATEWAY_COUNTERS[microservices.gateway_kind][what]
    labels = {callee_label: callee, **({caller: "gateway"} if caller else {})}
    return counter(microservices.cluster.processes["gateway"].metrics_url, name, **labels)


# -- retries on real sockets, without the deployment ------------------------------------------
class FlakyServer:
    """Resets the first ``resets`` connections it accepts (RST, as a killed worker does), then
    answers every request 200 on a kept-alive connection."""

    def __init__(self, resets: int):
        self.resets, self.accepted = resets, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self.resets:
                conn.recv(65536)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _answer(conn):
        with conn:
            while conn.recv(65536):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
                             b'{"ok":true}')

    def close(self):
        self.sock.close()


def real_client(url: str, **policy) -> ServiceClient:
    return ServiceClient("flaky", url, connect_timeout=1, call_timeout=5, caller="test",
                         resilience=Resilience(backoff=0.001, **policy))


def test_reset_connections_are_retried_for_calls_safe_to_repeat_only():
    server = FlakyServer(resets=2)
    try:
        assert real_client(server.url).call("GET", "/x") == {"ok": True}
        assert server.accepted == 3
        server.resets, server.accepted = 1, 0
        with pytest.raises(errors.ServiceUnavailable):
            real_client(server.url).call("POST", "/charge", json_body={})   # not marked: sent once
        assert server.accepted == 1
    finally:
        server.close()


def test_refused_connections_are_retried_then_the_circuit_opens():
    with socket.socket() as s:      # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    client = real_client(url, breaker_failures=2, breaker_open=60.0)
    for _ in range(2):
        with pytest.raises(errors.ServiceUnavailable):
            client.call("GET", "/x")
    assert client.breaker.state == "open"
    taken = []
    client.pool.take = lambda: taken.append(1)  # an open circuit connects to nothing
    with pytest.raises(errors.ServiceUnavailable, match="flaky"):
        client.call("GET", "/x")
    assert taken == []


# -- the deployment ---------------------------------------------------------------------------
@contextlib.contextmanager
def stopped(microservices, name):
    cluster = microservices.cluster
    cluster.stop_service(name)
    try:
        yield
    finally:
        if not cluster.processes[name].running():
            cluster.start_service(name)


def test_a_dead_service_opens_the_circuit_and_a_probe_closes_it_when_it_is_back(either_gateway):
    microservices = either_gateway
    api = Api(microservices.url, "microservices")
    orders = microservices.cluster.processes["orders"].metrics_url   # counters: each master's metrics port
    token = api.new_user("breaker")["token"]
    api.add_to_cart(token, 1, 1)

    def quote():
        return api.post("/api/checkout/quote", token=token,
                        json={"address": US_ADDRESS, "shipping_option": "standard"})

    assert quote().status_code == 200
    opened = counter(orders, "shop_circuit_opened_total", caller="orders", callee="tax")
    closed = counter(orders, "shop_circuit_closed_total", caller="orders", callee="tax")
    short = counter(orders, "shop_internal_calls_total", caller="orders", callee="tax", outcome="short_circuit")
    retried = counter(orders, "shop_internal_retries_total", caller="orders", callee="tax", reason="refused")
    gateway_opened = gateway_counter(microservices, "opened", "orders")

    with stopped(microservices, "tax"):
        def failed_fast():
            r = quote()
            assert r.status_code == 503 and error_code(r) == "service_unavailable", r.text
            assert "tax" in r.json()["error"]["message"]
            return counter(orders, "shop_internal_calls_total", caller="orders", callee="tax",
                           outcome="short_circuit") > short

        wait_until(failed_fast, what="the orders service to fail quotes fast (circuit to tax open)")
        assert counter(orders, "shop_circuit_opened_total", caller="orders", callee="tax") > opened
        assert counter(orders, "shop_internal_retries_total", caller="orders", callee="tax",
                       reason="refused") > retried   # before it opened, refused calls were retried
        # Orders answered (503 for tax): the gateway's circuit to orders stays closed, and
        # everything that does not need tax still works.
        assert gateway_counter(microservices, "opened", "orders") == gateway_opened
        assert api.get("/api/orders", token=token).status_code == 200
        assert api.get("/api/products/1").status_code == 200
        microservices.cluster.start_service("tax")

    def quoted():
        r = quote()
        assert r.status_code in (200, 503), r.text
        return r.status_code == 200

    wait_until(quoted, what="a quote to succeed once tax is back (the probe closes the circuit)")
    assert counter(orders, "shop_circuit_closed_total", caller="orders", callee="tax") > closed
    wait_until(lambda: api.get("/healthz").json()["status"] == "ok", what="the gateway to see tax again")


def test_get_requests_survive_the_catalog_workers_being_killed(either_gateway):
    microservices = either_gateway
    catalog = microservices.cluster.processes["catalog"]
    workers = microservices.cluster.config.services["catalog"].workers
    api = Api(microservices.url, "microservices")
    for _ in range(10):  # the gateway now holds kept-alive connections to the catalog's workers
        assert api.get("/api/products/1").status_code == 200
    retried = gateway_counter(microservices, "retries", "catalog")
    master = psutil.Process(catalog.pid)
    victims = master.children()
    assert len(victims) == workers
    try:
        for worker in victims:
            os.kill(worker.pid, signal.SIGKILL)
        psutil.wait_procs(victims, timeout=10)
        # Their connections are dead: each call on one is sent again on a fresh connection,
        # which waits in the listening socket's queue until gunicorn has forked a new worker.
        statuses = [api.get(f"/api/products/{pid}").status_code for pid in range(1, 31)]
        assert statuses == [200] * 30
        if microservices.gateway_kind == "python":
            assert gateway_counter(microservices, "retries", "catalog") > retried
        # Envoy sees a dead worker's kept-alive connections close and drops them from its pool
        # before it would reuse one, so it may not need to retry at all: only the answers count.
    finally:
        wait_until(lambda: len(master.children()) == workers and catalog.healthy(),
                   what="gunicorn to replace the catalog's workers")
