"""Checkout, with each of its units of work (shop/orders/unit_of_work.py).

- ``Saga`` (the microservices): the ports are in-memory fakes, the orders live in an
  ``OrderStore`` over an in-memory SQLite database.
- ``OneDatabase`` (the monolith): the monolith's own bootstrap over ONE in-memory database,
  its ports watched by spies, so a rollback can be observed on real rows.
"""
from pathlib import Path

import pytest

from monolith.bootstrap import bootstrap
from monolith.config import Config
from shop.billing.provider import SimulatedProvider
from shop.errors import (CartEmpty, Conflict, InvalidRequest, NotFound, OutOfStock, PaymentDeclined,
                         ServiceUnavailable)
from shop.orders import capability
from shop.orders.store import OrderStore
from shop.orders.unit_of_work import Saga as SagaUnit
from shop.web.db import Database
from tests.unit.fakes import (Deferred, FakeBilling, FakeCart, FakeCatalog, FakeClock, FakeShipping, FakeTax,
                              Spy, methods, product)

USER, OTHER = 7, 8
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St", "city": "Portland", "region": "OR",
           "postal_code": "97201", "country": "US"}
CARD = {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}
OTHER_CARD = {"card_number": "5555555555554444", "exp_month": 1, "exp_year": 2098, "cvc": "999"}

MUG = product(1, "Mug", 1250, stock=5, weight_grams=300)
TEE = product(2, "Tee", 2000, stock=3, weight_grams=200)
COMPENSATIONS = {"catalog.release", "billing.refund", "billing.void"}
RECOVER_AFTER = 60.0


class Processes:
    """Fake processes: checkouts run by ``name``; ``dead`` ones are known to be gone."""

    def __init__(self):
        self.name, self.dead = "host/1/1", set()

    def me(self) -> str:
        return self.name

    def alive(self, owner):
        return owner not in self.dead


# -- the saga over fakes ------------------------------------------------------------
class Saga:
    def __init__(self):
        self.journal: list[tuple] = []
        self.catalog = FakeCatalog([MUG, TEE], self.journal)
        self.cart = FakeCart(self.journal)
        self.tax = FakeTax(self.journal)
        self.shipping = FakeShipping(self.journal)
        self.billing = FakeBilling(self.journal)
        self.db = Database(":memory:")
        self.store = OrderStore(self.db)
        self.store.create_schema()
        self.clock, self.background, self.procs = FakeClock(), Deferred(), Processes()
        self.orders = capability.build(SagaUnit(self.store), cart=self.cart, catalog=self.catalog, tax=self.tax,
                                       shipping=self.shipping, billing=self.billing, recover_after=RECOVER_AFTER,
                                       clock=self.clock, background=self.background, processes=self.procs)
        self.checkout, self.recovery, self.schedule = self.orders.checkout, self.orders.recovery, self.orders.schedule

    def fill_cart(self, user=USER):
        self.cart.put(user, 1, 2)   # 2 x 1250, 600 g
        self.cart.put(user, 2, 1)   # 1 x 2000, 200 g

    def place(self, user=USER, option="standard", card=CARD, key=None):
        return self.checkout.place(user, dict(ADDRESS), option, dict(card), key)

    def order_count(self, user=USER) -> int:
        return self.store.page(user, 100, 0)[1]

    def reserve_keys(self) -> list[str]:
        return [args[0] for args in self.catalog.called("reserve")]


@pytest.fixture
def saga():
    s = Saga()
    yield s
    s.db.close()


def test_saga_happy_path(saga):
    saga.fill_cart()
    order, created = saga.place()

    assert created is True
    subtotal = 2 * 1250 + 2000
    shipping = 500 + (2 * 300 + 200) // 10     # FakeShipping standard for 800 g
    tax = 450                                  # FakeTax: 10% of 4500
    assert (order["subtotal_cents"], order["shipping_cents"], order["tax_cents"]) == (subtotal, shipping, tax)
    assert order["total_cents"] == subtotal + shipping + tax
    assert order["status"] == "paid"
    assert order["payment"] == {"card_last4": "4242", "status": "captured"}
    assert order["shipping_option"] == "standard"
    assert order["address"] == ADDRESS
    assert [(i["product_id"], i["quantity"], i["line_total_cents"]) for i in order["items"]] == [
        (1, 2, 2500), (2, 1, 2000)]

    # reserve, then charge the total under the same key, then clear the cart
    steps = methods(saga.journal)
    assert steps.index("catalog.reserve") < steps.index("billing.charge") < steps.index("cart.clear")
    assert saga.catalog.called("reserve") == [(saga.reserve_keys()[0], [(1, 2), (2, 1)])]
    [(charge_key, user, amount, card)] = saga.billing.called("charge")
    assert (charge_key, user, amount) == (saga.reserve_keys()[0], USER, order["total_cents"])
    assert card == CARD
    assert saga.tax.called("tax_cents") == [(subtotal, "US", "OR")]
    assert not COMPENSATIONS & set(steps)

    assert (saga.catalog.stock(1), saga.catalog.stock(2)) == (3, 2)
    assert saga.cart.carts.get(USER) is None
    assert saga.checkout.order(USER, order["id"]) == order
    assert saga.order_count() == 1


