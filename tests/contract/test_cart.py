"""The cart, against both deployments: shape, quantities, ordering, validation, isolation.

Cart tests never change stock. They use products 600..699 (see the seed), and always a fresh
user, since the deployments are shared by the whole session."""
import pytest

from shop.catalog.seed import products as seed_products
from tests.support.client import error_code

SEED = {p["id"]: p for p in seed_products()}


def plenty(lo: int, hi: int, n: int, min_stock: int = 100) -> list[int]:
    """n product ids in [lo, hi] with at least min_stock in the seed (so never sold out by tests)."""
    ids = [pid for pid in range(lo, hi + 1) if SEED[pid]["stock"] >= min_stock]
    assert len(ids) >= n
    return ids[:n]


def line(product: dict, quantity: int) -> dict:
    return {"product_id": product["id"], "name": product["name"],
            "unit_price_cents": product["price_cents"], "quantity": quantity,
            "line_total_cents": product["price_cents"] * quantity}


def expected_cart(lines: list[dict]) -> dict:
    return {"items": lines, "item_count": sum(x["quantity"] for x in lines),
            "subtotal_cents": sum(x["line_total_cents"] for x in lines)}


_validation_users: dict[str, dict] = {}


def validation_user(api) -> dict:
    """One user per deployment for tests whose requests are all rejected (their cart stays empty)."""
    if api.base_url not in _validation_users:
        _validation_users[api.base_url] = api.new_user("cartval")
    return _validation_users[api.base_url]


def get_cart(api, token) -> dict:
    r = api.get("/api/cart", token=token)
    assert r.status_code == 200, r.text
    return r.json()


def test_cart_requires_a_token(api):
    for r in (api.get("/api/cart"), api.put(f"/api/cart/items/{plenty(600, 699, 1)[0]}", json={"quantity": 1}),
              api.delete(f"/api/cart/items/{plenty(600, 699, 1)[0]}"),
              api.get("/api/cart", token="not-a-token")):
        assert r.status_code == 401, r.text
        assert error_code(r) == "unauthorized"


def test_a_new_users_cart_is_empty(api):
    user = api.new_user("cart")
    assert get_cart(api, user["token"]) == {"items": [], "item_count": 0, "subtotal_cents": 0}


def test_put_returns_the_cart_with_exact_lines_count_and_subtotal(api):
    user = api.new_user("cart")
    a, b = (api.product(pid) for pid in plenty(600, 699, 2))
    r = api.put(f"/api/cart/items/{a['id']}", token=user["token"], json={"quantity": 3})
    assert r.status_code == 200, r.text
    assert r.json() == expected_cart([line(a, 3)])

    r = api.put(f"/api/cart/items/{b['id']}", token=user["token"], json={"quantity": 2})
    assert r.status_code == 200, r.text
    want = expected_cart([line(a, 3), line(b, 2)])
    assert r.json() == want
    assert r.json()["item_count"] == 5
    assert r.json()["subtotal_cents"] == 3 * a["price_cents"] + 2 * b["price_cents"]
    assert get_cart(api, user["token"]) == want


def test_put_again_replaces_the_quantity(api):
    user = api.new_user("cart")
    p = api.product(plenty(600, 699, 1)[0])
    api.add_to_cart(user["token"], p["id"], 2)
    cart = api.add_to_cart(user["token"], p["id"], 5)
    assert cart == expected_cart([line(p, 5)])
    cart = api.add_to_cart(user["token"], p["id"], 1)
    assert cart == expected_cart([line(p, 1)])
    assert get_cart(api, user["token"]) == expected_cart([line(p, 1)])


def test_lines_stay_in_the_order_first_added(api):
    user = api.new_user("cart")
    ids = plenty(600, 699, 3)
    order = [ids[2], ids[0], ids[1]]  # deliberately not id order
    for pid in order:
        api.add_to_cart(user["token"], pid, 1)
    # Changing the quantity of the first line does not move it.
    cart = api.add_to_cart(user["token"], order[0], 4)
    assert [x["product_id"] for x in cart["items"]] == order
    assert [x["product_id"] for x in get_cart(api, user["token"])["items"]] == order
    assert [x["quantity"] for x in get_cart(api, user["token"])["items"]] == [4, 1, 1]


def test_delete_removes_the_item_and_deleting_an_absent_item_is_200(api):
    user = api.new_user("cart")
    a, b, c = (api.product(pid) for pid in plenty(600, 699, 3))
    api.add_to_cart(user["token"], a["id"], 2)
    api.add_to_cart(user["token"], b["id"], 1)

    r = api.delete(f"/api/cart/items/{a['id']}", token=user["token"])
    assert r.status_code == 200, r.text
    assert r.json() == expected_cart([line(b, 1)])
    assert get_cart(api, user["token"]) == expected_cart([line(b, 1)])

    # c was never in the cart, a no longer is: both are fine and change nothing.
    for pid in (c["id"], a["id"]):
        r = api.delete(f"/api/cart/items/{pid}", token=user["token"])
        assert r.status_code == 200, r.text
        assert r.json() == expected_cart([line(b, 1)])

    r = api.delete(f"/api/cart/items/{b['id']}", token=user["token"])
    assert r.status_code == 200, r.text
    assert r.json() == {"items": [], "item_count": 0, "subtotal_cents": 0}


