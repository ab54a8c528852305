"""The error dialect every path speaks: bad bodies (400), the body limit (413), unknown routes
(404), wrong methods (405), which error wins when several apply, and X-Request-ID."""
import json
import re
import uuid

import pytest

from tests.support.client import US_ADDRESS, VALID_CARD, Api, error_code

LIMIT = 64 * 1024
_VALID_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


@pytest.fixture(scope="module")
def client(deployment):
    return Api(deployment.url)


@pytest.fixture(scope="module")
def user(client):
    """A user with an empty cart and no orders (every test here leaves it that way)."""
    return client.new_user("errors")


def padded(body: dict, size: int) -> bytes:
    """`body` as JSON, padded with trailing whitespace (still valid JSON) to exactly `size` bytes."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw.ljust(size)


def assert_error(r, status: int, code: str):
    assert r.status_code == status, f"expected {status} {code}, got {r.status_code}: {r.text[:300]}"
    assert r.headers["Content-Type"].startswith("application/json"), r.headers["Content-Type"]
    body = r.json()
    assert error_code(r) == code, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    assert r.headers.get("X-Request-ID"), "error response without X-Request-ID"


JSON = {"Content-Type": "application/json"}


def once(client: Api, method: str, path: str, **kwargs):
    """One request on a connection of its own. For bodies the server may answer without reading
    (413, or 401 first): gunicorn then closes the connection, so it must not be reused."""
    fresh = Api(client.base_url)
    try:
        return fresh.request(method, path, **kwargs)
    finally:
        fresh.session.close()

# -- 400: the body --------------------------------------------------------------------------------

BODY_ENDPOINTS = [  # (method, path, needs a token)
    ("POST", "/api/users", False),
    ("POST", "/api/auth/login", False),
    ("PUT", "/api/cart/items/1", True),
    ("POST", "/api/checkout/quote", True),
    ("POST", "/api/orders", True),
]
BAD_BODIES = {
    "truncated-json": b'{"email": ',
    "not-json": b"hello there",
    "single-quotes": b"{'quantity': 1}",
    "trailing-garbage": b'{"quantity": 1} x',
    "list": b'[{"quantity": 1}]',
    "empty-list": b"[]",
    "string": b'"text"',
    "number": b"42",
    "null": b"null",
    "boolean": b"true",
    "empty-body": b"",
    "whitespace-only": b"   \n",
    "invalid-utf8": b'{"quantity": "\xff\xfe"}',
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
@pytest.mark.parametrize("method,path,auth", BODY_ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in BODY_ENDPOINTS])
def test_a_body_that_is_not_a_json_object_is_400(client, user, method, path, auth, name):
    r = client.request(method, path, data=BAD_BODIES[name], headers=JSON,
                       token=user["token"] if auth else None)
    assert_error(r, 400, "invalid_request")


@pytest.mark.parametrize("method,path,auth", BODY_ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in BODY_ENDPOINTS])
def test_no_body_at_all_is_400(client, user, method, path, auth):
    r = client.request(method, path, token=user["token"] if auth else None)
    assert_error(r, 400, "invalid_request")


WRONG_FIELDS = [
    # (method, path, body, the field the message must name)
    ("POST", "/api/users", {"email": 5, "password": "long enough", "name": "N"}, "email"),
    ("POST", "/api/users", {"email": "x@example.com", "password": "long enough"}, "name"),
    ("POST", "/api/auth/login", {"email": "x@example.com"}, "password"),
    ("PUT", "/api/cart/items/1", {}, "quantity"),
    ("PUT", "/api/cart/items/1", {"quantity": "2"}, "quantity"),
    ("PUT", "/api/cart/items/1", {"quantity": 1.5}, "quantity"),
    ("PUT", "/api/cart/items/1", {"quantity": True}, "quantity"),
    ("PUT", "/api/cart/items/1", {"quantity": None}, "quantity"),
    ("PUT", "/api/cart/items/1", {"quantity": 0}, "quantity"),
    ("PUT", "/api/cart/items/1", {"quantity": 100}, "quantity"),
    ("PUT", "/api/cart/items/1", {"qty": 1}, "quantity"),
    ("POST", "/api/checkout/quote", {"shipping_option": "standard"}, "address"),
    ("POST", "/api/checkout/quote", {"address": "1 Market St", "shipping_option": "standard"}, "address"),
    ("POST", "/api/checkout/quote", {"address": US_ADDRESS}, "shipping_option"),
    ("POST", "/api/checkout/quote", {"address": {**US_ADDRESS, "city": 3}, "shipping_option": "standard"}, "city"),
    ("POST", "/api/orders", {"address": US_ADDRESS, "shipping_option": "standard"}, "payment"),
    ("POST", "/api/orders", {"address": US_ADDRESS, "shipping_option": "standard",
                             "payment": {**VALID_CARD, "cvc": 123}}, "cvc"),
]


@pytest.mark.parametrize("method,path,body,field", WRONG_FIELDS,
                         ids=[f"{m} {p} {f}-{i}" for i, (m, p, _b, f) in enumerate(WRONG_FIELDS)])
def test_a_missing_or_wrong_field_is_400_naming_the_field(client, user, method, path, body, field):
    token = user["token"] if path.startswith(("/api/cart", "/api/checkout", "/api/orders")) else None
    r = client.request(method, path, json=body, token=token)
    assert_error(r, 400, "invalid_request")
    assert field in r.json()["error"]["message"], r.json()


# -- 413: the body limit ----------------------------------------------------------------------------

def test_a_body_over_64_kib_is_413_and_has_no_effect(client):
    email = f"big-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": "long enough password", "name": "Big"}
    r = once(client, "POST", "/api/users", data=padded(body, LIMIT + 1), headers=JSON)
    assert_error(r, 413, "payload_too_large")
    # Nothing was registered: the same registration, small, succeeds.
    r = client.post("/api/users", json=body)
    assert r.status_code == 201, r.text


def test_a_much_larger_body_is_413(client):
    r = once(client, "POST", "/api/users", data=b"x" * (1024 * 1024), headers=JSON)
    assert_error(r, 413, "payload_too_large")


def test_a_body_of_exactly_64_kib_is_accepted(client, user):
    r = client.put("/api/cart/items/1", data=padded({"quantity": 1}, LIMIT), headers=JSON,
                   token=user["token"])
    assert r.status_code == 200, r.text
    r = client.delete("/api/cart/items/1", token=user["token"])
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []


def _chunks(data: bytes, size: int = 8192):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def test_a_chunked_body_is_read(client, user):
    """The control for the next test: a small body without Content-Length is understood."""
    r = client.put("/api/cart/items/1", data=_chunks(json.dumps({"quantity": 2}).encode()),
                   headers=JSON, token=user["token"])
    assert r.status_code == 200, r.text
    assert r.json()["item_count"] == 2
    r = client.delete("/api/cart/items/1", token=user["token"])
    assert r.status_code == 200, r.text


def test_a_chunked_body_over_64_kib_is_413(client):
    """Without a Content-Length header the limit must still hold (not be silently truncated)."""
    email = f"chunked-{uuid.uuid4().hex[:12]}@example.com"
    body = padded({"email": email, "password": "long enough password", "name": "Chunked"},
                  LIMIT + 4096)
    r = once(client, "POST", "/api/users", data=_chunks(body), headers=JSON)
    assert_error(r, 413, "payload_too_large")


# -- which error wins -------------------------------------------------------------------------------

@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"], ids=["no-token", "bad-token"])
@pytest.mark.parametrize("method,path", [("PUT", "/api/cart/items/1"), ("POST", "/api/orders"),
                                         ("POST", "/api/checkout/quote")])
def test_401_comes_before_413(client, method, path, authorization):
    headers = dict(JSON)
    if authorization:
        headers["Authorization"] = authorization
    r = once(client, method, path, data=padded({"quantity": 1}, LIMIT + 1), headers=headers)
    assert_error(r, 401, "unauthorized")


def test_413_comes_before_400(client, user):
    r = once(client, "POST", "/api/users", data=b"{not json" + b"x" * LIMIT, headers=JSON)
    assert_error(r, 413, "payload_too_large")
    r = once(client, "PUT", "/api/cart/items/1", data=padded({"quantity": 0}, LIMIT + 1),
             headers=JSON, token=user["token"])
    assert_error(r, 413, "payload_too_large")
    r = once(client, "POST", "/api/orders", data=padded({}, LIMIT + 1), headers=JSON,
             token=user["token"])
    assert_error(r, 413, "payload_too_large")


def test_413_comes_before_404(client, user):
    r = once(client, "PUT", "/api/cart/items/999999999", data=padded({"quantity": 1}, LIMIT + 1),
             headers=JSON, token=user["token"])
    assert_error(r, 413, "payload_too_large")


def test_400_comes_before_404(client, user):
    r = client.put("/api/cart/items/999999999", json={"quantity": 0}, token=user["token"])
    assert_error(r, 400, "invalid_request")
    r = client.put("/api/cart/items/999999999", json={"quantity": 1}, token=user["token"])
    assert_error(r, 404, "not_found")


def test_400_comes_before_409(client, user):
    """The user's cart is empty (409 cart_empty), but a bad request is reported first."""
    r = client.post("/api/checkout/quote", json={"address": US_ADDRESS, "shipping_option": "standard"},
                    token=user["token"])
    assert_error(r, 409, "cart_empty")
    r = client.post("/api/checkout/quote", json={"address": {**US_ADDRESS, "country": "JP"},
                                                 "shipping_option": "standard"}, token=user["token"])
    assert_error(r, 400, "invalid_request")
    r = client.post("/api/orders", json={"address": US_ADDRESS, "shipping_option": "standard",
                                         "payment": {**VALID_CARD, "card_number": "4242424242424241"}},
                    token=user["token"])
    assert_error(r, 400, "invalid_request")


