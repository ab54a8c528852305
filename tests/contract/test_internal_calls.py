"""What the deployments do inside, seen from outside (issue 13, items 3 and 4).

- Parity for every cart the contract allows: the microservices' orders service asked shipping
  through the PUBLIC options endpoint, whose weight_grams is capped for shoppers, so a heavy
  cart the monolith quoted came back as a 400 about a parameter the shopper never sent. Orders
  now asks shipping's internal API, and tax's takes any subtotal.
- The payment provider is never called inside a database transaction: a refund (a cancel) is
  slowed down at the provider, and meanwhile the database it writes (the monolith's one
  shop.db; the billing service's billing.db) must stay open to other writers."""
import sqlite3
import threading

import pytest
import requests

from shop.catalog.seed import products
from tests.support.client import US_ADDRESS, Api, error_code


def heaviest(n: int) -> list[dict]:
    """The heaviest seed products with stock for 99 of each (the cart's maximum quantity)."""
    return sorted((p for p in products() if p["stock"] >= 99), key=lambda p: -p["weight_grams"])[:n]


def test_a_cart_over_the_public_weight_limit_is_quoted_the_same_by_both(both):
    """99 of each of the two heaviest products weigh over 4,000 kg, four times what the public
    shipping endpoint accepts for weight_grams; every quantity is one the contract allows."""
    heavy = heaviest(2)
    assert sum(99 * p["weight_grams"] for p in heavy) > 1_000_000
    quotes = []
    for api in both:
        token = api.new_user("heavy")["token"]
        for p in heavy:
            api.add_to_cart(token, p["id"], 99)
        for option in ("standard", "express"):
            r = api.post("/api/checkout/quote", token=token,
                         json={"address": US_ADDRESS, "shipping_option": option})
            assert r.status_code == 200, f"{api.name}: {r.text}"
            quotes.append((api.name, option, r.json()))
    mono = [q for name, _, q in quotes if name == "monolith"]
    micro = [q for name, _, q in quotes if name == "microservices"]
    assert mono == micro
    assert mono[0]["subtotal_cents"] == sum(99 * p["price_cents"] for p in heavy)


def test_the_internal_apis_take_the_totals_a_cart_can_reach(microservices):
    """A cart's computed weight and subtotal may pass any limit made for typed-in parameters."""
    shipping = microservices.cluster.processes["shipping"].url
    tax = microservices.cluster.processes["tax"].url
    r = requests.get(f"{shipping}/internal/shipping/options", params={"country": "US", "weight_grams": 10**12},
                     timeout=10)
    assert r.status_code == 200, r.text
    assert {o["id"] for o in r.json()["options"]} >= {"standard", "express"}
    r = requests.get(f"{tax}/internal/tax", params={"country": "US", "region": "CA",
                                                    "subtotal_cents": 10**15}, timeout=10)
    assert r.status_code == 200 and r.json()["tax_cents"] == 10**15 * 725 // 10000, r.text
    # still a whole number in ASCII digits, and within SQLite's integers
    for bad in ("-1", "1e9", "\u0661", str(2**63)):
        r = requests.get(f"{shipping}/internal/shipping/options", params={"country": "US", "weight_grams": bad},
                         timeout=10)
        assert r.status_code == 400 and error_code(r) == "invalid_request", (bad, r.text)


def _database(deployment) -> str:
    if deployment.name == "monolith":
        return str(deployment.data_dir / "monolith" / "shop.db")
    return str(deployment.data_dir / "microservices" / "billing.db")


PROVIDER_LATENCY_MS = 3000
LOCK_WAIT_S = 1.0   # a writer waits this long at most; the provider takes 3 s per call


def test_a_slow_refund_holds_no_database_lock(deployment, api):
    """Cancel an order while every call to the payment provider takes 3 s. While the cancel
    runs, a writer of our own repeatedly takes the write lock of the database the refund
    writes (BEGIN IMMEDIATE, waiting 1 s at most). If the provider were called inside a
    transaction, the lock would be held for its 3 s and the writer would fail."""
    user = api.new_user("slow-refund")
    api.add_to_cart(user["token"], next(p["id"] for p in products() if p["stock"] >= 100 and p["id"] > 40), 1)
    r = api.place_order(user["token"])
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    deployment.set_faults(payment_latency_ms=PROVIDER_LATENCY_MS)
    outcome, locked, writes = {}, [], [0]
    try:
        def cancel():
            outcome["response"] = Api(deployment.url).post(f"/api/orders/{order_id}/cancel", token=user["token"])
        canceller = threading.Thread(target=cancel)
        canceller.start()
        conn = sqlite3.connect(_database(deployment), timeout=LOCK_WAIT_S, isolation_level=None)
        try:
            while canceller.is_alive():
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute("ROLLBACK")
                    writes[0] += 1
                except sqlite3.OperationalError as err:   # "database is locked"
                    locked.append(str(err))
                canceller.join(0.05)
        finally:
            conn.close()
    finally:
        deployment.clear_faults()
    r = outcome["response"]
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    assert r.json()["payment"]["status"] == "refunded"
    assert locked == [], f"the write lock was held across the provider call: {locked}"
    assert writes[0] >= 10    # the writer really ran during the cancel's 3 s