def test_saga_never_stores_the_card(saga):
    saga.fill_cart()
    order, _ = saga.place()
    row = saga.store.get(USER, order["id"])
    assert all(CARD["card_number"] not in str(row[k]) for k in row.keys())
    assert CARD["card_number"] not in repr(order)


def test_quote_matches_the_order(saga):
    saga.fill_cart()
    quote = saga.checkout.quote(USER, dict(ADDRESS), "express")
    order, _ = saga.place(option="express")
    assert {k: order[k] for k in ("subtotal_cents", "shipping_cents", "tax_cents", "total_cents")} == {
        k: quote[k] for k in ("subtotal_cents", "shipping_cents", "tax_cents", "total_cents")}
    assert [o["id"] for o in quote["shipping_options"]] == ["standard", "express"]


def test_saga_decline_leaves_no_trace(saga):
    saga.fill_cart()
    saga.billing.decline = True

    with pytest.raises(PaymentDeclined):
        saga.place()

    key = saga.reserve_keys()[0]
    assert saga.catalog.called("release") == [(key,)]
    assert (saga.catalog.stock(1), saga.catalog.stock(2)) == (5, 3)
    assert saga.order_count() == 0
    assert saga.cart.carts[USER] == [(1, 2), (2, 1)]
    assert saga.billing.charges == {}
    assert not {"billing.refund", "billing.void", "cart.clear"} & set(methods(saga.journal))


@pytest.mark.parametrize("charged_before_timeout", [False, True])
def test_saga_billing_unavailable_releases_voids_and_drops_key(saga, charged_before_timeout):
    saga.fill_cart()
    if charged_before_timeout:
        saga.billing.charge_then_unavailable = True   # the charge happened, the answer was lost
    else:
        saga.billing.unavailable = {"charge"}

    with pytest.raises(ServiceUnavailable) as err:
        saga.place(key="idem-1")

    assert err.value.status == 503 and "billing" in err.value.message
    key = saga.reserve_keys()[0]
    assert saga.catalog.called("release") == [(key,)]
    assert saga.billing.called("void") == [(key,)]
    assert (saga.catalog.stock(1), saga.catalog.stock(2)) == (5, 3)
    assert saga.billing.captured() == []
    assert saga.order_count() == 0
    assert saga.cart.carts[USER] == [(1, 2), (2, 1)]
    assert saga.store.order_for_key(USER, "idem-1") == (False, None)


def test_saga_compensations_run_newest_first_when_storing_the_order_fails(saga, monkeypatch):
    saga.fill_cart()

    def broken_add(*args, **kwargs):
        raise RuntimeError("orders database is gone")
    monkeypatch.setattr(saga.store, "add", broken_add)

    with pytest.raises(RuntimeError):
        saga.place(key="idem-2")

    charge_id = next(iter(saga.billing.charges))
    key = saga.reserve_keys()[0]
    undo = [e for e in saga.journal if f"{e[0]}.{e[1]}" in COMPENSATIONS]
    assert undo == [("billing", "refund", charge_id), ("catalog", "release", key)]
    assert saga.billing.captured() == []
    assert (saga.catalog.stock(1), saga.catalog.stock(2)) == (5, 3)
    assert saga.store.order_for_key(USER, "idem-2") == (False, None)
    assert saga.cart.carts[USER] == [(1, 2), (2, 1)]


def test_saga_reserve_timeout_after_the_stock_was_taken_gives_it_back(saga):
    # The catalog reserved, but its answer was lost (ServiceUnavailable: "did not answer in
    # time"). Like a charge that timed out, the outcome is unknown and must be undone by key,
    # or the stock is gone for good ("a failed checkout leaves no trace: stock as before").
    saga.fill_cart()
    saga.catalog.reserve_then_unavailable = True

    with pytest.raises(ServiceUnavailable):
        saga.place()

    assert saga.billing.calls == []
    assert saga.catalog.called("release") == [(saga.reserve_keys()[0],)]
    assert (saga.catalog.stock(1), saga.catalog.stock(2)) == (5, 3)


def test_saga_out_of_stock_charges_nothing(saga):
    saga.cart.put(USER, 1, 1)
    saga.cart.put(USER, 2, 4)   # only 3 Tees

    with pytest.raises(OutOfStock) as err:
        saga.place()

    assert "Tee" in err.value.message
    assert saga.billing.calls == []
    assert (saga.catalog.stock(1), saga.catalog.stock(2)) == (5, 3)
    assert saga.order_count() == 0
    assert saga.cart.carts[USER] == [(1, 1), (2, 4)]


def test_empty_cart_is_cart_empty(saga):
    with pytest.raises(CartEmpty):
        saga.place()
    assert saga.catalog.called("reserve") == [] and saga.billing.calls == []


