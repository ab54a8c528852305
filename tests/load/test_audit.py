"""The audit finds what a broken checkout would leave behind, and nothing in a clean run."""

import pytest

from loadtests.audit import audit, databases, main
from tests.support.monolith_core import ADDRESS, CARD, monolith_core, write as _write


@pytest.fixture
def monolith_data(tmp_path):
    """A monolith database with a few real checkouts and one cancel, made by the real code."""
    core = monolith_core(tmp_path)
    cart, checkout = core.cart, core.checkout
    placed = []
    for user, product in ((1, 10), (2, 11), (3, 10)):
        cart.set_quantity(user, product, 2)
        placed.append(checkout.place(user, ADDRESS, "standard", CARD)[0])
    checkout.cancel(3, placed[2]["id"])
    core.db.close()
    return tmp_path


def test_a_clean_run_is_consistent(monolith_data, capsys):
    result = audit(databases("monolith", monolith_data))
    assert result["findings"] == []
    assert (result["orders"], result["cancelled"], result["charges"], result["refunded"]) == (3, 1, 3, 1)
    assert main(["monolith", "--data-dir", str(monolith_data)]) == 0
    assert "consistent" in capsys.readouterr().out


@pytest.mark.parametrize("damage, expected", [
    ("UPDATE products SET stock = stock - 1 WHERE id = 10", "product 10: stock"),
    ("DELETE FROM charges WHERE id = 1", "its charge 1 does not exist"),
    ("UPDATE charges SET status = 'refunded' WHERE id = 2", "its charge is refunded, not captured"),
    ("INSERT INTO charges (key, user_id, amount_cents, card_last4, status) VALUES ('lost', 9, 500, '4242', 'captured')",
     "has no order and was not refunded"),
    ("INSERT INTO reservations (key, lines, status) VALUES ('leak', '[[12, 3]]', 'reserved')",
     "holds 3 items without an order"),
    ("UPDATE charges SET amount_cents = amount_cents + 1 WHERE id = 1", "charged"),
])
def test_each_kind_of_damage_is_found(monolith_data, damage, expected, capsys):
    _write(monolith_data / "monolith" / "shop.db", damage)
    result = audit(databases("monolith", monolith_data))
    assert any(expected in f for f in result["findings"]), result["findings"]
    assert main(["monolith", "--data-dir", str(monolith_data)]) == 1
    assert "FINDING" in capsys.readouterr().out


@pytest.fixture
def half_cancelled(tmp_path):
    """An order whose cancel stopped after its first step (the stock back, the money not yet):
    what a cancel leaves when its refund call fails and its client does not ask again."""
    core = monolith_core(tmp_path)
    core.cart.set_quantity(1, 10, 2)
    order = core.checkout.place(1, ADDRESS, "standard", CARD)[0]
    store = core.checkout.store
    row = store.get(1, order["id"])
    assert store.set_status(order["id"], "cancelling", expected="paid")
    core.catalog.release(row["checkout_key"])
    core.db.close()
    return tmp_path, order["id"]


def test_a_cancel_stopped_half_way_is_reported_apart_not_as_a_finding(half_cancelled):
    data, order_id = half_cancelled
    result = audit(databases("monolith", data))
    assert result["findings"] == [] and result["ok"]
    assert result["half_cancelled"] == [{"order": order_id, "reservation": "released", "charge": "captured"}]


def test_a_cancelling_order_out_of_the_cancels_order_is_a_finding(half_cancelled):
    data, order_id = half_cancelled
    _write(data / "monolith" / "shop.db", f"UPDATE reservations SET status = 'reserved' WHERE key = "
                                           f"(SELECT checkout_key FROM orders WHERE id = {order_id})")
    _write(data / "monolith" / "shop.db", "UPDATE charges SET status = 'refunded'")
    result = audit(databases("monolith", data))
    assert any("not a step of a cancel" in f for f in result["findings"]), result["findings"]
