"""BillingService: one charge per key, refunds at most once, only the last four digits kept."""
import pytest

from shop.billing.provider import SimulatedProvider
from shop.billing.service import BillingService
from shop.billing.store import ChargeStore
from shop.errors import NotFound, PaymentDeclined
from shop.web.db import Database

CARD = {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "321"}


class RecordingProvider(SimulatedProvider):
    def __init__(self):
        self.charged, self.refunded = [], []

    def charge(self, card, amount_cents):
        super().charge(card, amount_cents)   # keeps the simulated declines
        self.charged.append((card["card_number"], amount_cents))

    def refund(self, charge_id, amount_cents):
        self.refunded.append((charge_id, amount_cents))


@pytest.fixture
def billing():
    db = Database(":memory:")
    store = ChargeStore(db)
    store.create_schema()
    yield BillingService(store, RecordingProvider())
    db.close()


def rows(billing):
    return [dict(r) for r in billing.store.db.query("SELECT * FROM charges ORDER BY id")]


def test_charge(billing):
    charge = billing.charge("k1", 7, 5530, dict(CARD))
    assert charge == {"id": charge["id"], "card_last4": "4242", "status": "captured", "amount_cents": 5530}
    assert billing.provider.charged == [("4242424242424242", 5530)]
    [row] = rows(billing)
    assert (row["key"], row["user_id"], row["amount_cents"], row["status"]) == ("k1", 7, 5530, "captured")


def test_same_key_charges_once(billing):
    first = billing.charge("k1", 7, 5530, dict(CARD))
    again = billing.charge("k1", 7, 9999, {**CARD, "card_number": "5555555555554444"})
    assert again == first
    assert len(billing.provider.charged) == 1 and len(rows(billing)) == 1


def test_different_keys_are_different_charges(billing):
    a = billing.charge("k1", 7, 100, dict(CARD))
    b = billing.charge("k2", 7, 100, dict(CARD))
    assert a["id"] != b["id"] and len(rows(billing)) == 2


def test_refund_twice_is_harmless(billing):
    charge = billing.charge("k1", 7, 5530, dict(CARD))
    assert billing.refund(charge["id"])["status"] == "refunded"
    assert billing.refund(charge["id"])["status"] == "refunded"
    assert billing.provider.refunded == [(charge["id"], 5530)]
    assert rows(billing)[0]["status"] == "refunded"


def test_refund_unknown_charge(billing):
    with pytest.raises(NotFound):
        billing.refund(12345)


def test_void_by_key(billing):
    keep = billing.charge("keep", 7, 100, dict(CARD))
    undo = billing.charge("undo", 7, 200, dict(CARD))
    billing.void("undo")
    billing.void("undo")
    assert billing.provider.refunded == [(undo["id"], 200)]
    assert [(r["id"], r["status"]) for r in rows(billing)] == [(keep["id"], "captured"), (undo["id"], "refunded")]


def test_void_of_an_unknown_key_does_nothing(billing):
    billing.void("never-charged")
    assert rows(billing) == [] and billing.provider.refunded == []


@pytest.mark.parametrize("number, reason", [("4000000000000002", "card declined"),
                                            ("4000000000009995", "insufficient funds")])
def test_decline_raises_and_stores_nothing(billing, number, reason):
    with pytest.raises(PaymentDeclined) as err:
        billing.charge("k1", 7, 5530, {**CARD, "card_number": number})
    assert reason in err.value.message and err.value.status == 402
    assert rows(billing) == []
    # a declined key is not kept: the same key with a good card is charged
    assert billing.charge("k1", 7, 5530, dict(CARD))["status"] == "captured"


def test_only_the_last_four_digits_are_stored(billing):
    charge = billing.charge("k1", 7, 5530, dict(CARD))
    [row] = rows(billing)
    assert row["card_last4"] == "4242"
    stored = " ".join(str(v) for v in row.values())
    assert "4242424242424242" not in stored and "424242424242" not in stored
    assert "321" not in stored   # the cvc
    assert "card_number" not in charge and "cvc" not in charge
    columns = {r["name"] for r in billing.store.db.query("PRAGMA table_info(charges)")}
    assert columns == {"id", "key", "user_id", "amount_cents", "card_last4", "status"}


def test_a_void_that_arrives_before_the_charge_stops_it(billing):
    # The checkout timed out and voided; its charge request arrives late.
    from shop.errors import Conflict
    billing.void("late")
    with pytest.raises(Conflict):
        billing.charge("late", 7, 5000, CARD)
    assert rows(billing) == [] and billing.provider.charged == []


def test_a_void_while_the_provider_is_charging_refunds_the_charge_at_once(billing):
    # The void lands while the provider is still answering (simulated from inside the call).
    provider = billing.provider
    original = provider.charge

    def slow_charge(card, amount_cents):
        billing.void("racing")
        original(card, amount_cents)

    provider.charge = slow_charge
    charge = billing.charge("racing", 7, 5000, CARD)
    assert charge["status"] == "refunded"
    assert [r["status"] for r in rows(billing)] == ["refunded"]
    assert provider.refunded == [(charge["id"], 5000)]


def test_a_second_charge_with_a_key_in_flight_is_refused(billing):
    from shop.errors import Conflict
    provider = billing.provider
    original = provider.charge
    seen = []

    def reentrant(card, amount_cents):
        with pytest.raises(Conflict):
            billing.charge("busy", 7, 5000, CARD)
        seen.append("refused")
        original(card, amount_cents)

    provider.charge = reentrant
    billing.charge("busy", 7, 5000, CARD)
    assert seen == ["refused"] and len(provider.charged) == 1


def test_a_declined_charge_leaves_its_key_free(billing):
    with pytest.raises(PaymentDeclined):
        billing.charge("k", 7, 5000, {**CARD, "card_number": "4000000000000002"})
    assert billing.charge("k", 7, 5000, CARD)["status"] == "captured"
