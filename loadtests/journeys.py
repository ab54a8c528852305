"""The closed model's simulated users (``--model closed``): each waits for its answer, thinks,
then makes its next request. They use only the public API, exactly as a browser or app would,
through the funnel's steps (loadtests/funnel.py), the same steps the open model's visitors take.

Weights follow a shopping funnel (browsing dominates): anonymous Browsers outnumber signed-in
Shoppers 4 to 1, and a Shopper views products 10 times, the cart 3, adds 2 and checks out 1
(Online Boutique's load generator uses the same 10/3/2/1)."""
import random

from locust import FastHttpUser, between, task
from locust.exception import StopUser

from loadtests import funnel, shopdata
from loadtests.accounts import AccountPool

POOL = AccountPool(shopdata.SHOPPER_COUNT, shopdata.shopper_email)


class Browser(FastHttpUser):
    weight = 4
    wait_time = between(0.5, 1.5)

    def on_start(self):
        self.visit = funnel.Requester(self.client, random.Random())

    @task(funnel.BROWSE_WEIGHTS["categories"])
    def categories(self):
        funnel.categories(self.visit)

    @task(funnel.BROWSE_WEIGHTS["category_page"])
    def category_page(self):
        funnel.category_page(self.visit)

    @task(funnel.BROWSE_WEIGHTS["search"])
    def search(self):
        funnel.search(self.visit)

    @task(funnel.BROWSE_WEIGHTS["product"])
    def product(self):
        funnel.product(self.visit)

    @task(funnel.BROWSE_WEIGHTS["shipping"])
    def shipping(self):
        funnel.shipping(self.visit)


class Shopper(FastHttpUser):
    weight = 1
    wait_time = between(1, 3)
    cancel_share = funnel.CANCEL_SHARE

    def on_start(self):
        self.account = POOL.acquire()
        if self.account is None:
            raise StopUser()  # more shoppers than this process's accounts: run fewer users
        self.visit = funnel.Requester(self.client, random.Random())
        self.visit.token = POOL.token(self.host, self.account) or self._login()

    def on_stop(self):
        if getattr(self, "account", None) is not None:
            POOL.release(self.account)
            self.account = None

    def _login(self) -> str:
        body = {"email": POOL.email(self.account), "password": shopdata.SHOPPER_PASSWORD}
        r = self.visit.call("POST", "/api/auth/login", "POST /api/auth/login", json=body)
        if r is None:
            raise StopUser()
        token = r.json()["token"]
        POOL.remember(self.host, self.account, token)
        # What is in the cart from an earlier run does not matter: checkout takes it all.
        return token

    @task(funnel.SHOP_WEIGHTS["view_product"])
    def view_product(self):
        funnel.view_product(self.visit)

    @task(funnel.SHOP_WEIGHTS["view_cart"])
    def view_cart(self):
        funnel.view_cart(self.visit)

    @task(funnel.SHOP_WEIGHTS["add_to_cart"])
    def add_to_cart(self):
        funnel.add_to_cart(self.visit)

    @task(funnel.SHOP_WEIGHTS["checkout"])
    def checkout(self):
        funnel.checkout(self.visit, cancel=self.visit.rng.random() < self.cancel_share)


CLOSED_USERS = [Browser, Shopper]