def test_unknown_shipping_option_is_invalid_request(saga):
    saga.fill_cart()
    with pytest.raises(InvalidRequest) as err:
        saga.place(option="teleport")
    assert "standard" in err.value.message and "express" in err.value.message
    assert saga.catalog.called("reserve") == [] and saga.billing.calls == []


def test_unknown_shipping_option_wins_over_cart_empty(saga):
    with pytest.raises(InvalidRequest):
        saga.place(option="teleport")
    with pytest.raises(InvalidRequest):
        saga.checkout.quote(USER, dict(ADDRESS), "teleport")


def test_idempotency_replay_returns_the_first_order_and_charges_once(saga):
    saga.fill_cart()
    first, created = saga.place(key="idem-3")
    saga.fill_cart()   # whatever the new body and cart say
    again, created_again = saga.place(option="express", card=OTHER_CARD, key="idem-3")

    assert (created, created_again) == (True, False)
    assert again == first
    assert len(saga.billing.called("charge")) == 1
    assert len(saga.catalog.called("reserve")) == 1
    assert saga.order_count() == 1


def test_idempotency_keys_belong_to_one_user(saga):
    saga.fill_cart(USER)
    saga.fill_cart(OTHER)
    mine, _ = saga.place(USER, key="same")
    theirs, created = saga.place(OTHER, key="same")
    assert created is True and theirs["id"] != mine["id"]
    assert len(saga.billing.called("charge")) == 2


def test_a_failed_attempts_key_is_not_kept(saga):
    saga.fill_cart()
    saga.billing.decline = True
    with pytest.raises(PaymentDeclined):
        saga.place(key="idem-4")
    assert saga.store.order_for_key(USER, "idem-4") == (False, None)

    saga.billing.decline = False
    order, created = saga.place(key="idem-4")
    assert created is True and order["status"] == "paid"
    assert saga.store.order_for_key(USER, "idem-4") == (True, order["id"])


def test_cancel_refunds_releases_and_marks_cancelled(saga):
    saga.fill_cart()
    order, _ = saga.place()
    charge_id = next(iter(saga.billing.charges))

    cancelled = saga.checkout.cancel(USER, order["id"])

    assert cancelled["status"] == "cancelled"
    assert cancelled["payment"] == {"card_last4": "4242", "status": "refunded"}
    assert saga.billing.called("refund") == [(charge_id,)]
    assert saga.catalog.called("release") == [(saga.reserve_keys()[0],)]
    assert (saga.catalog.stock(1), saga.catalog.stock(2)) == (5, 3)
    assert saga.checkout.order(USER, order["id"])["status"] == "cancelled"


def test_second_cancel_is_conflict(saga):
    saga.fill_cart()
    order, _ = saga.place()
    saga.checkout.cancel(USER, order["id"])
    with pytest.raises(Conflict) as err:
        saga.checkout.cancel(USER, order["id"])
    assert err.value.code == "conflict"
    assert len(saga.billing.called("refund")) == 1
    assert len(saga.catalog.called("release")) == 1


def test_cancel_with_billing_down_stops_before_the_money_and_can_be_finished(saga):
    saga.fill_cart()
    order, _ = saga.place()
    saga.billing.unavailable = {"refund"}

    with pytest.raises(ServiceUnavailable):
        saga.checkout.cancel(USER, order["id"])

    # Stock goes back first; the refund (which cannot be taken back) comes last and failed,
    # so the order waits half-cancelled, shown as paid, with its money still captured.
    assert saga.checkout.order(USER, order["id"])["status"] == "paid"
    assert saga.checkout.order(USER, order["id"])["payment"]["status"] == "captured"
    assert saga.store.get(USER, order["id"])["status"] == "cancelling"
    assert len(saga.catalog.called("release")) == 1

    saga.billing.unavailable = set()
    done = saga.checkout.cancel(USER, order["id"])   # asking again finishes it
    assert done["status"] == "cancelled" and done["payment"]["status"] == "refunded"
    assert len(saga.billing.called("refund")) >= 1


def test_cancel_of_another_users_order_is_not_found(saga):
    saga.fill_cart()
    order, _ = saga.place()
    with pytest.raises(NotFound):
        saga.checkout.cancel(OTHER, order["id"])
    with pytest.raises(NotFound):
        saga.checkout.order(OTHER, order["id"])
    with pytest.raises(NotFound):
        saga.checkout.cancel(USER, order["id"] + 1000)
    assert saga.billing.called("refund") == [] and saga.catalog.called("release") == []
    assert saga.checkout.order(USER, order["id"])["status"] == "paid"


def test_orders_are_listed_newest_first_per_user(saga):
    ids = []
    for _ in range(3):
        saga.cart.put(USER, 1, 1)
        ids.append(saga.place()[0]["id"])
    saga.cart.put(OTHER, 1, 1)
    saga.place(OTHER)
    items, total = saga.checkout.orders(USER, page=1, per_page=2)
    assert total == 3 and [o["id"] for o in items] == ids[::-1][:2]
    items, _ = saga.checkout.orders(USER, page=2, per_page=2)
    assert [o["id"] for o in items] == ids[:1]


