"""Checkout: the one use case that spans capabilities, written once for both deployments.

It talks to the cart, catalog, tax, shipping and billing only through their ports. What
differs between the deployments is how a failure half-way is undone:

- ``atomic=True`` (the monolith): every capability shares one SQLite database, so the whole
  checkout runs in ONE transaction. Any failure rolls everything back: no compensation code runs.
- ``atomic=False`` (the microservices): each step commits in its own service's database, so the
  checkout is a saga. Each step that succeeded registers how to undo it; on failure those
  compensations run newest first (release the stock, refund or void the charge).
"""
import logging
import uuid
from contextlib import nullcontext

from shop.errors import CartEmpty, Conflict, InvalidRequest, NotFound, ServiceUnavailable
from shop.orders.store import OrderStore, order_dict
from shop.ports import BillingPort, CartPort, CatalogPort, ShippingPort, TaxPort
from shop.pricing import priced_lines

log = logging.getLogger(__name__)


class Checkout:
    def __init__(self, store: OrderStore, *, cart: CartPort, catalog: CatalogPort, tax: TaxPort,
                 shipping: ShippingPort, billing: BillingPort, atomic: bool, gather=None):
        self.store = store
        self.cart = cart
        self.catalog = catalog
        self.tax = tax
        self.shipping = shipping
        self.billing = billing
        self.atomic = atomic
        # How independent calls run: one after the other (in-process calls take microseconds),
        # or at the same time (network calls: the quote waits for the slower, not the sum).
        self.gather = gather or (lambda *calls: [call() for call in calls])

    def _unit(self):
        return self.store.db.transaction() if self.atomic else nullcontext()

    # -- quote --------------------------------------------------------------------------
    def _price(self, user_id: int, address: dict, option_id: str) -> dict:
        lines = self.cart.lines(user_id)
        products = self.catalog.products_by_id([pid for pid, _ in lines]) if lines else {}
        items = priced_lines(lines, products)
        weight = sum(products[i["product_id"]]["weight_grams"] * i["quantity"] for i in items)
        subtotal = sum(i["line_total_cents"] for i in items)
        country, region = address["country"], address.get("region") or None
        # Shipping and tax do not depend on each other: ask both at once.
        options, tax = self.gather(lambda: self.shipping.options(country, weight),
                                   lambda: self.tax.tax_cents(subtotal, country, region))
        option = next((o for o in options if o["id"] == option_id), None)
        if option is None:  # 400 comes before 409 cart_empty
            ids = ", ".join(o["id"] for o in options)
            raise InvalidRequest(f"'shipping_option' must be one of: {ids}.")
        if not items:
            raise CartEmpty("Your cart is empty; add something before checking out.")
        return {
            "items": items,
            "lines": [(i["product_id"], i["quantity"]) for i in items],
            "subtotal_cents": subtotal,
            "shipping_cents": option["price_cents"],
            "tax_cents": tax,
            "total_cents": subtotal + option["price_cents"] + tax,
            "shipping_option": option_id,
            "shipping_options": options,
        }

    def quote(self, user_id: int, address: dict, option_id: str) -> dict:
        q = self._price(user_id, address, option_id)
        return {k: q[k] for k in ("subtotal_cents", "shipping_cents", "tax_cents", "total_cents",
                                  "shipping_options")}

    # -- place an order -------------------------------------------------------------------
    def place(self, user_id: int, address: dict, option_id: str, card: dict,
              idempotency_key: str | None = None) -> tuple[dict, bool]:
        """(order, created). A replayed idempotency key returns the first order, created=False."""
        with self._unit():
            if idempotency_key is not None and not self.store.claim_key(user_id, idempotency_key):
                return self._replay(user_id, idempotency_key), False
            try:
                order = self._place(user_id, address, option_id, card, idempotency_key)
            except BaseException:
                if idempotency_key is not None and not self.atomic:
                    self._best_effort("drop idempotency key",
                                      lambda: self.store.drop_key(user_id, idempotency_key))
                raise
        # Emptying the cart is the last step and is not undone if it fails: the order is
        # placed and paid by then. In the monolith it already happened inside the transaction.
        if not self.atomic:
            ordered = [item["product_id"] for item in order["items"]]
            self._best_effort("clear cart", lambda: self.cart.clear(user_id, ordered))
        return order, True

    def _place(self, user_id, address, option_id, card, idempotency_key) -> dict:
        checkout_key = f"co-{uuid.uuid4().hex}"
        # (what, action, external): in the monolith a rollback undoes everything in the
        # database, so only effects outside it (money at the payment provider) are undone by hand.
        undo: list[tuple[str, callable, bool]] = []
        try:
            q = self._price(user_id, address, option_id)
            # Registered before the call: if the reply is lost (a timeout), the stock may have
            # been taken anyway, and releasing a key that took nothing is harmless.
            undo.append(("release stock", lambda: self.catalog.release(checkout_key), False))
            self.catalog.reserve(checkout_key, q["lines"])
            try:
                charge = self.billing.charge(checkout_key, user_id, q["total_cents"], card)
            except (ServiceUnavailable, Conflict) as err:
                # A timeout leaves the outcome unknown: the charge may have happened. Undo by key.
                undo.append(("void charge", lambda: self.billing.void(checkout_key), True))
                if isinstance(err, Conflict):
                    # Billing still holds a claim on this key: the worker making the charge died
                    # (our call was retried on a fresh connection) or is still at it. Voiding the
                    # key makes a charge that completes late refund itself; to the shopper, billing
                    # did not answer.
                    raise ServiceUnavailable("billing") from err
                raise
            undo.append(("refund charge", lambda: self.billing.refund(charge["id"]), True))
            with self.store.db.transaction():
                order_id = self.store.add(user_id, q, address, charge, checkout_key)
                if idempotency_key is not None:
                    self.store.bind_key(user_id, idempotency_key, order_id)
                if self.atomic:
                    self.cart.clear(user_id, [pid for pid, _ in q["lines"]])
            return order_dict(self.store.get(user_id, order_id))
        except BaseException:
            for what, action, external in reversed(undo):
                if external or not self.atomic:
                    self._best_effort(what, action)
            raise

    def replayed(self, user_id: int, idempotency_key: str) -> dict | None:
        """The order an earlier request with this key created, if any."""
        _, order_id = self.store.order_for_key(user_id, idempotency_key)
        return None if order_id is None else order_dict(self.store.get(user_id, order_id))

    def _replay(self, user_id: int, key: str) -> dict:
        _, order_id = self.store.order_for_key(user_id, key)
        if order_id is None:
            raise Conflict("A checkout with this Idempotency-Key is still in progress; retry shortly.")
        return order_dict(self.store.get(user_id, order_id))

    @staticmethod
    def _best_effort(what: str, action) -> None:
        try:
            action()
        except Exception:
            # Left for the audit (and a human) to reconcile; never hides the original error.
            log.exception("compensation failed: %s", what)

    # -- cancel ---------------------------------------------------------------------------
    def cancel(self, user_id: int, order_id: int) -> dict:
        with self._unit():
            row = self.store.get(user_id, order_id)
            if row is None:
                raise NotFound(f"There is no order with id {order_id}.")
            # 'cancelling' is a cancel that failed half-way: it may simply be carried on.
            if row["status"] == "cancelled" or (
                    row["status"] == "paid" and not self.store.set_status(order_id, "cancelling", expected="paid")):
                raise Conflict("This order is already cancelled.")
            # Both steps are idempotent; the money goes back last, since it cannot be taken
            # back again: a cancel that stops before it leaves the order 'cancelling', and
            # asking again finishes it.
            self.catalog.release(row["checkout_key"])
            self.billing.refund(row["charge_id"])
            if not self.store.set_status(order_id, "cancelled", expected="cancelling", payment_status="refunded"):
                raise Conflict("This order is already cancelled.")  # a racing cancel finished first
            return order_dict(self.store.get(user_id, order_id))

    # -- read -----------------------------------------------------------------------------
    def order(self, user_id: int, order_id: int) -> dict:
        row = self.store.get(user_id, order_id)
        if row is None:
            raise NotFound(f"There is no order with id {order_id}.")
        return order_dict(row)

    def orders(self, user_id: int, page: int, per_page: int) -> tuple[list[dict], int]:
        rows, total = self.store.page(user_id, per_page, (page - 1) * per_page)
        return [order_dict(r) for r in rows], total
