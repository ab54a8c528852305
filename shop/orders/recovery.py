"""Recovery: undo the checkouts a dead worker (or a failed undo) left in the journal.

Each step is idempotent and a failure leaves the entry for the next recovery: void the charge
by key (one still being made refunds itself when it completes), release the stock by key,
drop the idempotency key, then close the entry. When it runs (at startup, every few seconds
from checkout requests, at once for a dead process, on demand) is ``recovery_schedule.py``'s
business, not this module's."""
import logging
import time

from shop.errors import ServiceUnavailable
from shop.orders.owners import Processes, dead_owners
from shop.orders.unit_of_work import UnitOfWork
from shop.ports import BillingPort, CatalogPort

log = logging.getLogger("shop.orders.checkout")


class Recovery:
    def __init__(self, uow: UnitOfWork, *, catalog: CatalogPort, billing: BillingPort,
                 recover_after: float = 60.0, clock=time.time, processes=None):
        self.uow, self.store = uow, uow.orders
        self.catalog, self.billing = catalog, billing
        self.recover_after = recover_after   # an entry older than this will not finish by itself
        self.clock = clock
        self.processes = processes or Processes()

    def recover(self, older_than: float | None = None) -> dict:
        """Undo every checkout still in the journal that started more than ``older_than``
        seconds ago (default: ``recover_after``), or whose process is known to be dead.

        An entry still 'open' is first taken over by a compare-and-set, so a checkout that
        finishes late cannot also record its order. A dependency that is down stops the run
        (every other entry would wait on it too). Returns what it did."""
        after = self.recover_after if older_than is None else older_than
        now = self.clock()
        report = {"recover_after_seconds": after, "recovered": [], "failed": [], "finished_meanwhile": 0}
        dead = dead_owners(self.store, self.processes)
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

    def _undo(self, row) -> None:
        checkout_key = row["checkout_key"]
        self.billing.void(checkout_key)
        with self.uow.local_steps():   # in one database: stock, key and journal entry together
            self.catalog.release(checkout_key)
            with self.uow.orders_transaction():
                if row["idempotency_key"] is not None:
                    self.store.drop_key(row["user_id"], row["idempotency_key"], checkout_key)
                self.store.forget_checkout(checkout_key)