# -- the monolith: its own bootstrap over ONE shared in-memory database -------------------------
class StubProvider(SimulatedProvider):
    """Records what the provider was asked to do; can be told to decline or to be down."""

    def __init__(self):
        self.charged: list[int] = []
        self.refunded: list[tuple[int, int]] = []
        self.fail: BaseException | None = None

    def charge(self, card: dict, amount_cents: int) -> None:
        if self.fail is not None:
            raise self.fail
        super().charge(card, amount_cents)
        self.charged.append(amount_cents)

    def refund(self, charge_id: int, amount_cents: int) -> None:
        self.refunded.append((charge_id, amount_cents))


class Monolith:
    def __init__(self, tmp_path: Path):
        self.journal: list[tuple] = []
        self.db = Database(":memory:")
        self.provider = StubProvider()
        self.clock, self.background, self.procs = FakeClock(), Deferred(), Processes()
        spies = {}

        def watch(name, port):
            spies[name] = Spy(name, port, self.journal)
            return spies[name]
        self.shop = bootstrap(Config(data_dir=tmp_path, seed_shoppers=False), db=self.db, provider=self.provider,
                              watch=watch, clock=self.clock, background=self.background, processes=self.procs)
        self.catalog, self.cart, self.billing = spies["catalog"], spies["cart"], spies["billing"]
        self.catalog_service, self.cart_service, self.billing_service = (
            self.shop.catalog, self.shop.cart, self.shop.billing)
        self.checkout, self.recovery = self.shop.checkout, self.shop.orders.recovery
        self.store = self.checkout.store
        # Test set-up: two products of the seed with known stock (a Mug and a Tee, as above).
        for p in (MUG, TEE):
            self.db.execute("UPDATE products SET stock = ? WHERE id = ?", (p["stock"], p["id"]))
        self.cart_service.set_quantity(USER, 1, 2)
        self.cart_service.set_quantity(USER, 2, 1)

    def snapshot(self) -> dict:
        """Every row that a checkout may touch."""
        q = self.db.query
        return {"products": [tuple(r) for r in q("SELECT id, stock FROM products WHERE id IN (1, 2) ORDER BY id")],
                "reservations": [tuple(r) for r in q("SELECT * FROM reservations")],
                "cart": [tuple(r) for r in q("SELECT user_id, product_id, quantity FROM cart_items ORDER BY seq")],
                "charges": [tuple(r) for r in q("SELECT * FROM charges")],
                "orders": [tuple(r) for r in q("SELECT * FROM orders")],
                "keys": [tuple(r) for r in q("SELECT * FROM idempotency_keys")],
                "journal": [tuple(r) for r in q("SELECT * FROM checkouts")]}

    def place(self, key=None, card=CARD):
        return self.checkout.place(USER, dict(ADDRESS), "standard", dict(card), key)

    def place_for(self, user, key=None):
        return self.checkout.place(user, dict(ADDRESS), "standard", dict(CARD), key)


@pytest.fixture
def mono(tmp_path):
    m = Monolith(tmp_path)
    yield m
    m.db.close()


def test_atomic_happy_path(mono):
    order, created = mono.place(key="k")
    assert created and order["status"] == "paid"
    assert mono.db.in_transaction() is False
    snap = mono.snapshot()
    assert snap["products"] == [(1, 3), (2, 2)]
    assert snap["cart"] == []
    assert [(c[3], c[4], c[5]) for c in mono.db.query("SELECT * FROM charges")] == [
        (order["total_cents"], "4242", "captured")]
    assert mono.provider.charged == [order["total_cents"]]
    assert len(snap["orders"]) == 1 and snap["keys"] == [(USER, "k", order["id"])]


def test_atomic_cancel(mono):
    order, _ = mono.place()
    assert mono.checkout.cancel(USER, order["id"])["status"] == "cancelled"
    assert mono.snapshot()["products"] == [(1, 5), (2, 3)]
    assert mono.provider.refunded == [(1, order["total_cents"])]
    with pytest.raises(Conflict):
        mono.checkout.cancel(USER, order["id"])


def test_atomic_the_provider_is_called_outside_any_transaction(mono):
    # The monolith's one database has one write lock: held across a slow payment provider, it
    # would make every other write in the shop wait behind each checkout.
    seen = []
    real_charge = mono.provider.charge

    def charge(card, amount_cents):
        seen.append((mono.db.in_transaction(), mono.db.connection().in_transaction))
        real_charge(card, amount_cents)
    mono.provider.charge = charge
    order, _ = mono.place(key="k")
    assert seen == [(False, False)]
    # ... and yet the stock was already held while the card was charged
    steps = methods(mono.journal)
    assert steps.index("catalog.reserve") < steps.index("billing.charge") < steps.index("cart.clear")


def test_atomic_local_steps_share_two_transactions(mono, monkeypatch):
    begins = []
    real = mono.db.transaction

    def counting():
        if not mono.db.in_transaction():
            begins.append([e[1] for e in mono.journal])
        return real()
    monkeypatch.setattr(mono.db, "transaction", counting)
    mono.place(key="k")
    # one before the charge (key, journal, reservation: the reserve joins it), billing's own
    # two around its provider call, one after (order, key, cart: the clear joins it)
    assert len(begins) == 4
    assert mono.store.unfinished() == []


