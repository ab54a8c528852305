"""The small interfaces (ports) through which one capability uses another.

The monolith satisfies them with the capabilities' own service objects (an in-process call);
the microservices satisfy them with HTTP clients (``microservices/clients.py``). A capability
only ever sees these methods, never another capability's storage or internals.

Values crossing a port are plain JSON-shaped dicts and lists, so that both kinds of adapter
hand back exactly the same data.
"""
from typing import Protocol

Product = dict   # {"id", "sku", "name", "description", "category", "price_cents", "stock", "weight_grams"}
Line = tuple[int, int]   # (product_id, quantity)


class CatalogPort(Protocol):
    def products_by_id(self, ids: list[int]) -> dict[int, Product]:
        """The products that exist among ``ids`` (unknown ids are simply absent)."""

    def reserve(self, key: str, lines: list[Line]) -> None:
        """Take stock for all lines or none (raises OutOfStock naming the product).
        Repeating a key that is already reserved does nothing."""

    def release(self, key: str) -> None:
        """Give back the stock taken under ``key``; once only, unknown keys are ignored."""


class CartPort(Protocol):
    def lines(self, user_id: int) -> list[Line]:
        """The user's cart lines, in the order first added."""

    def clear(self, user_id: int, product_ids: list[int] | None = None) -> None:
        """Remove these products' lines (all lines if None): a checkout takes only what it
        ordered, not what was added while it ran."""


class TaxPort(Protocol):
    def tax_cents(self, subtotal_cents: int, country: str, region: str | None) -> int:
        ...


class ShippingPort(Protocol):
    def options(self, country: str, weight_grams: int) -> list[dict]:
        """[{"id", "name", "price_cents", "days_min", "days_max"}] for the destination."""


class BillingPort(Protocol):
    def charge(self, key: str, user_id: int, amount_cents: int, card: dict) -> dict:
        """Charge the card once per key: {"id", "card_last4", "status": "captured"}.
        Raises PaymentDeclined; repeating a key returns the first charge."""

    def refund(self, charge_id: int) -> dict:
        """Refund a charge; refunding twice is harmless. Returns the charge."""

    def void(self, key: str) -> None:
        """Undo the charge made under ``key``, if there is one (used when a charge's outcome
        is unknown, e.g. a timeout)."""