@pytest.mark.parametrize("body", [
    {"quantity": 0}, {"quantity": -1}, {"quantity": 100}, {"quantity": "2"}, {"quantity": 1.5},
    {"quantity": 2.0}, {"quantity": True}, {"quantity": None}, {"quantity": [1]}, {},
], ids=["zero", "negative", "100", "string", "float", "float-2.0", "true", "null", "list", "missing"])
def test_bad_quantity_is_400_naming_the_field(api, body):
    user = validation_user(api)
    pid = plenty(600, 699, 1)[0]
    r = api.put(f"/api/cart/items/{pid}", token=user["token"], json=body)
    assert r.status_code == 400, r.text
    assert error_code(r) == "invalid_request"
    assert "quantity" in r.json()["error"]["message"]
    assert get_cart(api, user["token"])["items"] == []


def test_malformed_or_non_object_body_is_400(api):
    user = validation_user(api)
    pid = plenty(600, 699, 1)[0]
    for raw in (b"{not json", b"[1]", b"3", b""):
        r = api.put(f"/api/cart/items/{pid}", token=user["token"], data=raw,
                    headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (raw, r.text)
        assert error_code(r) == "invalid_request"
    assert get_cart(api, user["token"])["items"] == []


def test_quantity_99_is_accepted(api):
    user = api.new_user("cart")
    p = api.product(plenty(600, 699, 1, min_stock=150)[0])
    assert p["stock"] >= 99
    assert api.add_to_cart(user["token"], p["id"], 99) == expected_cart([line(p, 99)])


def test_unknown_product_is_404(api):
    user = validation_user(api)
    for pid in (1201, 999999):
        r = api.put(f"/api/cart/items/{pid}", token=user["token"], json={"quantity": 1})
        assert r.status_code == 404, r.text
        assert error_code(r) == "not_found"
    assert get_cart(api, user["token"])["items"] == []


def test_quantity_above_stock_is_409_out_of_stock_naming_the_product(api):
    user = api.new_user("cart")
    # A product with some but fewer than 99 in stock, so stock + 1 is a valid quantity.
    pid = next(p for p in range(600, 700) if 20 <= SEED[p]["stock"] <= 90)
    p = api.product(pid)
    r = api.put(f"/api/cart/items/{pid}", token=user["token"], json={"quantity": p["stock"] + 1})
    assert r.status_code == 409, r.text
    assert error_code(r) == "out_of_stock"
    assert p["name"] in r.json()["error"]["message"]
    assert get_cart(api, user["token"])["items"] == []
    # Exactly the stock is fine.
    assert api.add_to_cart(user["token"], pid, p["stock"]) == expected_cart([line(p, p["stock"])])


def test_sold_out_product_cannot_be_added(api):
    user = validation_user(api)
    pid = next(p for p in range(600, 1201) if SEED[p]["stock"] == 0)
    p = api.product(pid)
    assert p["stock"] == 0
    r = api.put(f"/api/cart/items/{pid}", token=user["token"], json={"quantity": 1})
    assert r.status_code == 409, r.text
    assert error_code(r) == "out_of_stock"
    assert p["name"] in r.json()["error"]["message"]
    assert get_cart(api, user["token"])["items"] == []


def test_carts_are_per_user(api):
    alice, bob = api.new_user("alice"), api.new_user("bob")
    a, b = (api.product(pid) for pid in plenty(600, 699, 2))
    api.add_to_cart(alice["token"], a["id"], 2)
    alice_cart = expected_cart([line(a, 2)])

    # Bob sees his own (empty) cart, not Alice's.
    assert get_cart(api, bob["token"]) == {"items": [], "item_count": 0, "subtotal_cents": 0}
    # Bob changing and removing the same product touches only his cart.
    assert api.add_to_cart(bob["token"], a["id"], 7) == expected_cart([line(a, 7)])
    assert api.add_to_cart(bob["token"], b["id"], 1) == expected_cart([line(a, 7), line(b, 1)])
    assert get_cart(api, alice["token"]) == alice_cart
    r = api.delete(f"/api/cart/items/{a['id']}", token=bob["token"])
    assert r.status_code == 200
    assert r.json() == expected_cart([line(b, 1)])
    assert get_cart(api, alice["token"]) == alice_cart