@pytest.mark.parametrize("card_number, reason", [("4000000000000002", "card declined"),
                                                 ("4000000000009995", "insufficient funds")])
def test_atomic_decline_gives_the_stock_back_and_leaves_no_trace(mono, card_number, reason):
    before = mono.snapshot()

    with pytest.raises(PaymentDeclined) as err:
        mono.place(key="k", card={**CARD, "card_number": card_number})

    assert reason in err.value.message
    after = mono.snapshot()
    # The reservation was committed before the provider was called, so it is released now
    # (a 'released' row, holding nothing); everything else is as before.
    assert [r[2] for r in after.pop("reservations")] == ["released"]
    before.pop("reservations")
    assert after == before
    assert before["keys"] == [] and before["orders"] == [] and before["charges"] == []
    assert mono.db.in_transaction() is False
    assert mono.store.unfinished() == []
    steps = methods(mono.journal)
    assert "billing.void" not in steps and "billing.refund" not in steps   # nothing was charged
    # the key was not kept: the same key now places an order
    order, created = mono.place(key="k")
    assert created and order["status"] == "paid"


def test_atomic_billing_unavailable_voids_and_releases(mono):
    # The provider's outcome is unknown (it may have charged), so the charge is voided by key.
    before = mono.snapshot()
    mono.provider.fail = ServiceUnavailable("payment provider", "did not answer in time")
    with pytest.raises(ServiceUnavailable):
        mono.place(key="k")
    after = mono.snapshot()
    assert after["products"] == before["products"] and after["cart"] == before["cart"]
    assert after["orders"] == after["keys"] == after["charges"] == []
    steps = methods(mono.journal)
    assert steps.index("billing.void") < steps.index("catalog.release")
    assert mono.store.unfinished() == []


def test_atomic_out_of_stock_on_a_later_line_rolls_back_the_earlier_ones(mono):
    mono.cart_service.store.set_quantity(USER, 2, 4)   # only 3 Tees; Mug (line 1) is taken first
    before = mono.snapshot()
    with pytest.raises(OutOfStock):
        mono.place(key="k")
    assert mono.snapshot() == before                   # key, journal and stock in one rollback
    assert mono.store.unfinished() == []
    assert mono.provider.charged == []


def test_atomic_failure_after_the_provider_charged_takes_no_money(mono):
    # The order's transaction (store the order, clear the cart) rolls back, but the charge was
    # committed before it: it must be refunded, or the customer pays for an order that does
    # not exist.
    before = mono.snapshot()
    mono.cart.fail["clear"] = RuntimeError("disk I/O error")
    with pytest.raises(RuntimeError):
        mono.place(key="k")
    after = mono.snapshot()
    assert after["products"] == before["products"] and after["cart"] == before["cart"]
    assert after["orders"] == after["keys"] == []
    assert [c[5] for c in after["charges"]] == ["refunded"]
    assert len(mono.provider.refunded) == len(mono.provider.charged) == 1
    assert mono.store.unfinished() == []


def test_replayed_looks_up_a_finished_order_only(saga):
    assert saga.checkout.replayed(USER, "idem-5") is None           # unknown key
    saga.store.claim_key(USER, "idem-5")
    assert saga.checkout.replayed(USER, "idem-5") is None           # still in progress
    saga.store.drop_key(USER, "idem-5")
    saga.fill_cart()
    order, _ = saga.place(key="idem-5")
    assert saga.checkout.replayed(USER, "idem-5") == order
    assert saga.checkout.replayed(OTHER, "idem-5") is None          # keys belong to one user
    assert len(saga.billing.called("charge")) == 1


def test_a_key_still_in_progress_is_conflict_not_a_second_charge(saga):
    saga.fill_cart()
    saga.store.claim_key(USER, "idem-6")    # another request with this key is mid-checkout
    with pytest.raises(Conflict):
        saga.place(key="idem-6")
    assert saga.billing.calls == [] and saga.catalog.called("reserve") == []
    assert saga.store.order_for_key(USER, "idem-6") == (True, None)   # not dropped by the loser


# -- the checkout journal, its compare-and-set, and recovery -----------------------------------
class WorkerDied(BaseException):
    """Stands for os._exit / SIGKILL: together with a disabled ``_abort`` (the failure path that
    a dead process never reaches), it leaves exactly what a dead worker leaves."""


def die_at(checkout, monkeypatch):
    monkeypatch.setattr(checkout, "_abort", lambda *args: None)


