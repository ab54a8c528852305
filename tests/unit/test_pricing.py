"""Priced lines and the cart view (shop/pricing.py): shared by the cart and by orders."""
from shop.pricing import cart_view, priced_lines

PRODUCTS = {
    1: {"id": 1, "name": "Mug", "price_cents": 1250},
    2: {"id": 2, "name": "Tee", "price_cents": 1999},
    3: {"id": 3, "name": "Pen", "price_cents": 0},
}


def test_priced_lines_keep_order_and_multiply():
    assert priced_lines([(2, 3), (1, 1)], PRODUCTS) == [
        {"product_id": 2, "name": "Tee", "unit_price_cents": 1999, "quantity": 3, "line_total_cents": 5997},
        {"product_id": 1, "name": "Mug", "unit_price_cents": 1250, "quantity": 1, "line_total_cents": 1250},
    ]


def test_vanished_products_are_left_out():
    assert [i["product_id"] for i in priced_lines([(9, 1), (1, 2), (8, 5)], PRODUCTS)] == [1]


def test_price_is_todays_catalog_price():
    cheaper = {1: {**PRODUCTS[1], "price_cents": 1000}}
    assert priced_lines([(1, 2)], cheaper)[0]["line_total_cents"] == 2000


def test_cart_view_totals():
    view = cart_view([(1, 2), (2, 1), (3, 4), (99, 7)], PRODUCTS)
    assert view["item_count"] == 7                     # the vanished product's 7 do not count
    assert view["subtotal_cents"] == 2 * 1250 + 1999
    assert [i["product_id"] for i in view["items"]] == [1, 2, 3]
    assert set(view) == {"items", "item_count", "subtotal_cents"}


def test_empty_cart_view():
    assert cart_view([], PRODUCTS) == {"items": [], "item_count": 0, "subtotal_cents": 0}
    assert priced_lines([], {}) == []
