"""The README's claim, checked on the monolith's real wiring (one SQLite database shared by
every capability, where a transaction is the whole shop's write lock): the payment provider
is never called inside a database transaction. Not for a charge, a declined charge, a
refund, a cancel, a charge that completes after its checkout gave up, nor a recovery.

The provider here records, at every call, whether the calling thread holds a transaction;
a provider call made inside one fails the test."""
import pytest

from shop.billing.provider import SimulatedProvider
from shop.errors import Conflict, PaymentDeclined, ServiceUnavailable
from shop.web.db import Database
from tests.support.monolith_core import ADDRESS, CARD, monolith_core

DECLINED = {**CARD, "card_number": "4000000000000002"}


class WatchedProvider(SimulatedProvider):
    def __init__(self, db):
        self.db = db
        self.calls = []   # (what, inside a transaction?)

    def charge(self, card, amount_cents):
        self.calls.append(("charge", self.db.in_transaction()))
        super().charge(card, amount_cents)

    def refund(self, charge_id, amount_cents):
        self.calls.append(("refund", self.db.in_transaction()))
        super().refund(charge_id, amount_cents)


class FailingRefunds(WatchedProvider):
    def __init__(self, db):
        super().__init__(db)
        self.fail = True

    def refund(self, charge_id, amount_cents):
        super().refund(charge_id, amount_cents)
        if self.fail:
            raise ServiceUnavailable("payment provider")


def watched(tmp_path, provider_class):
    """The monolith's real wiring, with a provider that watches the one database."""
    db = Database(tmp_path / "monolith" / "shop.db")
    provider = provider_class(db)
    return monolith_core(tmp_path, db=db, provider=provider), provider


@pytest.fixture
def shop(tmp_path):
    core, provider = watched(tmp_path, WatchedProvider)
    yield core, core.checkout, provider
    core.db.close()


def assert_never_inside(provider, *expected):
    assert [what for what, _ in provider.calls] == list(expected)
    assert [what for what, inside in provider.calls if inside] == [], provider.calls


def test_a_checkout_and_its_cancel(shop):
    core, checkout, provider = shop
    core.cart.set_quantity(1, 11, 2)
    order, _ = checkout.place(1, ADDRESS, "standard", CARD)
    cancelled = checkout.cancel(1, order["id"])
    assert cancelled["status"] == "cancelled" and cancelled["payment"]["status"] == "refunded"
    assert_never_inside(provider, "charge", "refund")


def test_a_declined_checkout(shop):
    core, checkout, provider = shop
    core.cart.set_quantity(1, 11, 1)
    with pytest.raises(PaymentDeclined):
        checkout.place(1, ADDRESS, "standard", DECLINED)
    assert_never_inside(provider, "charge")


def test_a_charge_that_completes_after_its_checkout_voided_it(shop):
    core, _checkout, provider = shop
    real_charge = provider.charge

    def void_meanwhile(card, amount_cents):
        real_charge(card, amount_cents)
        core.billing.void("late-key")   # the checkout's call timed out and it gave up
    provider.charge = void_meanwhile
    charge = core.billing.charge("late-key", 1, 500, CARD)
    assert charge["status"] == "refunded"
    assert_never_inside(provider, "charge", "refund")


def test_recovery_of_a_checkout_whose_worker_died_after_the_charge(shop):
    core, checkout, provider = shop
    core.cart.set_quantity(1, 11, 1)

    class Died(BaseException):
        pass

    def die(*_args):
        raise Died()
    checkout.store.finish_checkout = die            # dies between the charge and the order
    checkout._abort = lambda *args: None            # a dead process undoes nothing
    with pytest.raises(Died):
        checkout.place(1, ADDRESS, "standard", CARD)
    report = core.orders.recovery.recover(older_than=0)
    assert len(report["recovered"]) == 1
    assert_never_inside(provider, "charge", "refund")


def test_a_refund_the_provider_failed_is_finished_by_the_next_cancel(tmp_path):
    """The provider is told after the refund is decided (and committed): if it fails, the
    charge stays due and asking again tells it again; once it answered, never again."""
    core, provider = watched(tmp_path, FailingRefunds)
    checkout = core.checkout
    core.cart.set_quantity(1, 11, 1)
    order, _ = checkout.place(1, ADDRESS, "standard", CARD)
    with pytest.raises(ServiceUnavailable):
        checkout.cancel(1, order["id"])
    assert checkout.store.get(1, order["id"])["status"] == "cancelling"
    provider.fail = False
    assert checkout.cancel(1, order["id"])["status"] == "cancelled"
    assert [what for what, _ in provider.calls] == ["charge", "refund", "refund"]
    with pytest.raises(Conflict):                   # a third cancel tells the provider nothing
        checkout.cancel(1, order["id"])
    assert_never_inside(provider, "charge", "refund", "refund")
    core.db.close()