def test_the_journal_entry_is_written_before_any_external_effect_and_closed_with_the_order(saga):
    saga.fill_cart()
    seen = {}

    def reserve(key, lines, real=saga.catalog.reserve):
        seen["at reserve"] = dict(saga.store.checkout(key))
        return real(key, lines)

    def charge(key, *args, real=saga.billing.charge):
        seen["at charge"] = dict(saga.store.checkout(key))
        return real(key, *args)
    saga.catalog.reserve, saga.billing.charge = reserve, charge

    order, _ = saga.place(key="idem-j")

    for entry in seen.values():
        assert (entry["status"], entry["user_id"], entry["idempotency_key"]) == ("open", USER, "idem-j")
        assert entry["started_at"] == saga.clock.now
    assert set(seen) == {"at reserve", "at charge"}
    assert saga.store.unfinished() == []   # closed: the order is recorded
    assert saga.store.get(USER, order["id"])["checkout_key"] == seen["at charge"]["checkout_key"]


def test_the_journal_cas_lets_one_side_win():
    db = Database(":memory:")
    store = OrderStore(db)
    store.create_schema()
    store.open_checkout("a", USER, None, 1.0)
    store.open_checkout("b", USER, None, 1.0)
    assert store.finish_checkout("a") is True      # the checkout records its order first...
    assert store.abort_checkout("a") is False      # ...so recovery cannot take it over
    assert store.abort_checkout("b") is True       # recovery first...
    assert store.finish_checkout("b") is False     # ...so the late checkout cannot finish
    assert store.abort_checkout("b") is False      # and a second taker does not "win" again
    assert [r["checkout_key"] for r in store.unfinished()] == ["b"]
    db.close()


def test_recovery_undoes_a_checkout_whose_worker_died_once_it_is_old_enough(saga, monkeypatch):
    saga.fill_cart()
    charge = saga.billing.charge

    def charge_then_die(*args):
        charge(*args)
        raise WorkerDied()
    saga.billing.charge = charge_then_die
    die_at(saga.checkout, monkeypatch)
    with pytest.raises(WorkerDied):
        saga.place(key="idem-d")
    key = saga.reserve_keys()[0]

    # What a dead worker leaves: stock held, money taken, no order, the key "in progress".
    assert (saga.catalog.stock(1), saga.catalog.stock(2)) == (3, 2)
    assert len(saga.billing.captured()) == 1 and saga.order_count() == 0
    with pytest.raises(Conflict):
        saga.place(key="idem-d")

    saga.clock.now += RECOVER_AFTER - 1            # not yet: it may still be running
    report = saga.recovery.recover()
    assert report["recovered"] == [] and report["unfinished"] == 1
    assert saga.billing.called("void") == []

    saga.clock.now += 2
    report = saga.recovery.recover()
    assert [r["checkout_key"] for r in report["recovered"]] == [key]
    assert report["failed"] == [] and report["unfinished"] == 0
    assert saga.billing.called("void") == [(key,)]
    assert saga.catalog.called("release") == [(key,)]
    assert saga.billing.captured() == []
    assert (saga.catalog.stock(1), saga.catalog.stock(2)) == (5, 3)
    assert saga.store.order_for_key(USER, "idem-d") == (False, None)
    assert saga.store.unfinished() == []
    # the shopper can try again with the same key
    monkeypatch.undo()
    saga.billing.charge = charge
    order, created = saga.place(key="idem-d")
    assert created and order["status"] == "paid"
    assert saga.recovery.recover()["recovered"] == []   # nothing twice


@pytest.mark.parametrize("recovery_done", [True, False], ids=["recovery-done", "recovery-half-way"])
def test_a_checkout_that_finishes_after_recovery_took_it_over_records_no_order(saga, recovery_done):
    # The checkout is slow: by the time the charge is back, recovery has taken it over (and
    # voided the charge, or not yet: billing did not answer it). The compare-and-set in the
    # order's transaction must make the checkout lose either way.
    saga.fill_cart()
    charge = saga.billing.charge
    reports = []

    def slow_charge(*args):
        result = charge(*args)
        saga.clock.now += RECOVER_AFTER + 1
        saga.billing.unavailable = set() if recovery_done else {"void"}
        reports.append(saga.recovery.recover())
        saga.billing.unavailable = set()
        return result
    saga.billing.charge = slow_charge

    with pytest.raises(ServiceUnavailable) as err:
        saga.place(key="idem-s")

    assert "called off" in err.value.message and "not charged" in err.value.message
    assert len(reports[0]["recovered" if recovery_done else "failed"]) == 1
    assert saga.order_count() == 0
    if not recovery_done:
        assert [e["status"] for e in saga.store.unfinished()] == ["aborting"]
        assert saga.recovery.recover()["unfinished"] == 0     # the next recovery finishes it
    assert saga.billing.captured() == [] and len(saga.billing.charges) == 1   # voided = refunded
    assert (saga.catalog.stock(1), saga.catalog.stock(2)) == (5, 3)
    assert saga.store.order_for_key(USER, "idem-s") == (False, None)
    assert saga.store.unfinished() == []
    assert saga.cart.carts[USER] == [(1, 2), (2, 1)]


def test_a_checkout_recovered_before_its_charge_is_never_charged(saga):
    saga.fill_cart()
    reserve = saga.catalog.reserve

    def slow_reserve(*args):
        reserve(*args)
        saga.clock.now += RECOVER_AFTER + 1
        saga.recovery.recover()
    saga.catalog.reserve = slow_reserve
    with pytest.raises(ServiceUnavailable):
        saga.place()
    assert saga.billing.charges == {} and saga.order_count() == 0
    assert (saga.catalog.stock(1), saga.catalog.stock(2)) == (5, 3)
    assert saga.store.unfinished() == []


