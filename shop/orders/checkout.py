"""Checkout: the one use case that spans capabilities, written once for both deployments.

It talks to the cart, catalog, tax, shipping and billing only through their ports, and to
its storage through a unit of work (``shop/orders/unit_of_work.py``), which each deployment's
bootstrap picks: ``OneDatabase`` in the monolith (the shop's own steps grouped in
transactions of its one database), ``Saga`` in the microservices (each step commits in its
own service; compensations undo a failure half-way). The steps, their order and their undos
are the same in both.

A journal entry in the orders database is written before any effect outside it and closed by
a compare-and-set in the transaction that records the order. A checkout whose worker died,
or whose undo failed, stays in the journal for ``shop/orders/recovery.py``.
"""
import logging
import time
import uuid

from shop.errors import CartEmpty, Conflict, InvalidRequest, NotFound, PaymentDeclined, ServiceUnavailable
from shop.orders.owners import Processes
from shop.orders.store import order_dict
from shop.orders.unit_of_work import Compensation, UnitOfWork
from shop.ports import BillingPort, CartPort, CatalogPort, ShippingPort, TaxPort
from shop.pricing import priced_lines

log = logging.getLogger(__name__)


class _NoSchedule:
    def checkout_started(self) -> None:
        pass


class Checkout:
    def __init__(self, uow: UnitOfWork, *, cart: CartPort, catalog: CatalogPort, tax: TaxPort,
                 shipping: ShippingPort, billing: BillingPort, gather=None, schedule=None,
                 clock=time.time, processes=None):
        self.uow, self.store = uow, uow.orders
        self.cart = cart
        self.catalog = catalog
        self.tax = tax
        self.shipping = shipping
        self.billing = billing
        # How independent calls run: one after the other (in-process calls take microseconds),
        # or at the same time (network calls: the quote waits for the slower, not the sum).
        self.gather = gather or (lambda *calls: [call() for call in calls])
        # Told of every checkout, to run recovery now and then (shop/orders/recovery_schedule.py).
        self.schedule = schedule or _NoSchedule()
        self.clock = clock
        # Who runs a checkout (its journal entry says), so that a dead one is seen at once.
        self.processes = processes or Processes()

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
        """(order, created). A replayed idempotency key returns the first order, created=False.

        The steps: claim the idempotency key and open the journal entry; price the cart and
        reserve the stock; charge the card; close the journal entry (compare-and-set: a
        recovery that took the checkout over wins instead), record the order, bind the key;
        empty the cart. The payment provider (which may be slow) is never called inside a
        database transaction, so that a slow charge holds no lock: in one database the steps
        before it share one transaction and the steps after it another.

        A failure after the journal entry was written is undone here (the entry marks the
        checkout 'aborting' first); what cannot be undone now (a service is down, the worker
        dies) is left in the journal for recovery.
        """
        self.schedule.checkout_started()
        checkout_key = f"co-{uuid.uuid4().hex}"
        undo: list[Compensation] = []
        try:
            with self.uow.local_steps():
                with self.uow.orders_transaction():
                    if idempotency_key is not None and not self.store.claim_key(user_id, idempotency_key):
                        return self._replay(user_id, idempotency_key), False
                    self.store.open_checkout(checkout_key, user_id, idempotency_key, self.clock(),
                                             self.processes.me())
                q = self._price(user_id, address, option_id)
                # Registered before the call: if the reply is lost (a timeout), the stock may
                # have been taken anyway, and releasing a key that took nothing is harmless.
                undo.append(Compensation("release stock", lambda: self.catalog.release(checkout_key)))
                self.catalog.reserve(checkout_key, q["lines"])
            charge = self._charge(checkout_key, user_id, q["total_cents"], card, undo)
            with self.uow.local_steps():
                with self.uow.orders_transaction():
                    if not self.store.finish_checkout(checkout_key):
                        # Recovery took this checkout over (it ran longer than checkout_recover_after)
                        # and is undoing it: the charge is voided, the stock released.
                        raise ServiceUnavailable("checkout", message=(
                            "The checkout took too long and was called off; the card was not charged. "
                            "Please try again."))
                    order_id = self.store.add(user_id, q, address, charge, checkout_key)
                    if idempotency_key is not None:
                        self.store.bind_key(user_id, idempotency_key, order_id)
                # Only the ordered lines: what was added while the checkout ran stays.
                ordered = [pid for pid, _ in q["lines"]]
                self.uow.final_step("clear cart", lambda: self.cart.clear(user_id, ordered))
        except BaseException:
            self._abort(checkout_key, user_id, idempotency_key, undo)
            raise
        return order_dict(self.store.get(user_id, order_id)), True

    def _charge(self, checkout_key: str, user_id: int, amount_cents: int, card: dict, undo: list) -> dict:
        try:
            charge = self.billing.charge(checkout_key, user_id, amount_cents, card)
        except PaymentDeclined:
            raise  # nothing was charged
        except BaseException as err:
            # A timeout (or any other failure) leaves the outcome unknown: the charge may have
            # happened. Undo by key: a charge that completes late then refunds itself.
            undo.append(Compensation("void charge", lambda: self.billing.void(checkout_key), external=True))
            if isinstance(err, Conflict):
                # Billing still holds a claim on this key: the worker making the charge died
                # (our call was retried on a fresh connection) or is still at it. To the
                # shopper, billing did not answer.
                raise ServiceUnavailable("billing") from err
            raise
        undo.append(Compensation("refund charge", lambda: self.billing.refund(charge["id"]), external=True))
        return charge

    def _abort(self, checkout_key: str, user_id: int, idempotency_key: str | None, undo: list) -> None:
        """Undo a checkout that failed after its journal entry was written. Never raises: the
        original error is the one the shopper sees. (A failure before the entry was committed
        left nothing: in one database it was rolled back with everything else.)"""
        try:
            if not self.store.abort_checkout(checkout_key):
                return  # no entry (rolled back), or recovery took it over first and undoes it
        except Exception:
            log.exception("could not mark checkout %s aborting; recovery will undo it", checkout_key)
            return

        def close(complete: bool) -> None:
            if idempotency_key is not None:
                self.store.drop_key(user_id, idempotency_key, checkout_key)
            if complete:
                self.store.forget_checkout(checkout_key)
        # Whatever failed stays in the journal ('aborting') and the next recovery finishes it.
        self.uow.undo(undo, close)

    def replayed(self, user_id: int, idempotency_key: str) -> dict | None:
        """The order an earlier request with this key created, if any."""
        _, order_id = self.store.order_for_key(user_id, idempotency_key)
        return None if order_id is None else order_dict(self.store.get(user_id, order_id))

    def _replay(self, user_id: int, key: str) -> dict:
        _, order_id = self.store.order_for_key(user_id, key)
        if order_id is None:
            raise Conflict("A checkout with this Idempotency-Key is still in progress; retry shortly.")
        return order_dict(self.store.get(user_id, order_id))

    # -- cancel ---------------------------------------------------------------------------
    def cancel(self, user_id: int, order_id: int) -> dict:
        """Cancel a paid order: stock back, then the money, then the order marked cancelled.

        Both steps are idempotent; the money goes back last, since it cannot be taken back
        again: a cancel that stops before it leaves the order 'cancelling', and asking again
        finishes it. The refund (a call to the payment provider) happens outside any database
        transaction, as every provider call does: in the monolith the first step's
        transaction is the whole shop's write lock, and a slow provider must not hold it."""
        with self.uow.local_steps():   # in one database: status and stock together
            row = self.store.get(user_id, order_id)
            if row is None:
                raise NotFound(f"There is no order with id {order_id}.")
            # 'cancelling' is a cancel that failed half-way: it may simply be carried on.
            if row["status"] == "cancelled" or (
                    row["status"] == "paid" and not self.store.set_status(order_id, "cancelling", expected="paid")):
                raise Conflict("This order is already cancelled.")
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
