"""A thin API client for tests: one base URL, JSON in and out, helpers for common journeys."""
import datetime as dt
import itertools
import time

import requests
from requests.adapters import HTTPAdapter

_counter = itertools.count(1)

VALID_CARD = {"card_number": "4242424242424242", "exp_month": 12,
              "exp_year": dt.date.today().year + 3, "cvc": "123"}
US_ADDRESS = {"name": "Ada Lovelace", "line1": "1 Market St", "city": "San Francisco",
              "region": "CA", "postal_code": "94105", "country": "US"}


class _FromAddress(HTTPAdapter):
    """Connections from one local address: every 127.x.y.z is this machine's loopback, so a
    test can be a client of its own, with an address no other test shares (the login limit
    counts failures per client address)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


_addresses = itertools.count(2)


def own_loopback_address() -> str:
    """A loopback address (127.0.N.M) that no other client in this test session uses."""
    n = next(_addresses)
    return f"127.0.{n // 250}.{n % 250 + 2}"


class Api:
    def __init__(self, base_url: str, name: str = "", source_address: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.session = requests.Session()
        if source_address:
            self.session.mount("http://", _FromAddress(source_address))

    def request(self, method: str, path: str, *, token: str | None = None, headers=None, **kwargs):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # journeys ----------------------------------------------------------------------------
    def new_user(self, prefix: str = "user") -> dict:
        """Register and log in a fresh user: {"id", "email", "name", "password", "token"}."""
        n = next(_counter)
        email = f"{prefix}{n}-{id(self)}@example.com"
        password = "correct horse battery"
        r = self.post("/api/users", json={"email": email, "password": password, "name": f"{prefix} {n}"})
        assert r.status_code == 201, r.text
        user = r.json()
        r = self.post("/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return {**user, "password": password, "token": r.json()["token"]}

    def add_to_cart(self, token: str, product_id: int, quantity: int = 1) -> dict:
        r = self.put(f"/api/cart/items/{product_id}", token=token, json={"quantity": quantity})
        assert r.status_code == 200, r.text
        return r.json()

    def place_order(self, token: str, *, card=None, address=None, option="standard", key=None):
        headers = {"Idempotency-Key": key} if key else None
        return self.post("/api/orders", token=token, headers=headers, json={
            "address": address or US_ADDRESS, "shipping_option": option, "payment": card or VALID_CARD})

    def product(self, product_id: int) -> dict:
        r = self.get(f"/api/products/{product_id}")
        assert r.status_code == 200, r.text
        return r.json()


def shed(response) -> bool:
    """A request the shop shed because it was overloaded (shop/web/admission.py): a fast 503
    with Retry-After, never acted on. On a busy machine a test may meet one anywhere."""
    return response.status_code == 503 and "Retry-After" in response.headers


def unshed(send, tries: int = 100):
    """``send()`` again while the shop sheds it (it did nothing with it), at most ``tries`` times."""
    for _ in range(tries):
        r = send()
        if not shed(r):
            return r
        time.sleep(0.05)
    return r


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"], body
    return body["error"]["code"]
