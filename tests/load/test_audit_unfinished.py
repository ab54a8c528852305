"""The audit tells a checkout still in flight (in the checkout journal: its worker died and
recovery has not run yet) from a real inconsistency: the first is reported apart, as
unfinished; the same leftovers without a journal entry are findings."""

import pytest

from loadtests.audit import audit, databases, main
from tests.support.monolith_core import ADDRESS, CARD, monolith_core, write as _write


class WorkerDied(BaseException):
    pass


class DyingCart:
    """The cart, except that emptying it kills the worker (after the charge, before the order)."""

    def __init__(self, cart):
        self.cart = cart

    def lines(self, user_id):
        return self.cart.lines(user_id)

    def clear(self, user_id, product_ids=None):
        raise WorkerDied()


@pytest.fixture
def dead_checkout(tmp_path, monkeypatch):
    """A monolith database with one finished order and one checkout whose worker died."""
    core = monolith_core(tmp_path)
    cart = core.cart
    cart.set_quantity(1, 11, 2)
    core.checkout.place(1, ADDRESS, "standard", CARD)
    # A second worker over the same database, whose cart kills it.
    dying = monolith_core(tmp_path, watch=lambda name, port: DyingCart(port) if name == "cart" else port)
    monkeypatch.setattr(dying.checkout, "_abort", lambda *args: None)   # a dead process undoes nothing
    cart.set_quantity(2, 10, 3)
    with pytest.raises(WorkerDied):
        dying.checkout.place(2, ADDRESS, "standard", CARD, "idem-1")
    yield tmp_path, core.orders.recovery
    core.db.close()
    dying.db.close()


def test_a_checkout_in_flight_is_unfinished_not_a_finding(dead_checkout, capsys):
    data, _ = dead_checkout
    result = audit(databases("monolith", data))
    assert result["findings"] == [] and result["ok"]
    [u] = result["unfinished"]
    assert u["status"] == "open" and u["user_id"] == 2
    assert sorted(h.split(" ")[0] for h in u["holds"]) == ["charge", "idempotency", "reservation"]
    assert main(["monolith", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "UNFINISHED" in out and u["checkout_key"] in out and "FINDING" not in out


def test_after_recovery_nothing_is_unfinished(dead_checkout):
    data, recovery = dead_checkout
    report = recovery.recover(older_than=0)
    assert len(report["recovered"]) == 1
    result = audit(databases("monolith", data))
    assert result["findings"] == [] and result["unfinished"] == []
    assert (result["orders"], result["charges"], result["refunded"]) == (1, 2, 1)


def test_the_same_leftovers_without_a_journal_entry_are_findings(dead_checkout):
    data, _ = dead_checkout
    _write(data / "monolith" / "shop.db", "DELETE FROM checkouts")
    result = audit(databases("monolith", data))
    assert result["unfinished"] == []
    found = "\n".join(result["findings"])
    assert "has no order and was not refunded" in found
    assert "holds 3 items without an order" in found
    assert "idempotency key 'idem-1' of user 2 is stuck in progress" in found
    assert main(["monolith", "--data-dir", str(data)]) == 1


def test_an_order_still_in_the_journal_is_a_finding(dead_checkout):
    data, _ = dead_checkout
    _write(data / "monolith" / "shop.db",
           "INSERT INTO checkouts (checkout_key, user_id, status, started_at) SELECT checkout_key, user_id, 'open', 0 FROM orders")
    result = audit(databases("monolith", data))
    assert any("both an order and still in the checkout journal" in f for f in result["findings"])
