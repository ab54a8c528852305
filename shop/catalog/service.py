"""Catalog rules: browsing, search, and all-or-nothing stock reservations."""
from shop.catalog import seed
from shop.catalog.store import CatalogStore
from shop.errors import InvalidRequest, NotFound, OutOfStock


class CatalogService:
    """Also the in-process implementation of ``shop.ports.CatalogPort``."""

    def __init__(self, store: CatalogStore):
        self.store = store

    def seed(self) -> None:
        self.store.load_seed(seed.CATEGORIES, seed.products())

    def categories(self) -> list[dict]:
        return self.store.categories()

    def search(self, q: str | None, category: str | None, page: int, per_page: int) -> tuple[list[dict], int]:
        return self.store.search(q, category, limit=per_page, offset=(page - 1) * per_page)

    def product(self, product_id: int) -> dict:
        found = self.store.by_ids([product_id])
        if product_id not in found:
            raise NotFound(f"There is no product with id {product_id}.")
        return found[product_id]

    def products_by_id(self, ids: list[int]) -> dict[int, dict]:
        return self.store.by_ids(sorted(set(ids)))

    def reserve(self, key: str, lines: list[tuple[int, int]]) -> None:
        if any(quantity < 1 for _, quantity in lines):
            raise InvalidRequest("Every quantity to reserve must be at least 1.")
        with self.store.db.transaction():
            if self.store.reservation(key) is not None:
                # Already reserved (a retried call must not take stock twice), or already
                # released (a late call after its checkout gave up must not take stock at all).
                return
            for product_id, quantity in lines:
                if not self.store.take_stock(product_id, quantity):
                    product = self.store.by_ids([product_id]).get(product_id)
                    name = product["name"] if product else f"product {product_id}"
                    left = product["stock"] if product else 0
                    # Raising rolls back the stock already taken for earlier lines.
                    raise OutOfStock(f"Not enough stock for '{name}': {left} left.")
            self.store.add_reservation(key, lines)

    def release(self, key: str) -> None:
        with self.store.db.transaction():
            reservation = self.store.reservation(key)
            if reservation is None:
                # Released before it arrived (its reply timed out, or it is still on the way):
                # leave a marker so that the reservation, if it comes, takes nothing.
                self.store.add_reservation(key, [], status="released")
                return
            if reservation["status"] == "released":
                return
            for product_id, quantity in reservation["lines"]:
                self.store.give_back_stock(product_id, quantity)
            self.store.mark_released(key)