def test_recovery_loses_to_a_checkout_that_finished_first(saga):
    saga.fill_cart()
    order, _ = saga.place()
    saga.clock.now += RECOVER_AFTER * 10
    assert saga.recovery.recover()["recovered"] == []
    assert saga.billing.called("void") == [] and saga.catalog.called("release") == []
    assert saga.checkout.order(USER, order["id"])["payment"]["status"] == "captured"


def test_a_compensation_that_fails_is_finished_by_a_later_recovery(saga, monkeypatch):
    # Storing the order fails, and billing is down when the charge is to be refunded: the
    # checkout cannot undo itself, so its journal entry stays ('aborting') for recovery.
    saga.fill_cart()
    monkeypatch.setattr(saga.store, "add", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full")))
    saga.billing.unavailable = {"refund", "void"}
    with pytest.raises(RuntimeError):
        saga.place(key="idem-c")
    [entry] = saga.store.unfinished()
    assert entry["status"] == "aborting"           # the order's CAS was rolled back with it
    assert len(saga.billing.captured()) == 1
    assert (saga.catalog.stock(1), saga.catalog.stock(2)) == (5, 3)   # the stock did go back
    assert saga.store.order_for_key(USER, "idem-c") == (False, None)  # and the key was dropped

    saga.clock.now += RECOVER_AFTER + 1
    report = saga.recovery.recover()                 # billing still down: tried, left
    assert report["recovered"] == [] and report["unfinished"] == 1
    assert [f["checkout_key"] for f in report["failed"]] == [entry["checkout_key"]]
    assert "billing" in report["failed"][0]["error"]

    saga.billing.unavailable = set()
    report = saga.recovery.recover()
    assert [r["checkout_key"] for r in report["recovered"]] == [entry["checkout_key"]]
    assert saga.billing.captured() == [] and saga.store.unfinished() == []


def test_recovery_stops_at_a_dependency_that_is_down_and_carries_on_later(saga, monkeypatch):
    die_at(saga.checkout, monkeypatch)
    saga.billing.charge_then_unavailable = True
    for _ in range(3):
        saga.cart.put(USER, 1, 1)
        with pytest.raises(ServiceUnavailable):
            saga.place()
    saga.billing.charge_then_unavailable = False
    saga.clock.now += RECOVER_AFTER + 1
    saga.billing.unavailable = {"void"}
    report = saga.recovery.recover()
    assert len(report["failed"]) == 1 and report["unfinished"] == 3   # one try, not three timeouts
    saga.billing.unavailable = set()
    report = saga.recovery.recover()
    assert len(report["recovered"]) == 3 and report["unfinished"] == 0
    assert saga.billing.captured() == [] and saga.catalog.stock(1) == 5


def test_recovery_of_an_old_attempt_keeps_a_retry_s_idempotency_key(saga):
    # Attempt A failed and dropped its key, but could not void its charge (billing down): it
    # waits in the journal. The shopper retries with the same key (attempt B); recovering A
    # while B is in flight must not drop B's claim on the key.
    saga.fill_cart()
    saga.billing.charge_then_unavailable = True
    saga.billing.unavailable = {"void"}
    with pytest.raises(ServiceUnavailable):
        saga.place(key="same")
    assert saga.store.order_for_key(USER, "same") == (False, None)
    saga.billing.charge_then_unavailable = False
    saga.billing.unavailable = set()

    saga.clock.now += RECOVER_AFTER + 1
    charge = saga.billing.charge
    reports = []

    def charge_while_recovering(*args):
        reports.append(saga.recovery.recover())    # A is due, B (just started) is not
        return charge(*args)
    saga.billing.charge = charge_while_recovering
    order, created = saga.place(key="same")

    assert created and len(reports[0]["recovered"]) == 1
    assert saga.store.order_for_key(USER, "same") == (True, order["id"])
    assert saga.checkout.replayed(USER, "same") == order


def test_opportunistic_recovery_runs_in_the_background_at_most_every_few_seconds(saga, monkeypatch):
    die_at(saga.checkout, monkeypatch)
    saga.billing.charge_then_unavailable = True
    saga.cart.put(USER, 1, 1)
    with pytest.raises(ServiceUnavailable):
        saga.place()                                  # a dead checkout
    saga.billing.charge_then_unavailable = False
    monkeypatch.undo()
    saga.cart.carts.clear()
    assert saga.background.pending == []              # the first seconds: nothing scheduled

    saga.clock.now += RECOVER_AFTER + 1
    for _ in range(2):
        saga.cart.put(USER, 2, 1)
        saga.place()
    assert saga.background.run() == 1                 # two checkouts, one recovery
    assert saga.store.unfinished() == [] and saga.catalog.stock(1) == 5

    saga.clock.now += saga.schedule.every
    saga.cart.put(USER, 2, 1)
    saga.place()
    assert saga.background.run() == 1


def test_atomic_recovery_after_a_worker_died_mid_checkout(mono, monkeypatch):
    # The monolith's billing_crash: the worker dies after the charge, before the order's
    # transaction commits. Stock and key were committed before the provider was called.
    before = mono.snapshot()
    die_at(mono.checkout, monkeypatch)
    mono.cart.fail["clear"] = WorkerDied()
    with pytest.raises(WorkerDied):
        mono.place(key="k")
    [entry] = mono.store.unfinished()
    assert entry["status"] == "open" and mono.snapshot()["orders"] == []
    assert mono.snapshot()["products"] == [(1, 3), (2, 2)]

    mono.clock.now += RECOVER_AFTER + 1
    report = mono.recovery.recover()
    assert [r["checkout_key"] for r in report["recovered"]] == [entry["checkout_key"]]
    after = mono.snapshot()
    assert after["products"] == before["products"] and after["cart"] == before["cart"]
    assert after["orders"] == after["keys"] == after["journal"] == []
    assert [c[5] for c in after["charges"]] == ["refunded"]
    assert mono.provider.refunded == [(1, mono.provider.charged[0])]


def test_atomic_recovery_of_a_charge_still_pending_refuses_it(mono, monkeypatch):
    # The worker died while the provider was being asked: billing's claim is 'pending' and
    # no charge exists. Recovery voids the key: the charge can never be made under it.
    die_at(mono.checkout, monkeypatch)
    monkeypatch.setattr(mono.billing_service.store, "drop_claim", lambda key: None)  # died before this
    mono.provider.fail = WorkerDied()
    with pytest.raises(WorkerDied):
        mono.place()
    [entry] = mono.store.unfinished()
    mono.clock.now += RECOVER_AFTER + 1
    assert len(mono.recovery.recover()["recovered"]) == 1
    assert mono.billing_service.store.claim(entry["checkout_key"]) == "voided"
    assert mono.snapshot()["products"] == [(1, 5), (2, 3)]
    mono.provider.fail = None
    with pytest.raises(Conflict):
        mono.billing_service.charge(entry["checkout_key"], USER, 100, dict(CARD))


def with_processes(side) -> "Processes":
    return side.procs


def test_a_checkout_whose_process_died_is_recovered_at_once(saga, monkeypatch):
    procs = with_processes(saga)
    die_at(saga.checkout, monkeypatch)
    saga.billing.charge_then_unavailable = True
    saga.cart.put(USER, 1, 2)
    with pytest.raises(ServiceUnavailable):
        saga.place(key="k1")
    saga.billing.charge_then_unavailable = False
    monkeypatch.undo()
    [entry] = saga.store.unfinished()
    assert entry["owner"] == "host/1/1"

    procs.name = "host/2/1"                                # another worker; the first still runs
    assert saga.recovery.recover()["recovered"] == []
    procs.dead.add("host/1/1")                           # now it is gone
    report = saga.recovery.recover()                     # no waiting for recover_after
    assert [r["checkout_key"] for r in report["recovered"]] == [entry["checkout_key"]]
    assert saga.billing.captured() == [] and saga.catalog.stock(1) == 5


def test_the_next_checkout_notices_a_dead_process(saga, monkeypatch):
    procs = with_processes(saga)
    die_at(saga.checkout, monkeypatch)
    saga.cart.put(USER, 1, 2)
    saga.billing.unavailable = {"charge"}
    with pytest.raises(ServiceUnavailable):
        saga.place()
    saga.billing.unavailable = set()
    monkeypatch.undo()
    procs.name, procs.dead = "host/2/1", {"host/1/1"}

    saga.cart.put(OTHER, 2, 1)
    saga.place(OTHER)
    assert saga.background.run() == 1                    # the saga recovers in the background
    assert saga.store.unfinished() == [] and saga.catalog.stock(1) == 5
    saga.cart.put(OTHER, 2, 1)
    saga.place(OTHER)
    assert saga.background.pending == []                 # nothing dead left: nothing scheduled


def test_atomic_the_next_checkout_gives_back_what_a_dead_worker_held_before_it_starts(mono, monkeypatch):
    # The monolith's billing_crash: the worker dies mid-charge, the stock it reserved is held.
    procs = with_processes(mono)
    die_at(mono.checkout, monkeypatch)
    mono.provider.fail = WorkerDied()
    with pytest.raises(WorkerDied):
        mono.place(key="k")
    monkeypatch.undo()
    mono.provider.fail = None
    assert mono.snapshot()["products"] == [(1, 3), (2, 2)]
    procs.name, procs.dead = "host/2/1", {"host/1/1"}

    mono.cart_service.store.set_quantity(OTHER, 1, 5)    # needs all 5 mugs: only there if given back
    order, _ = mono.place_for(OTHER)
    assert order["items"][0]["quantity"] == 5
    assert mono.background.pending == []                 # done in line, before the checkout
    assert mono.snapshot()["journal"] == []
    assert mono.snapshot()["keys"] == []
