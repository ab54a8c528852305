"""Billing rules: one charge per key, refunds at most once."""
from shop.billing.provider import SimulatedProvider
from shop.billing.store import ChargeStore, charge_dict
from shop.errors import Conflict, NotFound


class BillingService:
    """Also the in-process implementation of ``shop.ports.BillingPort``."""

    def __init__(self, store: ChargeStore, provider: SimulatedProvider):
        self.store = store
        self.provider = provider

    def charge(self, key: str, user_id: int, amount_cents: int, card: dict) -> dict:
        with self.store.db.transaction():
            existing = self.store.by_key(key)
            if existing is not None:
                return charge_dict(existing)  # a retried call charges once
            claim = self.store.claim(key)
            if claim == "voided":
                raise Conflict("This checkout was called off; the card was not charged.")
            if claim == "pending":
                raise Conflict("A charge with this key is being made; retry shortly.")
            self.store.set_claim(key, "pending")
        try:
            self.provider.charge(card, amount_cents)   # outside any lock: it may be slow
        except BaseException:
            with self.store.db.transaction():
                self.store.drop_claim(key)
            raise
        with self.store.db.transaction():
            called_off = self.store.claim(key) == "voided"
            self.store.add(key, user_id, amount_cents, card["card_number"][-4:])
            self.store.drop_claim(key)
            row = self.store.by_key(key)
            if called_off:
                # The checkout gave up (its call timed out) and voided the key while the
                # provider was charging: give the money back at once, keep the record.
                self.store.mark_refunded(row["id"])
                self.store.set_refund_due(row["id"])
        if called_off:
            self._tell_provider(row["id"], amount_cents)
        return charge_dict(self.store.by_key(key))

    def refund(self, charge_id: int) -> dict:
        """Refund a charge once. The decision (captured -> refunded, a compare-and-set) and a
        note that the provider still has to be told commit first; the provider is called
        outside any transaction (it may be slow, and in the monolith a transaction is the
        whole shop's write lock); the note goes once it answered. A refund that stopped in
        between (the provider failed, the process died) is finished by the next refund of
        the same charge: a cancel asked again, or recovery."""
        with self.store.db.transaction():
            row = self.store.by_id(charge_id)
            if row is None:
                raise NotFound(f"There is no charge with id {charge_id}.")
            if self.store.mark_refunded(charge_id):
                self.store.set_refund_due(charge_id)
            due = self.store.refund_due(charge_id)
        if due:
            self._tell_provider(charge_id, row["amount_cents"])
        return charge_dict(self.store.by_id(charge_id))

    def _tell_provider(self, charge_id: int, amount_cents: int) -> None:
        self.provider.refund(charge_id, amount_cents)   # outside any lock: it may be slow
        self.store.refund_done(charge_id)

    def void(self, key: str) -> None:
        """Undo the charge made under ``key``; if it is still being made (or never arrived),
        mark the key so that the charge, when it completes, is refunded at once."""
        with self.store.db.transaction():
            row = self.store.by_key(key)
            if row is None:
                self.store.set_claim(key, "voided")
                return
        self.refund(row["id"])
