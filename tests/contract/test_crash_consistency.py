"""Crash consistency against real processes: checkouts are running when the part that takes
the money dies, and afterwards recovery (POST /admin/checkouts/recover) leaves books that
balance: nothing lost, nothing doubled, nothing left unfinished.

- microservices: the billing service is SIGKILLed while checkouts wait on the payment provider
  (latency injected so that they really are in flight), then started again;
- monolith: billing_crash kills the worker processes mid-charge (gunicorn replaces them), then
  it is switched off again.

Each test starts a deployment of its own, with SHOP_CHECKOUT_RECOVER_AFTER_MS short enough to
recover within the test (the session's deployments keep the default, and stay clean)."""
import os
import signal
import sqlite3
import threading
import time

import pytest
import requests

from loadtests.audit import audit, databases
from shop.catalog.seed import products as seed_products
from tests.support.client import Api
from tests.support.deployments import TEST_ADMIN_TOKEN, Microservices, Monolith
from tests.support.waiting import wait_until as support_wait_until

ADMIN = {"X-Admin-Token": TEST_ADMIN_TOKEN}
PLENTY = [p["id"] for p in seed_products() if p["stock"] >= 100][:20]
SHOPPERS = 6
RECOVER_AFTER_MS = "2000"


def wait_until(check, what="condition"):
    support_wait_until(check, timeout=60.0, what=what)  # crashes and restarts take a while


def admin_call(method, url, **kwargs):
    """An admin call that a dying worker may drop (before or mid-answer): retried on a fresh
    connection. Every admin call here is safe to repeat."""
    last = None
    for _ in range(20):
        try:
            r = requests.request(method, url, headers=ADMIN, timeout=30, **kwargs)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as err:
            last = err
            time.sleep(0.2)
            continue
        assert r.status_code == 200, r.text
        return r.json()
    raise AssertionError(f"{method} {url} never answered: {last}")


class Shoppers:
    """Threads that check out one item at a time, half of them with an Idempotency-Key, until
    stopped. Failures (503, a dropped connection) are expected while something is down."""

    def __init__(self, url: str, n: int = SHOPPERS):
        self.url, self.stop = url, threading.Event()
        self.outcomes: list = []
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(n)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(120)
        assert not any(t.is_alive() for t in self.threads), "a shopper thread is stuck"

    def succeeded(self) -> int:
        return self.outcomes.count(201)

    def _run(self, i: int) -> None:
        token = None
        while token is None and not self.stop.is_set():
            api = Api(self.url)
            try:
                token = api.new_user(f"crash{i}-")["token"]
            except (requests.RequestException, AssertionError):
                pass  # a worker died under the request: a new account on a fresh connection
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                r = api.put(f"/api/cart/items/{PLENTY[(i * 7 + n) % len(PLENTY)]}", token=token, json={"quantity": 1})
                if r.status_code != 200:
                    self.outcomes.append(("cart", r.status_code))
                    continue
                r = api.place_order(token, key=f"crash-{i}-{n}" if n % 2 else None)
                self.outcomes.append(r.status_code)
                assert r.status_code in (201, 503, 409, 500, 502), r.text
            except requests.RequestException:
                self.outcomes.append("dropped")
                api = Api(self.url)  # a fresh connection: the old one may have been a dead worker's
            except AssertionError as err:
                self.errors.append(err)
                return


def recover_until_done(url: str) -> list[dict]:
    """Recovery on demand until nothing is left in the journal (each entry must first grow
    older than the deployment's recover-after)."""
    reports = []

    def done():
        reports.append(admin_call("POST", f"{url}/admin/checkouts/recover"))
        return reports[-1]["unfinished"] == 0
    wait_until(done, what="recovery to leave no checkout unfinished")
    return reports


def assert_books_balance(kind: str, data_dir) -> dict:
    result = audit(databases(kind, data_dir))
    assert result["findings"] == [], result["findings"]
    return result


@pytest.fixture
def own_microservices(tmp_path):
    deployment = Microservices(tmp_path, SHOP_CHECKOUT_RECOVER_AFTER_MS=RECOVER_AFTER_MS).start()
    yield deployment
    deployment.stop()


@pytest.fixture
def own_monolith(tmp_path):
    deployment = Monolith(tmp_path, SHOP_CHECKOUT_RECOVER_AFTER_MS=RECOVER_AFTER_MS).start()
    yield deployment
    deployment.stop()


