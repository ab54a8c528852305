"""Fault injection (/admin/faults, shop/billing/faults.py), the same in both deployments: on
the monolith's own port, and on the billing service's (it is not part of the public API, so
the gateway does not route it). Every test leaves the faults cleared: the deployments are
shared by the whole session. Orders placed here are cancelled again (stock parity)."""
import time

import pytest
import requests

from shop.catalog.seed import products as seed_products
from tests.support.waiting import wait_until
from tests.support.client import US_ADDRESS, VALID_CARD, Api, error_code
from tests.support.deployments import TEST_ADMIN_TOKEN

SEED = {p["id"]: p for p in seed_products()}
PLENTY = [pid for pid in range(1100, 1150) if SEED[pid]["stock"] >= 100]
ADMIN = {"X-Admin-Token": TEST_ADMIN_TOKEN}


@pytest.fixture
def admin(deployment):
    url = f"{deployment.admin_url()}/admin/faults"
    yield url
    requests.delete(url, headers=ADMIN, timeout=10).raise_for_status()


def shopper(api, product_id, quantity=1) -> str:
    token = api.new_user("faults")["token"]
    api.add_to_cart(token, product_id, quantity)
    return token


def cancel(api, token, order):
    r = api.post(f"/api/orders/{order['id']}/cancel", token=token)
    assert r.status_code == 200, r.text


def test_the_admin_api_needs_the_admin_token(admin):
    assert requests.get(admin, timeout=10).status_code == 401
    r = requests.get(admin, headers={"X-Admin-Token": "wrong"}, timeout=10)
    assert r.status_code == 401 and error_code(r) == "unauthorized"
    r = requests.put(admin, json={"payment_latency_ms": 5}, headers={"X-Admin-Token": "wrong"}, timeout=10)
    assert r.status_code == 401
    r = requests.get(admin, headers=ADMIN, timeout=10)
    assert r.status_code == 200
    assert r.json() == {"payment_latency_ms": 0, "payment_failure_rate": 0.0, "billing_crash": False}


def test_the_admin_api_is_not_public(microservices):
    r = requests.get(f"{microservices.url}/admin/faults", headers=ADMIN, timeout=10)
    assert r.status_code == 404


def test_bad_settings_are_400_and_change_nothing(admin):
    assert requests.put(admin, json={"payment_latency_ms": 20}, headers=ADMIN, timeout=10).status_code == 200
    for body in ({"payment_failure_rate": 2}, {"nonsense": 1}, {"billing_crash": "yes"}, [1]):
        r = requests.put(admin, json=body, headers=ADMIN, timeout=10)
        assert r.status_code == 400 and error_code(r) == "invalid_request", (body, r.text)
    assert requests.get(admin, headers=ADMIN, timeout=10).json()["payment_latency_ms"] == 20


def test_a_failing_provider_fails_checkout_with_503_and_charges_nothing(api, admin):
    pid = PLENTY[0]
    token = shopper(api, pid)
    stock = api.product(pid)["stock"]
    r = requests.put(admin, json={"payment_failure_rate": 1.0}, headers=ADMIN, timeout=10)
    assert r.json()["payment_failure_rate"] == 1.0
    r = api.place_order(token)
    assert r.status_code == 503 and error_code(r) == "service_unavailable", r.text
    assert api.product(pid)["stock"] == stock               # the reservation was undone
    assert api.get("/api/orders", token=token).json()["total"] == 0
    assert api.get("/api/cart", token=token).json()["items"]  # the cart is kept for a retry
    assert api.get("/api/products/1").status_code == 200    # browsing is not affected

    requests.delete(admin, headers=ADMIN, timeout=10).raise_for_status()
    r = api.place_order(token)
    assert r.status_code == 201, r.text
    cancel(api, token, r.json())


def test_provider_latency_is_added_to_checkout_only(api, admin):
    token = shopper(api, PLENTY[1])
    requests.put(admin, json={"payment_latency_ms": 400}, headers=ADMIN, timeout=10).raise_for_status()
    started = time.monotonic()
    r = api.place_order(token)
    took = time.monotonic() - started
    assert r.status_code == 201, r.text
    assert took >= 0.4, f"the checkout took {took:.3f}s, less than the injected provider latency"
    cancel(api, token, r.json())


def test_billing_crash_kills_the_worker_and_the_shop_recovers_when_it_is_off(api, admin, deployment):
    token = shopper(api, PLENTY[2])
    stock = api.product(PLENTY[2])["stock"]
    requests.put(admin, json={"billing_crash": True}, headers=ADMIN, timeout=10).raise_for_status()
    try:
        r = api.place_order(token)
    except requests.ConnectionError:
        r = None  # the monolith: the worker serving the request died under it
    if deployment.name == "monolith":
        assert r is None or r.status_code >= 500
    else:  # the billing worker died; the orders service answers for it
        assert r is not None and r.status_code == 503 and error_code(r) == "service_unavailable", r and r.text
    requests.put(admin, json={"billing_crash": False}, headers=ADMIN, timeout=10).raise_for_status()
    fresh = Api(api.base_url)  # a new connection: the old one may have been the dead worker's

    def placed():
        try:
            r = fresh.place_order(token)
        except requests.ConnectionError:
            return False
        if r.status_code == 201:
            cancel(fresh, token, r.json())
            return True
        assert r.status_code == 503, r.text  # only "not back yet" is acceptable meanwhile
        return False

    wait_until(placed, what="a checkout to succeed again after the crash")
    assert fresh.product(PLENTY[2])["stock"] == stock
