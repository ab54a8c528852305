"""The priced line, shared by the cart and by orders: both show lines exactly this way."""


def priced_lines(lines: list[tuple[int, int]], products: dict[int, dict]) -> list[dict]:
    """Lines as the API shows them, at today's catalog price. Vanished products are left out."""
    items = []
    for product_id, quantity in lines:
        product = products.get(product_id)
        if product is None:
            continue
        items.append({"product_id": product_id, "name": product["name"],
                      "unit_price_cents": product["price_cents"], "quantity": quantity,
                      "line_total_cents": product["price_cents"] * quantity})
    return items


def cart_view(lines: list[tuple[int, int]], products: dict[int, dict]) -> dict:
    items = priced_lines(lines, products)
    return {"items": items, "item_count": sum(i["quantity"] for i in items),
            "subtotal_cents": sum(i["line_total_cents"] for i in items)}
