"""Parity: the same requests, in the same order, get the same answers from both deployments.

Each request is sent to the monolith and then to the microservices before the next one, so
both see the same history. Catalog, category, shipping and error answers must be identical
byte for byte; answers that carry values which must differ (user and order ids, tokens,
created_at) are compared as JSON with exactly those values masked, after checking that each
masked value is well formed."""
import copy
import datetime as dt
import itertools
import re
import time
import uuid
import warnings

import jwt
import pytest

from tests.support.client import US_ADDRESS, VALID_CARD, Api
from tests.support.deployments import TEST_SECRET

pytestmark = pytest.mark.filterwarnings("ignore:The HMAC key is")

_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)")
_ids = itertools.count(1)

CA_ADDRESS = {"name": "Grace Hopper", "line1": "100 Queen St W", "city": "Toronto",
              "region": "ON", "postal_code": "M5H 2N2", "country": "CA"}
DE_ADDRESS = {"name": "Emmy Noether", "line1": "Unter den Linden 6", "city": "Berlin",
              "postal_code": "10117", "country": "DE"}
LIMIT = 64 * 1024


class Pair:
    """One client per deployment; every call goes to both and returns both responses."""

    def __init__(self, monolith: Api, micro: Api):
        self.apis = (monolith, micro)
        self.tokens: tuple[str, str] | None = None

    def send(self, method: str, path, *, auth: bool = False, fresh: bool = False, headers=None,
             **kwargs):
        paths = path if isinstance(path, tuple) else (path, path)
        request_id = f"parity-{uuid.uuid4().hex[:8]}-{next(_ids)}"
        responses = []
        for i, api in enumerate(self.apis):
            h = {"X-Request-ID": request_id, **(headers or {})}
            token = self.tokens[i] if auth else None
            if fresh:  # a body the server may not read: use (and drop) a connection of its own
                api = Api(api.base_url)
            try:
                responses.append(api.request(method, paths[i], token=token, headers=h, **kwargs))
            finally:
                if fresh:
                    api.session.close()
        for r in responses:
            assert r.headers.get("X-Request-ID") == request_id, f"{method} {path}: request id lost"
        label = f"{method} {paths[0]}"
        assert responses[0].status_code == responses[1].status_code, (
            f"{label}: monolith {responses[0].status_code} {responses[0].text[:300]!r} vs "
            f"microservices {responses[1].status_code} {responses[1].text[:300]!r}")
        assert responses[0].headers.get("Content-Type") == responses[1].headers.get("Content-Type"), label
        return responses

    def identical(self, method: str, path, status: int, **kwargs):
        """Same status, same bytes. Returns the monolith's decoded body."""
        mono, micro = self.send(method, path, **kwargs)
        assert mono.status_code == status, f"{method} {path}: {mono.status_code} {mono.text[:300]}"
        assert mono.content == micro.content, (
            f"{method} {path}: the bodies differ; {describe_difference(mono, micro)}")
        return mono.json()

    def equivalent(self, method: str, path, status: int, mask: list[str], **kwargs):
        """Same status, same JSON once the values at `mask` are replaced. Returns both bodies."""
        mono, micro = self.send(method, path, **kwargs)
        assert mono.status_code == status, f"{method} {path}: {mono.status_code} {mono.text[:300]}"
        bodies = mono.json(), micro.json()
        masked = [masked_copy(b, mask) for b in bodies]
        assert masked[0] == masked[1], f"{method} {path}:\n {masked[0]}\n {masked[1]}"
        return bodies


def describe_difference(mono, micro) -> str:
    """Where two bodies differ, for the failure message: JSON paths if both are JSON."""
    try:
        a, b = mono.json(), micro.json()
    except ValueError:
        return f"monolith {mono.content[:300]!r} vs microservices {micro.content[:300]!r}"
    found = []

    def walk(x, y, path):
        if len(found) >= 10:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                walk(x.get(k, "<absent>"), y.get(k, "<absent>"), f"{path}.{k}")
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (u, v) in enumerate(zip(x, y)):
                walk(u, v, f"{path}[{i}]")
        elif x != y or type(x) is not type(y):
            found.append(f"{path or '.'}: monolith {x!r} vs microservices {y!r}")

    walk(a, b, "")
    if not found:
        return (f"same JSON, different bytes: monolith {mono.content[:300]!r} vs "
                f"microservices {micro.content[:300]!r}")
    return "; ".join(found)


