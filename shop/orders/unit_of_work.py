"""How a checkout's steps are made consistent: the one thing the two deployments do differently.

The steps are written once (``shop/orders/checkout.py``). Each deployment's bootstrap picks
the unit of work they run in (after "Architecture Patterns with Python", cosmicpython's
``UnitOfWork``: the use case says where a unit of work begins and ends, the unit of work
decides what that means for storage):

- ``OneDatabase`` (the monolith): every capability keeps its tables in ONE SQLite database,
  so the shop's own steps (idempotency key, journal entry, stock, order, cart) are grouped in
  transactions of that database, and a failure before the charge is simply rolled back. The
  in-process services (catalog, cart, billing) open their own transactions on the same
  ``Database``; inside a ``local_steps()`` block those join it (``Database.transaction``
  nests), which is what makes the group atomic. Only money, at the payment provider, needs
  an undo call of its own.
- ``Saga`` (the microservices): each capability has its own database behind its own
  service, so each step commits where it is done, and a failure half-way is undone by
  compensations, newest first. Only the orders database's own writes share a transaction.

Both give the use case the orders store (``uow.orders``), and the same four operations.
"""
import logging
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable, ContextManager, Protocol

from shop.orders.store import OrderStore

log = logging.getLogger("shop.orders.checkout")


@dataclass(frozen=True)
class Compensation:
    """How to undo one step. ``external``: the effect is outside every database of the shop
    (money at the payment provider), so no transaction can undo it, only its own call."""
    what: str
    action: Callable[[], object]
    external: bool = False


def best_effort(what: str, action: Callable[[], object]) -> bool:
    """Run an undo (or a step the checkout does not depend on); a failure is logged, never
    raised: the checkout's own error is the one the shopper sees, and what was not undone
    stays in the journal for recovery."""
    try:
        action()
    except Exception:
        log.exception("compensation failed: %s", what)
        return False
    return True


class UnitOfWork(Protocol):
    orders: OrderStore

    def local_steps(self) -> ContextManager[None]:
        """The steps in this block that touch the shop's own data: in one database they commit
        or roll back together; across services each commits in its own service."""

    def orders_transaction(self) -> ContextManager[None]:
        """The orders database's writes in this block, in one transaction (in one database:
        part of the enclosing ``local_steps`` block)."""

    def final_step(self, what: str, action: Callable[[], object]) -> None:
        """A step after which nothing is undone (emptying the cart once the order is recorded)."""

    def undo(self, compensations: list[Compensation], close: Callable[[bool], None]) -> None:
        """Undo a failed checkout's steps, newest first, then ``close(complete)`` (drop the key;
        close the journal entry if every undo succeeded). Never raises."""


class OneDatabase:
    """The monolith's unit of work: transactions of the one database every capability shares."""

    def __init__(self, orders: OrderStore):
        self.orders = orders
        self.db = orders.db   # the database of every store in the monolith, not only the orders'

    def local_steps(self):
        return self.db.transaction()

    def orders_transaction(self):
        return self.db.transaction()   # inside local_steps: joins it

    def final_step(self, what, action):
        action()   # part of the order's transaction: if it fails, the order is not recorded either

    def undo(self, compensations, close):
        # Money first (a call to the provider, never inside a transaction: it may be slow, and
        # here a transaction is the whole shop's write lock), then everything local in one
        # transaction: the stock, the key, the journal entry.
        complete = all([best_effort(c.what, c.action) for c in reversed(compensations) if c.external])

        def local():
            with self.db.transaction():
                for c in reversed(compensations):
                    if not c.external:
                        c.action()
                close(complete)
        best_effort("give the stock back, drop the idempotency key, close the journal entry", local)


class Saga:
    """The microservices' unit of work: each step commits in its own service; compensations."""

    def __init__(self, orders: OrderStore):
        self.orders = orders

    def local_steps(self):
        return nullcontext()   # nothing to group: each service commits its own step

    def orders_transaction(self):
        return self.orders.db.transaction()

    def final_step(self, what, action):
        # The order is placed and paid by now: if the cart service fails at this moment the
        # cart keeps its lines (the one inconsistency this saga accepts), and it is logged.
        best_effort(what, action)

    def undo(self, compensations, close):
        complete = all([best_effort(c.what, c.action) for c in reversed(compensations)])

        def local():
            with self.orders.db.transaction():
                close(complete)
        best_effort("drop the idempotency key, close the journal entry", local)
