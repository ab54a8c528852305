"""The books balance in both deployments (make audit's checks: one captured charge per paid
order, no charge without an order unless refunded, no reservation without an order, stock
equal to the seed minus what is held), whatever the other contract tests did to them before:
races, declines, idempotent replays, cancels, a checkout with billing stopped. The audit must
hold at any moment between requests, so this test does not depend on when it runs: it places,
declines and cancels orders of its own first, so there is always something to check."""
from loadtests.audit import audit, databases
from tests.support.client import VALID_CARD


def test_nothing_lost_or_doubled(deployment, api):
    user = api.new_user("books")
    token = user["token"]
    api.add_to_cart(token, 8)
    assert api.place_order(token, key="books-1").status_code == 201
    api.add_to_cart(token, 9)
    declined = api.place_order(token, card={**VALID_CARD, "card_number": "4000000000000002"})
    assert declined.status_code == 402
    cancelled = api.place_order(token, key="books-2").json()
    assert api.post(f"/api/orders/{cancelled['id']}/cancel", token=token).status_code == 200

    result = audit(databases(deployment.name, deployment.data_dir))
    assert result["findings"] == []
    assert result["orders"] >= 2 and result["cancelled"] >= 1 and result["charges"] >= result["orders"]
