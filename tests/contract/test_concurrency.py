"""Races, against both deployments: checkouts racing for the last items never oversell, and two
racing cancels return the stock once.

The oversell race buys a low-stock product (seed stock 1..5) in 1100..1200 until it is sold
out, so no other test may rely on that product. The cancel race uses products 1100..1199
with plenty of stock and compares stock before and after."""
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from shop.catalog.seed import products as seed_products
from tests.support.client import US_ADDRESS, VALID_CARD, Api, error_code

SEED = {p["id"]: p for p in seed_products()}
RACERS = 12
# Low stock, and not the last low-stock products of the range (other files may take those).
SCARCE = next(pid for pid in range(1100, 1201) if 3 <= SEED[pid]["stock"] <= 5)
PLENTY = [pid for pid in range(1100, 1200) if SEED[pid]["stock"] >= 100]


def race(n: int, action):
    """Run action(i, session) for i in 0..n-1 on n threads released together by a barrier,
    each with its own requests.Session; returns the results in order of i."""
    barrier = threading.Barrier(n)

    def run(i):
        with requests.Session() as session:
            barrier.wait(timeout=60)
            return action(i, session)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_racing_checkouts_never_oversell(api):
    product = api.product(SCARCE)
    stock = product["stock"]
    assert 1 <= stock < RACERS, f"product {SCARCE} has stock {stock}; the race needs 1..{RACERS - 1}"

    def make_user(_):
        client = Api(api.base_url)
        user = client.new_user("racer")
        client.add_to_cart(user["token"], SCARCE, 1)
        return user

    with ThreadPoolExecutor(max_workers=4) as pool:
        users = list(pool.map(make_user, range(RACERS)))
    body = {"address": US_ADDRESS, "shipping_option": "standard", "payment": VALID_CARD}

    responses = race(RACERS, lambda i, s: s.post(f"{api.base_url}/api/orders", json=body,
                                                 headers=auth(users[i]["token"]), timeout=60))

    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == stock, statuses
    assert statuses.count(409) == RACERS - stock, statuses
    for r in responses:
        if r.status_code == 409:
            assert error_code(r) == "out_of_stock", r.text
            assert product["name"] in r.json()["error"]["message"], r.text
        else:
            assert r.json()["status"] == "paid"
            assert [(x["product_id"], x["quantity"]) for x in r.json()["items"]] == [(SCARCE, 1)]

    assert api.product(SCARCE)["stock"] == 0
    # One order per 201, none for the losers; winners' carts emptied, losers' carts as before.
    total_orders = 0
    for user, r in zip(users, responses):
        orders = api.get("/api/orders", token=user["token"]).json()
        total_orders += orders["total"]
        cart = api.get("/api/cart", token=user["token"]).json()
        if r.status_code == 201:
            assert [o["id"] for o in orders["items"]] == [r.json()["id"]]
            assert cart["items"] == []
        else:
            assert orders["total"] == 0
            assert [(x["product_id"], x["quantity"]) for x in cart["items"]] == [(SCARCE, 1)]
    assert total_orders == stock

    # Sold out now: adding it to a cart is refused too.
    r = api.put(f"/api/cart/items/{SCARCE}", token=users[0]["token"], json={"quantity": 1})
    assert r.status_code == 409
    assert error_code(r) == "out_of_stock"


def test_racing_cancels_of_one_order_return_the_stock_once(api):
    pid = PLENTY[0]
    user = api.new_user("cancelrace")
    token = user["token"]
    before = api.product(pid)["stock"]
    for _round in range(3):
        api.add_to_cart(token, pid, 2)
        r = api.place_order(token)
        assert r.status_code == 201, r.text
        order = r.json()
        assert api.product(pid)["stock"] == before - 2

        responses = race(2, lambda i, s: s.post(f"{api.base_url}/api/orders/{order['id']}/cancel",
                                                headers=auth(token), timeout=60))
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
        ok = next(r for r in responses if r.status_code == 200)
        conflict = next(r for r in responses if r.status_code == 409)
        assert error_code(conflict) == "conflict"
        assert ok.json()["status"] == "cancelled"
        assert ok.json()["payment"]["status"] == "refunded"
        assert api.get(f"/api/orders/{order['id']}", token=token).json() == ok.json()
        assert api.product(pid)["stock"] == before