# -- 404 and 405 ------------------------------------------------------------------------------------

UNKNOWN_ROUTES = [
    ("GET", "/nope", None),
    ("GET", "/api/nope", None),
    ("POST", "/api/nope", {}),
    ("GET", "/api", None),
    ("GET", "/api/products/", None),
    ("GET", "/internal/products/lookup", None),
    ("POST", "/internal/products/lookup", {"ids": [1]}),
    ("POST", "/internal/reservations", {"key": "k", "lines": [[1, 1]]}),
    ("POST", "/internal/reservations/release", {"key": "k"}),
    ("GET", "/internal/carts/1/lines", None),
    ("POST", "/internal/carts/1/clear", {}),
    ("POST", "/internal/charges", {}),
    ("POST", "/internal/charges/void", {}),
    ("POST", "/internal/charges/1/refund", {}),
    ("GET", "/internal/tax?country=US&region=CA&subtotal_cents=100", None),
    ("GET", "/internal/shipping/options?country=US&weight_grams=100", None),
    ("GET", "/internal/users/1", None),
    ("GET", "/metrics", None),
    ("GET", "/static/x", None),
]


@pytest.mark.parametrize("method,path,body", UNKNOWN_ROUTES,
                         ids=[f"{m} {p}" for m, p, _ in UNKNOWN_ROUTES])
