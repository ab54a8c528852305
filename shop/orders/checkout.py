"""Checkout: the one use case that spans capabilities, written once for both deployments.

It talks to the cart, catalog, tax, shipping and billing only through their ports. What
differs between the deployments is how a failure half-way is undone:

- ``atomic=True`` (the monolith): every capability shares one SQLite database, so the local
  steps are grouped in two transactions, one before the payment provider is called (key,
  journal entry, stock) and one after (order, key, cart); the provider call itself holds no
  database lock. A failure before the charge rolls back; after it, the stock goes back in one
  local transaction and only the money needs a call of its own.
- ``atomic=False`` (the microservices): each step commits in its own service's database, so the
  checkout is a saga. Each step that succeeded registers how to undo it; on failure those
  compensations run newest first (release the stock, refund or void the charge).

In both, a journal entry in the orders database is written before any effect outside it and
closed by a compare-and-set in the transaction that records the order. A checkout whose
worker died, or whose compensation failed, stays in the journal, and ``recover`` undoes it
once it is older than ``recover_after`` (at startup, every few seconds from checkout requests,
and on demand through ``POST /admin/checkouts/recover``).
"""
import logging
import threading
import time
import uuid
from contextlib import nullcontext

from shop.errors import CartEmpty, Conflict, InvalidRequest, NotFound, PaymentDeclined, ServiceUnavailable
from shop.orders import owners
from shop.orders.store import OrderStore, order_dict
from shop.ports import BillingPort, CartPort, CatalogPort, ShippingPort, TaxPort
from shop.pricing import priced_lines

log = logging.getLogger(__name__)


DEAD_OWNER_EVERY = 1.0  # seconds: a dead process's checkouts that cannot be undone yet are retried this often


def _in_a_thread(work) -> None:
    threading.Thread(target=work, name="checkout-recovery", daemon=True).start()


