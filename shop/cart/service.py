"""Cart rules: quantities 1..99, never more than the stock, prices always current."""
from shop.cart.store import CartStore
from shop.errors import NotFound, OutOfStock
from shop.ports import CatalogPort
from shop.pricing import cart_view


class CartService:
    """Also the in-process implementation of ``shop.ports.CartPort``."""

    def __init__(self, store: CartStore, catalog: CatalogPort):
        self.store = store
        self.catalog = catalog

    def view(self, user_id: int) -> dict:
        lines = self.store.lines(user_id)
        return cart_view(lines, self.catalog.products_by_id([pid for pid, _ in lines]))

    def set_quantity(self, user_id: int, product_id: int, quantity: int) -> dict:
        lines = self.store.lines(user_id)
        # One catalog lookup serves both the stock check and the priced cart we answer with.
        products = self.catalog.products_by_id([product_id] + [pid for pid, _ in lines])
        product = products.get(product_id)
        if product is None:
            raise NotFound(f"There is no product with id {product_id}.")
        if quantity > product["stock"]:
            raise OutOfStock(f"Only {product['stock']} of '{product['name']}' left in stock.")
        self.store.set_quantity(user_id, product_id, quantity)
        if product_id not in dict(lines):
            lines.append((product_id, quantity))
        else:
            lines = [(pid, quantity if pid == product_id else q) for pid, q in lines]
        return cart_view(lines, products)

    def remove(self, user_id: int, product_id: int) -> dict:
        self.store.remove(user_id, product_id)
        return self.view(user_id)

    # CartPort
    def lines(self, user_id: int) -> list[tuple[int, int]]:
        return self.store.lines(user_id)

    def clear(self, user_id: int, product_ids: list[int] | None = None) -> None:
        self.store.clear(user_id, product_ids)