def test_unknown_routes_are_json_404(client, method, path, body):
    r = client.request(method, path, json=body)
    assert_error(r, 404, "not_found")


WRONG_METHODS = [  # (method, path, needs a token)
    ("DELETE", "/api/products", False),
    ("POST", "/api/products", False),
    ("PUT", "/api/products/1", False),
    ("POST", "/api/categories", False),
    ("DELETE", "/api/categories", False),
    ("GET", "/api/users", False),
    ("GET", "/api/auth/login", False),
    ("POST", "/api/shipping/options", False),
    ("DELETE", "/api/users/me", True),
    ("PATCH", "/api/cart", True),
    ("GET", "/api/cart/items/1", True),
    ("GET", "/api/checkout/quote", True),
    ("PUT", "/api/orders", True),
    ("GET", "/api/orders/1/cancel", True),
]


@pytest.mark.parametrize("method,path,auth", WRONG_METHODS, ids=[f"{m} {p}" for m, p, _ in WRONG_METHODS])
def test_a_wrong_method_is_json_405(client, user, method, path, auth):
    r = client.request(method, path, token=user["token"] if auth else None)
    assert_error(r, 405, "method_not_allowed")


# -- X-Request-ID -----------------------------------------------------------------------------------

# Requests that end in each kind of answer: the id must be there whatever happens.
SAMPLE_REQUESTS = {
    "200": ("GET", "/api/categories", {}),
    "400": ("GET", "/api/products", {"params": {"page": "0"}}),
    "401": ("GET", "/api/cart", {}),
    "404": ("GET", "/nope", {}),
    "405": ("DELETE", "/api/products", {}),
    "413": ("POST", "/api/users", {"data": b" " * (LIMIT + 1)}),
}
VALID_IDS = {
    "uuid-like": "3f2b8c1e-aaaa-4bbb-8ccc-123456789abc",
    "one-char": "x",
    "128-chars": "r" * 128,
    "every-visible-ascii": "".join(chr(c) for c in range(0x21, 0x7f)),
}
INVALID_IDS = {
    "empty": "",
    "129-chars": "r" * 129,
    "with-space": "has space",
    "with-tab": "has\ttab",
    "non-ascii": "caf\xe9".encode("latin-1"),
}


