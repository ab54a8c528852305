"""Billing rules: one charge per key, refunds at most once."""
from shop.billing.provider import SimulatedProvider
from shop.billing.store import ChargeStore, charge_dict
from shop.errors import NotFound


class BillingService:
    """Also the in-process implementation of ``shop.ports.BillingPort``."""

    def __init__(self, store: ChargeStore, provider: SimulatedProvider):
        self.store = store
        self.provider = provider

    def charge(self, key: str, user_id: int, amount_cents: int, card: dict) -> dict:
        existing = self.store.by_key(key)
        if existing is not None:
            return charge_dict(existing)  # a retried call charges once
        self.provider.charge(card, amount_cents)
        with self.store.db.transaction():
            self.store.add(key, user_id, amount_cents, card["card_number"][-4:])
            return charge_dict(self.store.by_key(key))

    def refund(self, charge_id: int) -> dict:
        with self.store.db.transaction():
            row = self.store.by_id(charge_id)
            if row is None:
                raise NotFound(f"There is no charge with id {charge_id}.")
            if self.store.mark_refunded(charge_id):
                self.provider.refund(charge_id, row["amount_cents"])
            return charge_dict(self.store.by_id(charge_id))

    def void(self, key: str) -> None:
        row = self.store.by_key(key)
        if row is not None:
            self.refund(row["id"])