def pending_charges(data_dir) -> int:
    """Charges the billing service has claimed and is asking the provider for, right now."""
    path = data_dir / "microservices" / "billing.db"
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM charge_claims WHERE state = 'pending'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_microservices_billing_killed_mid_checkout(own_microservices):
    ms, cluster = own_microservices, own_microservices.cluster
    billing, orders = cluster.processes["billing"], cluster.processes["orders"]
    admin_call("PUT", f"{billing.url}/admin/faults", json={"payment_latency_ms": 500})

    with Shoppers(ms.url) as shoppers:
        wait_until(lambda: pending_charges(ms.data_dir) >= 2, what="checkouts waiting on the provider")
        pgid = billing.pid
        cluster.stop_service("billing", kill=True)
        try:  # the whole service dies, its workers too (they would finish their requests)
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_until(billing.port_free, what="the killed billing service's port to be free")
        wait_until(lambda: len(shoppers.outcomes) >= 2 * SHOPPERS, what="checkouts while billing is down")
        cluster.start_service("billing")
        seen = shoppers.succeeded()
        wait_until(lambda: shoppers.succeeded() > seen, what="a checkout to succeed after the restart")
    assert shoppers.errors == []
    admin_call("DELETE", f"{billing.url}/admin/faults")

    # Before recovery: the interrupted checkouts are unfinished, not inconsistent.
    before = assert_books_balance("microservices", ms.data_dir)
    reports = recover_until_done(orders.url)
    after = assert_books_balance("microservices", ms.data_dir)
    assert after["unfinished"] == [], after["unfinished"]
    assert after["orders"] == shoppers.succeeded() > 0
    # The interrupted checkouts were recovered (here, or already in the background).
    recovered = sum(len(r["recovered"]) for r in reports)
    assert before["unfinished"] == [] or recovered > 0
    assert after["charges"] - after["refunded"] == after["orders"]


def test_monolith_workers_crash_mid_charge(own_monolith):
    mono = own_monolith
    crash_line = "billing_crash is on; this worker process exits now"

    with Shoppers(mono.url) as shoppers:
        wait_until(lambda: shoppers.succeeded() >= 2, what="checkouts to flow")
        admin_call("PUT", f"{mono.url}/admin/faults", json={"billing_crash": True})
        wait_until(lambda: mono.log_path.read_text().count(crash_line) >= 3, what="workers to die mid-charge")
        admin_call("PUT", f"{mono.url}/admin/faults", json={"billing_crash": False})
        seen = shoppers.succeeded()
        wait_until(lambda: shoppers.succeeded() > seen, what="a checkout to succeed after the crashes")
    assert shoppers.errors == []

    before = assert_books_balance("monolith", mono.data_dir)
    reports = recover_until_done(mono.url)
    after = assert_books_balance("monolith", mono.data_dir)
    assert after["unfinished"] == [], after["unfinished"]
    # (a request on a dying worker may have had its order recorded and its answer lost)
    assert after["orders"] >= shoppers.succeeded() > 0
    assert after["charges"] - after["refunded"] == after["orders"]
    # Every crash left a checkout mid-charge; all of them were recovered, here or in the background.
    log = mono.log_path.read_text()
    recovered = {word for line in log.splitlines() if "recovered checkout" in line
                 for word in line.replace('"', " ").split() if word.startswith("co-")}
    assert len(recovered) >= min(3, log.count(crash_line)), (before["unfinished"], reports)


def test_the_recovery_endpoint_is_admin_only_and_not_public(deployment, microservices):
    url = (microservices.cluster.processes["orders"].url if deployment is microservices else deployment.url)
    r = requests.post(f"{url}/admin/checkouts/recover", timeout=10)
    assert r.status_code == 401
    r = requests.post(f"{url}/admin/checkouts/recover", headers={"X-Admin-Token": "wrong"}, timeout=10)
    assert r.status_code == 401
    report = admin_call("POST", f"{url}/admin/checkouts/recover")
    assert set(report) == {"recover_after_seconds", "recovered", "failed", "finished_meanwhile", "unfinished"}
    assert report["recover_after_seconds"] == 60.0
    if deployment is microservices:
        r = requests.post(f"{microservices.url}/admin/checkouts/recover", headers=ADMIN, timeout=10)
        assert r.status_code == 404