@pytest.mark.parametrize("kind", list(SAMPLE_REQUESTS))
@pytest.mark.parametrize("name", list(VALID_IDS))
def test_a_valid_request_id_is_echoed(client, kind, name):
    method, path, kwargs = SAMPLE_REQUESTS[kind]
    r = once(client, method, path, headers={"X-Request-ID": VALID_IDS[name]}, **kwargs)
    assert r.status_code == int(kind), r.text
    assert r.headers.get("X-Request-ID") == VALID_IDS[name]


@pytest.mark.parametrize("kind", list(SAMPLE_REQUESTS))
def test_a_new_request_id_is_made_when_none_is_sent(client, kind):
    method, path, kwargs = SAMPLE_REQUESTS[kind]
    ids = []
    for _ in range(2):
        r = once(client, method, path, **kwargs)
        assert r.status_code == int(kind), r.text
        ids.append(r.headers.get("X-Request-ID"))
    for rid in ids:
        assert rid and _VALID_REQUEST_ID.fullmatch(rid), ids
    assert ids[0] != ids[1], "the same id for two requests"


@pytest.mark.parametrize("kind", list(SAMPLE_REQUESTS))
@pytest.mark.parametrize("name", list(INVALID_IDS))
def test_an_invalid_request_id_is_replaced(client, kind, name):
    method, path, kwargs = SAMPLE_REQUESTS[kind]
    sent = INVALID_IDS[name]
    r = once(client, method, path, headers={"X-Request-ID": sent}, **kwargs)
    assert r.status_code == int(kind), r.text
    rid = r.headers.get("X-Request-ID")
    assert rid and _VALID_REQUEST_ID.fullmatch(rid), rid
    assert rid != (sent.decode("latin-1") if isinstance(sent, bytes) else sent)
    assert rid.strip() not in ("has", "r" * 128), "a truncated copy of the invalid id"


def test_request_ids_on_authenticated_requests(client, user):
    r = client.get("/api/users/me", token=user["token"], headers={"X-Request-ID": "me-123"})
    assert r.status_code == 200
    assert r.headers["X-Request-ID"] == "me-123"
    r = client.post("/api/checkout/quote", token=user["token"], headers={"X-Request-ID": "quote-9"},
                    json={"address": US_ADDRESS, "shipping_option": "standard"})
    assert_error(r, 409, "cart_empty")
    assert r.headers["X-Request-ID"] == "quote-9"