def _check_masked(key: str, value):
    if key == "created_at":
        assert isinstance(value, str) and _RFC3339_UTC.fullmatch(value), value
    elif key == "token":
        assert isinstance(value, str) and value, value
    elif key == "id":
        assert isinstance(value, int) and not isinstance(value, bool) and value > 0, value


def masked_copy(body, paths: list[str]):
    """A copy of `body` with each dotted path ("items.*.id") replaced by a placeholder."""
    body = copy.deepcopy(body)
    for path in paths:
        _mask(body, path.split("."), path)
    return body


def _mask(node, parts, path):
    head, rest = parts[0], parts[1:]
    if head == "*":
        assert isinstance(node, list), f"{path}: expected a list, got {node!r}"
        for item in node:
            _mask(item, rest, path)
        return
    assert isinstance(node, dict) and head in node, f"{path}: missing in {node!r}"
    if rest:
        _mask(node[head], rest, path)
    else:
        _check_masked(head, node[head])
        node[head] = f"<{path}>"


@pytest.fixture
def pair(both):
    return Pair(*both)


# -- catalog and shipping: byte for byte ------------------------------------------------------------

CATALOG_REQUESTS = [
    "/api/categories",
    "/api/products",
    "/api/products?page=2",
    "/api/products?page=2&per_page=50",
    "/api/products?page=7&per_page=100",
    "/api/products?page=12&per_page=100",
    "/api/products?page=999",
    "/api/products?per_page=1",
    "/api/products?q=wireless",
    "/api/products?q=WIRELESS&page=2&per_page=5",
    "/api/products?q=waterproof&per_page=100",
    "/api/products?q=cotton&category=clothing",
    "/api/products?q=%25",
    "/api/products?q=hdmi+cable",
    "/api/products?q=HDMI%20Cable&per_page=3&page=2",
    "/api/products?q=%C2%B0c",
    "/api/products?q=",
    "/api/products?category=books&page=3&per_page=25",
    "/api/products?category=garden&per_page=100",
    "/api/products?category=no-such-category",
    "/api/products?q=zzqx-nothing",
    "/api/products/1",
    "/api/products/600",
    "/api/products/1200",
]
SHIPPING_REQUESTS = [("US", 0), ("US", 1), ("US", 1234), ("CA", 500), ("CA", 501), ("DE", 20_000),
                     ("FR", 1), ("IE", 99_999), ("SE", 4321), ("us", 250)]


def test_catalog_answers_are_byte_identical(pair):
    for path in CATALOG_REQUESTS:
        pair.identical("GET", path, 200)


def test_shipping_answers_are_byte_identical(pair):
    for country, weight in SHIPPING_REQUESTS:
        pair.identical("GET", f"/api/shipping/options?country={country}&weight_grams={weight}", 200)


# -- errors: byte for byte --------------------------------------------------------------------------

def _expired_token() -> str:
    now = int(time.time())
    with warnings.catch_warnings():  # the test secret is short on purpose
        warnings.simplefilter("ignore")
        return jwt.encode({"sub": "1", "iat": now - 7200, "exp": now - 60}, TEST_SECRET,
                          algorithm="HS256")


ERROR_REQUESTS = [
    # (method, path, status, request kwargs)
    ("GET", "/nope", 404, {}),
    ("GET", "/api/nope", 404, {}),
    ("POST", "/internal/products/lookup", 404, {"json": {"ids": [1]}}),
    ("GET", "/internal/carts/1/lines", 404, {}),
    ("GET", "/api/products/99999999", 404, {}),
    ("GET", "/api/products/abc", 404, {}),
    ("DELETE", "/api/products", 405, {}),
    ("POST", "/api/categories", 405, {}),
    ("GET", "/api/auth/login", 405, {}),
    ("GET", "/api/products?page=0", 400, {}),
    ("GET", "/api/products?page=abc", 400, {}),
    ("GET", "/api/products?per_page=101", 400, {}),
    ("GET", "/api/shipping/options?country=JP&weight_grams=100", 400, {}),
    ("GET", "/api/shipping/options?country=US", 400, {}),
    ("GET", "/api/shipping/options?weight_grams=100", 400, {}),
    ("GET", "/api/shipping/options?country=US&weight_grams=-1", 400, {}),
    ("POST", "/api/users", 400, {"data": b'{"email": ', "headers": {"Content-Type": "application/json"}}),
    ("POST", "/api/users", 400, {"json": [1, 2]}),
    ("POST", "/api/users", 400, {}),
    ("POST", "/api/users", 400, {"json": {"email": "nobody@example.com", "password": "long enough"}}),
    ("POST", "/api/users", 400, {"json": {"email": "not-an-email", "password": "long enough", "name": "N"}}),
    ("POST", "/api/users", 400, {"json": {"email": "a@example.com", "password": "short", "name": "N"}}),
    ("POST", "/api/users", 400, {"json": {"email": "a@example.com", "password": "long enough", "name": "n" * 101}}),
    ("POST", "/api/auth/login", 401, {"json": {"email": "nobody-at-all@example.com", "password": "whatever!"}}),
    ("POST", "/api/auth/login", 400, {"json": {"email": 5, "password": "whatever!"}}),
    ("GET", "/api/cart", 401, {}),
    ("GET", "/api/users/me", 401, {"headers": {"Authorization": "Bearer garbage"}}),
    ("GET", "/api/orders", 401, {"headers": {"Authorization": "Basic dXNlcjpwYXNz"}}),
    ("POST", "/api/orders/1/cancel", 401, {"headers": {"Authorization": "Bearer " + _expired_token()}}),
    ("PUT", "/api/cart/items/1", 401, {"json": {"quantity": 1}}),
    ("POST", "/api/users", 413, {"data": b" " * (LIMIT + 1), "fresh": True}),
    ("PUT", "/api/cart/items/1", 401, {"data": b" " * (LIMIT + 1), "fresh": True}),
]


