"""The small interfaces (ports) through which one capability uses another.

The monolith satisfies them with the capabilities' own service objects (an in-process call);
the microservices satisfy them with HTTP clients (``microservices/clients.py``). A capability
only ever sees these methods, never another capability's storage or internals. Each port's
promises are checked by one contract suite against its fake, its service and its client
(tests/contract/test_ports.py).

Every write is atomic by itself (reserve takes all lines or none, a charge's claim and record
each commit whole). In the monolith the services share one database, and a write made inside
a checkout's unit of work joins that unit's transaction (shop/orders/unit_of_work.py:
``OneDatabase``); across services each commits on its own.

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
        Repeating a key that is already reserved, or already released, does nothing."""

    def release(self, key: str) -> None:
        """Give back the stock taken under ``key``, once only. A key not reserved yet is marked
        released, so that a reservation arriving later under it takes nothing (a saga releases
        a reservation whose reply was lost, and the reservation may still be on its way)."""


class CartPort(Protocol):
    def lines(self, user_id: int) -> list[Line]:
        """The user's cart lines, in the order first added."""

    def clear(self, user_id: int, product_ids: list[int] | None = None) -> None:
        """Remove these products' lines (all lines if None): a checkout takes only what it
        ordered, not what was added while it ran."""


class TaxPort(Protocol):
    def tax_cents(self, subtotal_cents: int, country: str, region: str | None) -> int:
        """Whole cents, never negative, never less for a larger subtotal; InvalidRequest for a
        destination without a rate."""


class ShippingPort(Protocol):
    def options(self, country: str, weight_grams: int) -> list[dict]:
        """[{"id", "name", "price_cents", "days_min", "days_max"}] for the destination, for any
        weight (a cart's, computed: no cap); InvalidRequest for a country the shop does not serve."""


class BillingPort(Protocol):
    def charge(self, key: str, user_id: int, amount_cents: int, card: dict) -> dict:
        """Charge the card once per key: {"id", "card_last4", "status": "captured"}.
        Raises PaymentDeclined (and keeps nothing: the key may be charged again); repeating a
        key returns the first charge."""

    def refund(self, charge_id: int) -> dict:
        """Refund a charge; refunding twice is harmless. Returns the charge."""

    def void(self, key: str) -> None:
        """Undo the charge made under ``key``: refund it, or, if there is none yet, refuse any
        later charge under the key (Conflict). Used when a charge's outcome is unknown (a timeout)."""