class Checkout:
    def __init__(self, store: OrderStore, *, cart: CartPort, catalog: CatalogPort, tax: TaxPort,
                 shipping: ShippingPort, billing: BillingPort, atomic: bool, gather=None,
                 recover_after: float = 60.0, recover_every: float = 5.0, clock=time.time,
                 background=None, owner=owners.this_process, owner_alive=owners.alive):
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
        # Recovery: a journal entry older than recover_after is a checkout that will not finish.
        self.recover_after = recover_after
        self.recover_every = recover_every
        self.clock = clock
        self.background = background or _in_a_thread
        # Who runs a checkout, and whether they still do: a checkout whose process died is
        # recovered at once, not after recover_after (shop/orders/owners.py).
        self.owner, self.owner_alive = owner, owner_alive
        self._last_recovery = clock()  # startup recovery is the bootstrap's to run
        self._last_dead_owner_run = float("-inf")
        self._schedule_lock = threading.Lock()
        self._recovery_lock = threading.Lock()

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
        """(order, created). A replayed idempotency key returns the first order, created=False.

        Three steps, and the payment provider (which may be slow) is never called inside a
        database transaction, so that a slow charge holds no lock:

        1. one local transaction: claim the idempotency key and open the journal entry; in the
           monolith, price the cart and reserve the stock in it too (they are local);
        2. the charge (billing's own short transactions around the provider call);
        3. one local transaction: close the journal entry (compare-and-set: a recovery that took
           the checkout over wins instead), record the order, bind the key; in the monolith,
           empty the cart in it too.

        A failure after step 1 is undone here (the journal entry marks the checkout 'aborting'
        first); what cannot be undone now (a service is down, the worker dies) is left in the
        journal for ``recover``.
        """
        self._maybe_recover()
        checkout_key = f"co-{uuid.uuid4().hex}"
        with self.store.db.transaction():
            if idempotency_key is not None and not self.store.claim_key(user_id, idempotency_key):
                return self._replay(user_id, idempotency_key), False
            self.store.open_checkout(checkout_key, user_id, idempotency_key, self.clock(), self.owner())
            if self.atomic:
                # Any failure here rolls back the key, the journal entry and the stock together.
                q = self._price(user_id, address, option_id)
                self.catalog.reserve(checkout_key, q["lines"])
        # (what, action, external): in the monolith the stock is in the local database and
        # goes back in one transaction with the key and the journal entry; only effects
        # outside it (money at the payment provider) are undone by their own call.
        undo: list[tuple[str, callable, bool]] = []
        if self.atomic:
            undo.append(("release stock", lambda: self.catalog.release(checkout_key), False))
        try:
            if not self.atomic:
                q = self._price(user_id, address, option_id)
                # Registered before the call: if the reply is lost (a timeout), the stock may have
                # been taken anyway, and releasing a key that took nothing is harmless.
                undo.append(("release stock", lambda: self.catalog.release(checkout_key), False))
                self.catalog.reserve(checkout_key, q["lines"])
            charge = self._charge(checkout_key, user_id, q["total_cents"], card, undo)
            with self.store.db.transaction():
                if not self.store.finish_checkout(checkout_key):
                    # Recovery took this checkout over (it ran longer than checkout_recover_after)
                    # and is undoing it: the charge is voided, the stock released.
                    raise ServiceUnavailable("checkout", message=(
                        "The checkout took too long and was called off; the card was not charged. "
                        "Please try again."))
                order_id = self.store.add(user_id, q, address, charge, checkout_key)
                if idempotency_key is not None:
                    self.store.bind_key(user_id, idempotency_key, order_id)
                if self.atomic:
                    self.cart.clear(user_id, [pid for pid, _ in q["lines"]])
        except BaseException:
            self._abort(checkout_key, user_id, idempotency_key, undo)
            raise
        order = order_dict(self.store.get(user_id, order_id))
        # Emptying the cart is the last step and is not undone if it fails: the order is
        # placed and paid by then. In the monolith it already happened in step 3.
        if not self.atomic:
            ordered = [item["product_id"] for item in order["items"]]
            self._best_effort("clear cart", lambda: self.cart.clear(user_id, ordered))
        return order, True

    def _charge(self, checkout_key: str, user_id: int, amount_cents: int, card: dict, undo: list) -> dict:
        try:
            charge = self.billing.charge(checkout_key, user_id, amount_cents, card)
        except PaymentDeclined:
            raise  # nothing was charged
        except BaseException as err:
            # A timeout (or any other failure) leaves the outcome unknown: the charge may have
            # happened. Undo by key: a charge that completes late then refunds itself.
            undo.append(("void charge", lambda: self.billing.void(checkout_key), True))
            if isinstance(err, Conflict):
                # Billing still holds a claim on this key: the worker making the charge died
                # (our call was retried on a fresh connection) or is still at it. To the
                # shopper, billing did not answer.
                raise ServiceUnavailable("billing") from err
            raise
        undo.append(("refund charge", lambda: self.billing.refund(charge["id"]), True))
        return charge

    def _abort(self, checkout_key: str, user_id: int, idempotency_key: str | None, undo: list) -> None:
        """Undo a checkout that failed after its journal entry was written. Never raises: the
        original error is the one the shopper sees."""
        try:
            if not self.store.abort_checkout(checkout_key):
                return  # recovery took it over first and undoes it
        except Exception:
            log.exception("could not mark checkout %s aborting; recovery will undo it", checkout_key)
            return
        complete = True
        for what, action, external in reversed(undo):
            if external or not self.atomic:
                complete &= self._best_effort(what, action)

        def local():
            with self.store.db.transaction():
                if self.atomic:
                    for _what, action, external in reversed(undo):
                        if not external:
                            action()
                if idempotency_key is not None:
                    self.store.drop_key(user_id, idempotency_key, checkout_key)
                if complete:
                    self.store.forget_checkout(checkout_key)
        # Whatever failed stays in the journal ('aborting') and the next recovery finishes it.
        self._best_effort("drop idempotency key, close the journal entry", local)

    # -- recovery -------------------------------------------------------------------------
    def recover(self, older_than: float | None = None, *, wait: bool = True) -> dict | None:
        """Undo every checkout still in the journal that started more than ``older_than``
        seconds ago (default: ``recover_after``), or whose process is known to be dead: its
        worker died, or undoing it failed.

        Each step is idempotent and a failure leaves the entry for the next recovery: void the
        charge by key (one still being made refunds itself when it completes), release the
        stock by key, drop the idempotency key, then close the entry. An entry still 'open' is
        first taken over by a compare-and-set, so a checkout that finishes late cannot also
        record its order. A dependency that is down stops the run (every other entry would
        wait on it too). Returns what it did; None if another recovery is running
        (``wait=False``)."""
        if not self._recovery_lock.acquire(blocking=wait):
            return None
        try:
            after = self.recover_after if older_than is None else older_than
            now = self.clock()
            report = {"recover_after_seconds": after, "recovered": [], "failed": [], "finished_meanwhile": 0}
            me = self.owner()
            dead = {o for o in self.store.owners() if o != me and self.owner_alive(o) is False}
            for row in self.store.unfinished():
                if row["started_at"] >= now - after and row["owner"] not in dead:
                    continue  # it may still be running
                checkout_key = row["checkout_key"]
                if row["status"] == "open" and not self.store.abort_checkout(checkout_key):
                    report["finished_meanwhile"] += 1  # or its own failure path is undoing it
                    continue
                try:
                    self._undo(row)
                except Exception as err:
                    log.warning("recovery of checkout %s failed (left for the next one): %r", checkout_key, err)
                    report["failed"].append({"checkout_key": checkout_key,
                                             "error": getattr(err, "message", None) or repr(err)})
                    if isinstance(err, ServiceUnavailable):
                        break
                else:
                    log.warning("recovered checkout %s of user %s, started %.1f s ago: charge voided, "
                                "stock released", checkout_key, row["user_id"], now - row["started_at"])
                    report["recovered"].append({"checkout_key": checkout_key, "user_id": row["user_id"],
                                                "age_seconds": round(now - row["started_at"], 3)})
            report["unfinished"] = self.store.count_unfinished()
            return report
        finally:
            self._recovery_lock.release()

    def _undo(self, row) -> None:
        checkout_key = row["checkout_key"]
        self.billing.void(checkout_key)
        with self._unit():  # the monolith: stock, key and journal in one transaction
            self.catalog.release(checkout_key)
            with self.store.db.transaction():
                if row["idempotency_key"] is not None:
                    self.store.drop_key(row["user_id"], row["idempotency_key"], checkout_key)
                self.store.forget_checkout(checkout_key)

    def _maybe_recover(self) -> None:
        """Opportunistic recovery, from checkout requests: at most every ``recover_every``
        seconds per process, and (at most every second) as soon as a checkout's process is
        seen dead, which costs one read of the small journal per checkout. In the background,
        except in the monolith after a process died: there it is local and quick, and done
        before this checkout starts, so that the stock the dead one held is back at once."""
        now = self.clock()
        run = None
        with self._schedule_lock:
            if now - self._last_recovery >= self.recover_every:
                self._last_recovery = run = now
        if run is None:
            if now - self._last_dead_owner_run < DEAD_OWNER_EVERY:
                return
            me = self.owner()
            if not any(o != me and self.owner_alive(o) is False for o in self.store.owners()):
                return
            with self._schedule_lock:
                if now - self._last_dead_owner_run < DEAD_OWNER_EVERY:
                    return
                self._last_dead_owner_run = now
            if self.atomic:
                self._recover_quietly()
                return
        self.background(self._recover_quietly)

    def _recover_quietly(self) -> None:
        try:
            self.recover(wait=False)
        except Exception:
            log.exception("checkout recovery failed; the next one tries again")

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
    def _best_effort(what: str, action) -> bool:
        try:
            action()
        except Exception:
            # Left in the journal for recovery; never hides the original error.
            log.exception("compensation failed: %s", what)
            return False
        return True

    # -- cancel ---------------------------------------------------------------------------
    def cancel(self, user_id: int, order_id: int) -> dict:
        """Cancel a paid order: stock back, then the money, then the order marked cancelled.

        Both steps are idempotent; the money goes back last, since it cannot be taken back
        again: a cancel that stops before it leaves the order 'cancelling', and asking again
        finishes it. The refund (a call to the payment provider) happens outside any database
        transaction, as every provider call does: in the monolith the first step's
        transaction is the whole shop's write lock, and a slow provider must not hold it."""
        with self._unit():
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