def test_error_answers_are_byte_identical(pair):
    for method, path, status, kwargs in ERROR_REQUESTS:
        body = pair.identical(method, path, status, **kwargs)
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body


# -- a whole shopping journey -----------------------------------------------------------------------

ORDER_MASK = ["id", "created_at"]


def _order_body(card=None, address=None, option="standard") -> dict:
    return {"address": address or US_ADDRESS, "shipping_option": option, "payment": card or VALID_CARD}


def test_a_shopping_journey_gets_the_same_answers(pair):
    email = f"parity-{uuid.uuid4().hex[:12]}@example.com"  # one email, two separate databases
    registration = {"email": email, "password": "parity password", "name": "Parity Shopper"}

    # accounts
    users = pair.equivalent("POST", "/api/users", 201, ["id"], json=registration)
    pair.identical("POST", "/api/users", 409, json={**registration, "email": email.upper()})
    logins = pair.equivalent("POST", "/api/auth/login", 200, ["token", "user.id"],
                             json={"email": email, "password": "parity password"})
    for user, login in zip(users, logins):
        assert login["user"]["id"] == user["id"]
    pair.tokens = tuple(login["token"] for login in logins)
    pair.identical("POST", "/api/auth/login", 401, json={"email": email, "password": "wrong password"})
    mes = pair.equivalent("GET", "/api/users/me", 200, ["id"], auth=True)
    assert [m["id"] for m in mes] == [u["id"] for u in users]

    # pick products from the (identical) catalog
    catalog = pair.identical("GET", "/api/products?per_page=100", 200)["items"]
    plenty = [p for p in catalog if p["stock"] >= 20]
    first, second = plenty[0], plenty[1]
    scarce = next(p for p in catalog if 0 < p["stock"] < 99)
    sold_out = next((p for p in catalog if p["stock"] == 0), None)

    # cart
    empty_cart = pair.identical("GET", "/api/cart", 200, auth=True)
    assert empty_cart["items"] == []
    pair.identical("PUT", f"/api/cart/items/{first['id']}", 200, auth=True, json={"quantity": 2})
    pair.identical("PUT", f"/api/cart/items/{second['id']}", 200, auth=True, json={"quantity": 1})
    pair.identical("PUT", f"/api/cart/items/{first['id']}", 200, auth=True, json={"quantity": 3})
    pair.identical("PUT", f"/api/cart/items/{scarce['id']}", 409, auth=True,
                   json={"quantity": scarce["stock"] + 1})
    if sold_out:
        pair.identical("PUT", f"/api/cart/items/{sold_out['id']}", 409, auth=True, json={"quantity": 1})
    pair.identical("PUT", "/api/cart/items/99999999", 404, auth=True, json={"quantity": 1})
    pair.identical("PUT", f"/api/cart/items/{first['id']}", 400, auth=True, json={"quantity": 0})
    pair.identical("PUT", f"/api/cart/items/{first['id']}", 400, auth=True, json={"quantity": 100})
    pair.identical("PUT", f"/api/cart/items/{first['id']}", 400, auth=True, json={"quantity": "2"})
    pair.identical("DELETE", "/api/cart/items/99999999", 200, auth=True)
    pair.identical("DELETE", f"/api/cart/items/{second['id']}", 200, auth=True)
    pair.identical("PUT", f"/api/cart/items/{second['id']}", 200, auth=True, json={"quantity": 4})
    cart = pair.identical("GET", "/api/cart", 200, auth=True)
    assert [(i["product_id"], i["quantity"]) for i in cart["items"]] == [(first["id"], 3), (second["id"], 4)]

    # quotes
    for address, option in [(US_ADDRESS, "standard"), (US_ADDRESS, "express"),
                            (CA_ADDRESS, "express"), (DE_ADDRESS, "standard")]:
        pair.identical("POST", "/api/checkout/quote", 200, auth=True,
                       json={"address": address, "shipping_option": option})
    pair.identical("POST", "/api/checkout/quote", 400, auth=True,
                   json={"address": US_ADDRESS, "shipping_option": "teleport"})
    pair.identical("POST", "/api/checkout/quote", 400, auth=True,
                   json={"address": {**US_ADDRESS, "country": "JP"}, "shipping_option": "standard"})
    pair.identical("POST", "/api/checkout/quote", 400, auth=True,
                   json={"address": {**US_ADDRESS, "region": ""}, "shipping_option": "standard"})

    # failed checkouts: identical answers, and no trace
    today = dt.date.today()
    for card, status in [({**VALID_CARD, "card_number": "4000000000000002"}, 402),
                         ({**VALID_CARD, "card_number": "4000000000009995"}, 402),
                         ({**VALID_CARD, "card_number": "4242424242424241"}, 400),
                         ({**VALID_CARD, "exp_year": today.year - 1}, 400),
                         ({**VALID_CARD, "cvc": "12"}, 400)]:
        pair.identical("POST", "/api/orders", status, auth=True, json=_order_body(card))
    assert pair.identical("GET", "/api/cart", 200, auth=True) == cart
    pair.identical("GET", "/api/orders", 200, auth=True)
    pair.identical("GET", f"/api/products/{first['id']}", 200)

    # the order, and an idempotent retry
    key = {"Idempotency-Key": f"parity-{uuid.uuid4().hex}"}
    orders = pair.equivalent("POST", "/api/orders", 201, ORDER_MASK, auth=True, headers=key,
                             json=_order_body(address=CA_ADDRESS, option="express"))
    assert orders[0]["status"] == "paid"
    retries = pair.equivalent("POST", "/api/orders", 201, ORDER_MASK, auth=True, headers=key,
                              json=_order_body(option="standard"))
    assert retries[0] == orders[0] and retries[1] == orders[1]
    order_paths = tuple(f"/api/orders/{o['id']}" for o in orders)

    assert pair.identical("GET", "/api/cart", 200, auth=True) == empty_cart
    after_order = pair.identical("GET", f"/api/products/{first['id']}", 200)
    assert after_order["stock"] == first["stock"] - 3
    pair.identical("GET", f"/api/products/{second['id']}", 200)

    # reading orders
    listed = pair.equivalent("GET", "/api/orders", 200, ["items.*.id", "items.*.created_at"], auth=True)
    assert [o["id"] for o in listed[0]["items"]] == [orders[0]["id"]]
    pair.identical("GET", "/api/orders?page=2", 200, auth=True)
    pair.identical("GET", "/api/orders?per_page=0", 400, auth=True)
    got = pair.equivalent("GET", order_paths, 200, ORDER_MASK, auth=True)
    assert list(got) == list(orders)
    pair.identical("GET", "/api/orders/99999999", 404, auth=True)

    # cancelling
    cancelled = pair.equivalent("POST", tuple(p + "/cancel" for p in order_paths), 200, ORDER_MASK,
                                auth=True)
    assert cancelled[0]["status"] == "cancelled"
    assert cancelled[0]["payment"]["status"] == "refunded"
    pair.identical("POST", tuple(p + "/cancel" for p in order_paths), 409, auth=True)
    pair.equivalent("GET", order_paths, 200, ORDER_MASK, auth=True)
    restored = pair.identical("GET", f"/api/products/{first['id']}", 200)
    assert restored["stock"] == first["stock"]

    # an empty cart again
    pair.identical("POST", "/api/checkout/quote", 409, auth=True,
                   json={"address": US_ADDRESS, "shipping_option": "standard"})
    pair.identical("POST", "/api/orders", 409, auth=True, json=_order_body())
    pair.identical("GET", "/api/products?per_page=100", 200)
