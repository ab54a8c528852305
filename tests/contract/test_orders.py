"""Orders, against both deployments: placing, listing, reading, cancelling, payment
validation and declines, and Idempotency-Key replays.

These tests change stock, so they only use products 900..1099 with plenty of stock, and
compare stock before and after rather than assuming a value."""
import datetime as dt
import re

import pytest

from shop.catalog.seed import products as seed_products
from tests.support.client import US_ADDRESS, VALID_CARD, error_code

SEED = {p["id"]: p for p in seed_products()}
PLENTY = [pid for pid in range(900, 1100) if SEED[pid]["stock"] >= 100]
ORDER_KEYS = {"id", "status", "items", "subtotal_cents", "shipping_cents", "tax_cents", "total_cents",
              "shipping_option", "address", "payment", "created_at"}
RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


def stocks(api, ids) -> dict[int, int]:
    return {pid: api.product(pid)["stock"] for pid in ids}


def cart_of(api, token) -> dict:
    r = api.get("/api/cart", token=token)
    assert r.status_code == 200, r.text
    return r.json()


def orders_of(api, token, **params) -> dict:
    r = api.get("/api/orders", token=token, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def placed(api, token, **kw) -> dict:
    r = api.place_order(token, **kw)
    assert r.status_code == 201, r.text
    return r.json()


def buyer(api, lines, prefix="buyer") -> dict:
    user = api.new_user(prefix)
    for pid, qty in lines:
        api.add_to_cart(user["token"], pid, qty)
    return user


def strings_in(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)
    elif isinstance(value, str):
        yield value


def assert_no_card_data(response, card):
    assert card["card_number"] not in response.text
    for s in strings_in(response.json()):
        assert card["card_number"] not in s
        assert s != card["cvc"]
        assert s not in ("card_number", "cvc", "exp_month", "exp_year")


def test_place_order_returns_the_exact_order_and_takes_stock(api):
    a, b = PLENTY[0], PLENTY[1]
    user = buyer(api, [(a, 2), (b, 1)], "place")
    token = user["token"]
    before = stocks(api, [a, b])
    cart = cart_of(api, token)
    q = api.post("/api/checkout/quote", token=token, json={"address": US_ADDRESS, "shipping_option": "express"})
    assert q.status_code == 200, q.text
    q = q.json()
    card = {**VALID_CARD, "card_number": "5555555555554444", "cvc": "7301"}

    r = api.place_order(token, card=card, option="express")
    assert r.status_code == 201, r.text
    order = r.json()
    assert set(order) == ORDER_KEYS
    assert isinstance(order["id"], int) and not isinstance(order["id"], bool)
    assert order["status"] == "paid"
    assert order["items"] == cart["items"]
    for k in ("subtotal_cents", "shipping_cents", "tax_cents", "total_cents"):
        assert order[k] == q[k], k
    assert order["shipping_option"] == "express"
    assert order["address"] == US_ADDRESS
    assert order["payment"] == {"card_last4": "4444", "status": "captured"}
    assert RFC3339_UTC.fullmatch(order["created_at"]), order["created_at"]
    created = dt.datetime.fromisoformat(order["created_at"].replace("Z", "+00:00"))
    assert created.utcoffset() == dt.timedelta(0)
    assert_no_card_data(r, card)

    # The cart is emptied, the stock taken, and the order can be read back the same.
    assert cart_of(api, token) == {"items": [], "item_count": 0, "subtotal_cents": 0}
    assert stocks(api, [a, b]) == {a: before[a] - 2, b: before[b] - 1}
    got = api.get(f"/api/orders/{order['id']}", token=token)
    assert got.status_code == 200, got.text
    assert got.json() == order
    assert_no_card_data(got, card)
    listed = api.get("/api/orders", token=token)
    assert listed.json() == {"items": [order], "page": 1, "per_page": 20, "total": 1}
    assert_no_card_data(listed, card)


def test_orders_require_a_token(api):
    for r in (api.get("/api/orders"), api.get("/api/orders/1"), api.post("/api/orders/1/cancel"),
              api.post("/api/orders", json={"address": US_ADDRESS, "shipping_option": "standard",
                                            "payment": VALID_CARD})):
        assert r.status_code == 401, r.text
        assert error_code(r) == "unauthorized"


def test_list_is_newest_first_and_paginated(api):
    user = api.new_user("list")
    token = user["token"]
    made = []
    for pid in PLENTY[2:5]:
        api.add_to_cart(token, pid, 1)
        made.append(placed(api, token))
    newest_first = list(reversed(made))
    assert [o["id"] for o in made] == sorted(o["id"] for o in made)

    assert orders_of(api, token) == {"items": newest_first, "page": 1, "per_page": 20, "total": 3}
    assert orders_of(api, token, per_page=2) == {"items": newest_first[:2], "page": 1, "per_page": 2, "total": 3}
    assert orders_of(api, token, per_page=2, page=2) == {"items": newest_first[2:], "page": 2, "per_page": 2, "total": 3}
    assert orders_of(api, token, per_page=2, page=3) == {"items": [], "page": 3, "per_page": 2, "total": 3}
    assert orders_of(api, token, per_page=1, page=2)["items"] == [newest_first[1]]
    assert orders_of(api, token, per_page=100)["per_page"] == 100
    # Each listed order reads back the same.
    for o in made:
        assert api.get(f"/api/orders/{o['id']}", token=token).json() == o


@pytest.mark.parametrize("params", [
    {"page": "0"}, {"page": "-1"}, {"page": "abc"}, {"page": "1.5"}, {"page": ""},
    {"per_page": "0"}, {"per_page": "101"}, {"per_page": "x"},
], ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
def test_bad_pagination_is_400(api, params):
    user = _reader(api)
    r = api.get("/api/orders", token=user["token"], params=params)
    assert r.status_code == 400, r.text
    assert error_code(r) == "invalid_request"
    assert next(iter(params)) in r.json()["error"]["message"]


_readers: dict[str, dict] = {}


def _reader(api) -> dict:
    """One order-less user per deployment for requests that must be rejected."""
    if api.base_url not in _readers:
        _readers[api.base_url] = api.new_user("reader")
    return _readers[api.base_url]


def test_another_users_order_is_404_and_unknown_ids_are_404(api):
    pid = PLENTY[5]
    alice = buyer(api, [(pid, 1)], "alice")
    order = placed(api, alice["token"])
    bob = _reader(api)
    before = stocks(api, [pid])

    for path in (f"/api/orders/{order['id']}", "/api/orders/999999999"):
        r = api.get(path, token=bob["token"])
        assert r.status_code == 404, r.text
        assert error_code(r) == "not_found"
    for path in (f"/api/orders/{order['id']}/cancel", "/api/orders/999999999/cancel"):
        r = api.post(path, token=bob["token"])
        assert r.status_code == 404, r.text
        assert error_code(r) == "not_found"
    assert orders_of(api, bob["token"])["total"] == 0
    r = api.get("/api/orders/999999999", token=alice["token"])
    assert r.status_code == 404
    assert error_code(r) == "not_found"

    # Bob's cancel attempt changed nothing.
    assert api.get(f"/api/orders/{order['id']}", token=alice["token"]).json() == order
    assert stocks(api, [pid]) == before


def test_cancel_refunds_returns_stock_and_a_second_cancel_is_409(api):
    a, b = PLENTY[6], PLENTY[7]
    before = stocks(api, [a, b])
    user = buyer(api, [(a, 3), (b, 1)], "cancel")
    order = placed(api, user["token"])
    assert stocks(api, [a, b]) == {a: before[a] - 3, b: before[b] - 1}

    r = api.post(f"/api/orders/{order['id']}/cancel", token=user["token"])
    assert r.status_code == 200, r.text
    cancelled = r.json()
    assert cancelled == {**order, "status": "cancelled",
                         "payment": {"card_last4": order["payment"]["card_last4"], "status": "refunded"}}
    assert stocks(api, [a, b]) == before
    assert api.get(f"/api/orders/{order['id']}", token=user["token"]).json() == cancelled
    assert orders_of(api, user["token"])["items"] == [cancelled]

    r = api.post(f"/api/orders/{order['id']}/cancel", token=user["token"])
    assert r.status_code == 409, r.text
    assert error_code(r) == "conflict"
    assert stocks(api, [a, b]) == before  # returned once only
    assert api.get(f"/api/orders/{order['id']}", token=user["token"]).json() == cancelled


@pytest.mark.parametrize("number,words", [
    ("4000000000000002", "card declined"),
    ("4000000000009995", "insufficient funds"),
])
def test_declined_card_is_402_and_leaves_no_trace(api, number, words):
    a, b = PLENTY[8], PLENTY[9]
    user = buyer(api, [(a, 2), (b, 1)], "declined")
    token = user["token"]
    cart = cart_of(api, token)
    before = stocks(api, [a, b])

    r = api.place_order(token, card={**VALID_CARD, "card_number": number})
    assert r.status_code == 402, r.text
    assert error_code(r) == "payment_declined"
    assert words in r.json()["error"]["message"].lower()
    assert number not in r.text

    assert orders_of(api, token) == {"items": [], "page": 1, "per_page": 20, "total": 0}
    assert stocks(api, [a, b]) == before
    assert cart_of(api, token) == cart
    # ... and the same cart can then be bought with a good card.
    order = placed(api, token)
    assert order["items"] == cart["items"]
    assert stocks(api, [a, b]) == {a: before[a] - 2, b: before[b] - 1}


def _last_month(today: dt.date) -> tuple[int, int]:
    return (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)


def _today_utc() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def _bad_cards() -> dict:
    year, month = _last_month(_today_utc())
    return {
        "luhn": ({**VALID_CARD, "card_number": "4242424242424241"}, "card_number"),
        "letters": ({**VALID_CARD, "card_number": "4242abcd42424242"}, "card_number"),
        "number-as-int": ({**VALID_CARD, "card_number": 4242424242424242}, "card_number"),
        "expired-last-month": ({**VALID_CARD, "exp_month": month, "exp_year": year}, "exp"),
        "exp_month-13": ({**VALID_CARD, "exp_month": 13}, "exp_month"),
        "exp_month-0": ({**VALID_CARD, "exp_month": 0}, "exp_month"),
        "exp_month-string": ({**VALID_CARD, "exp_month": "12"}, "exp_month"),
        "cvc-2-digits": ({**VALID_CARD, "cvc": "12"}, "cvc"),
        "cvc-5-digits": ({**VALID_CARD, "cvc": "12345"}, "cvc"),
        "cvc-int": ({**VALID_CARD, "cvc": 123}, "cvc"),
        "cvc-missing": ({k: v for k, v in VALID_CARD.items() if k != "cvc"}, "cvc"),
        "payment-not-object": ("4242424242424242", "payment"),
    }


def test_invalid_cards_are_400_and_leave_no_trace(api):
    pid = PLENTY[10]
    user = buyer(api, [(pid, 1)], "badcard")
    token = user["token"]
    cart = cart_of(api, token)
    before = stocks(api, [pid])
    for case, (card, field) in _bad_cards().items():
        r = api.post("/api/orders", token=token,
                     json={"address": US_ADDRESS, "shipping_option": "standard", "payment": card})
        assert r.status_code == 400, (case, r.text)
        assert error_code(r) == "invalid_request", case
        assert field in r.json()["error"]["message"], (case, r.json())
    r = api.post("/api/orders", token=token, json={"address": US_ADDRESS, "shipping_option": "standard"})
    assert r.status_code == 400, r.text
    assert "payment" in r.json()["error"]["message"]
    assert orders_of(api, token)["total"] == 0
    assert stocks(api, [pid]) == before
    assert cart_of(api, token) == cart


def test_a_card_expiring_this_month_is_accepted(api):
    today = _today_utc()
    user = buyer(api, [(PLENTY[11], 1)], "thismonth")
    card = {**VALID_CARD, "exp_month": today.month, "exp_year": today.year, "cvc": "1234"}
    order = placed(api, user["token"], card=card)
    assert order["payment"] == {"card_last4": "4242", "status": "captured"}


def test_same_idempotency_key_returns_the_first_order_and_charges_once(api):
    pid, other = PLENTY[12], PLENTY[13]
    before = stocks(api, [pid, other])
    user = buyer(api, [(pid, 2)], "idem")
    token = user["token"]
    first = api.place_order(token, key="order-attempt-1")
    assert first.status_code == 201, first.text

    # Something new in the cart, and a different body: the replay must not buy it.
    api.add_to_cart(token, other, 1)
    cart = cart_of(api, token)
    second = api.place_order(token, key="order-attempt-1", option="express",
                             address={**US_ADDRESS, "region": "NY"},
                             card={**VALID_CARD, "card_number": "5555555555554444"})
    assert second.status_code == 201, second.text
    assert second.json() == first.json()
    # "whatever the new body says": even a body that would be rejected replays the first order.
    third = api.place_order(token, key="order-attempt-1", card={**VALID_CARD, "card_number": "4000000000000002"})
    assert third.status_code == 201, third.text
    assert third.json() == first.json()
    fourth = api.place_order(token, key="order-attempt-1", card={**VALID_CARD, "cvc": "1"})
    assert fourth.status_code == 201, fourth.text
    assert fourth.json() == first.json()

    assert orders_of(api, token)["items"] == [first.json()]
    assert stocks(api, [pid, other]) == {pid: before[pid] - 2, other: before[other]}
    assert cart_of(api, token) == cart

    # A new key is a new order (of what is in the cart now).
    fresh = placed(api, token, key="order-attempt-2")
    assert fresh["id"] != first.json()["id"]
    assert orders_of(api, token)["total"] == 2
    assert stocks(api, [pid, other]) == {pid: before[pid] - 2, other: before[other] - 1}


def test_idempotency_keys_belong_to_one_user(api):
    pid = PLENTY[14]
    before = stocks(api, [pid])
    alice = buyer(api, [(pid, 1)], "ikalice")
    bob = buyer(api, [(pid, 1)], "ikbob")
    a = placed(api, alice["token"], key="shared-key")
    b = placed(api, bob["token"], key="shared-key")
    assert a["id"] != b["id"]
    assert orders_of(api, alice["token"])["items"] == [a]
    assert orders_of(api, bob["token"])["items"] == [b]
    assert stocks(api, [pid]) == {pid: before[pid] - 2}


def test_a_key_whose_attempt_was_declined_is_not_kept(api):
    pid = PLENTY[15]
    before = stocks(api, [pid])
    user = buyer(api, [(pid, 1)], "ikdecl")
    token = user["token"]
    r = api.place_order(token, key="retry-me", card={**VALID_CARD, "card_number": "4000000000000002"})
    assert r.status_code == 402, r.text
    assert error_code(r) == "payment_declined"
    assert orders_of(api, token)["total"] == 0
    assert stocks(api, [pid]) == before

    order = placed(api, token, key="retry-me")
    assert order["status"] == "paid"
    assert orders_of(api, token)["items"] == [order]
    assert stocks(api, [pid]) == {pid: before[pid] - 1}
    # The key is now bound to that order.
    api.add_to_cart(token, pid, 1)
    r = api.place_order(token, key="retry-me")
    assert r.status_code == 201, r.text
    assert r.json() == order
    assert stocks(api, [pid]) == {pid: before[pid] - 1}


def test_a_key_whose_attempt_was_invalid_is_not_kept(api):
    pid = PLENTY[16]
    user = buyer(api, [(pid, 1)], "ikbad")
    token = user["token"]
    r = api.place_order(token, key="k-400", card={**VALID_CARD, "cvc": "1"})
    assert r.status_code == 400, r.text
    r = api.place_order(token, key="k-400", option="overnight")
    assert r.status_code == 400, r.text
    assert placed(api, token, key="k-400")["status"] == "paid"
