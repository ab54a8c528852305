"""Simulated visitors. They use only the public API, exactly as a browser or app would.

Weights follow a shopping funnel (browsing dominates): anonymous Browsers outnumber signed-in
Shoppers 4 to 1, and a Shopper views products 10 times, the cart 3, adds 2 and checks out 1
(Online Boutique's load generator uses the same 10/3/2/1)."""
import random
import uuid

from locust import FastHttpUser, between, task
from locust.exception import StopUser

from loadtests import shopdata
from loadtests.accounts import AccountPool

POOL = AccountPool(shopdata.SHOPPER_COUNT, shopdata.shopper_email)


class Browser(FastHttpUser):
    weight = 4
    wait_time = between(0.5, 1.5)

    def on_start(self):
        self.rng = random.Random()

    @task(1)
    def categories(self):
        self.client.get("/api/categories", name="GET /api/categories")

    @task(3)
    def category_page(self):
        slug = shopdata.pick(self.rng, shopdata.CATEGORY_SLUGS)
        page = self.rng.randint(1, shopdata.PAGES_PER_CATEGORY)
        self.client.get(f"/api/products?category={slug}&page={page}", name="GET /api/products?category")

    @task(2)
    def search(self):
        term = shopdata.pick(self.rng, shopdata.SEARCH_TERMS)
        self.client.get(f"/api/products?q={term}", name="GET /api/products?q")

    @task(5)
    def product(self):
        product_id = shopdata.pick(self.rng, shopdata.PRODUCT_IDS)
        self.client.get(f"/api/products/{product_id}", name="GET /api/products/[id]")

    @task(1)
    def shipping(self):
        country = shopdata.pick(self.rng, shopdata.SHIPPING_COUNTRIES)
        weight = self.rng.randint(100, 20_000)
        self.client.get(f"/api/shipping/options?country={country}&weight_grams={weight}",
                        name="GET /api/shipping/options")


class Shopper(FastHttpUser):
    weight = 1
    wait_time = between(1, 3)
    cancel_share = 0.1  # now and then a shopper changes their mind

    def on_start(self):
        self.rng = random.Random()
        self.account = POOL.acquire()
        if self.account is None:
            raise StopUser()  # more shoppers than seeded accounts: run fewer users
        self.in_cart = 0
        self.token = POOL.token(self.host, self.account) or self._login()

    def on_stop(self):
        if getattr(self, "account", None) is not None:
            POOL.release(self.account)
            self.account = None

    def _login(self) -> str:
        body = {"email": POOL.email(self.account), "password": shopdata.SHOPPER_PASSWORD}
        with self.client.post("/api/auth/login", json=body, name="POST /api/auth/login",
                              catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"login failed: {r.status_code}")
                raise StopUser()
            token = r.json()["token"]
        POOL.remember(self.host, self.account, token)
        # What is in the cart from an earlier run does not matter: checkout takes it all.
        return token

    def _auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    @task(10)
    def view_product(self):
        product_id = shopdata.pick(self.rng, shopdata.PRODUCT_IDS)
        self.client.get(f"/api/products/{product_id}", name="GET /api/products/[id]")

    @task(3)
    def view_cart(self):
        with self.client.get("/api/cart", headers=self._auth(), name="GET /api/cart",
                             catch_response=True) as r:
            if r.status_code == 200:
                self.in_cart = r.json()["item_count"]
            else:
                r.failure(f"status {r.status_code}")

    @task(2)
    def add_to_cart(self):
        product_id = shopdata.pick(self.rng, shopdata.BUYABLE_IDS)
        with self.client.put(f"/api/cart/items/{product_id}", json={"quantity": self.rng.randint(1, 3)},
                             headers=self._auth(), name="PUT /api/cart/items/[id]",
                             catch_response=True) as r:
            if r.status_code == 200:
                self.in_cart = r.json()["item_count"]
            elif r.status_code == 409:
                r.success()  # sold out: a real answer, not a failure of the system
            else:
                r.failure(f"status {r.status_code}")

    @task(1)
    def checkout(self):
        if not self.in_cart:
            self.add_to_cart()
            if not self.in_cart:
                return
        address = shopdata.pick(self.rng, shopdata.ADDRESSES)
        option = "express" if self.rng.random() < 0.3 else "standard"
        with self.client.post("/api/checkout/quote", json={"address": address, "shipping_option": option},
                              headers=self._auth(), name="POST /api/checkout/quote",
                              catch_response=True) as r:
            if r.status_code == 409:
                r.success()
                self.in_cart = 0
                return
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
                return
        headers = {**self._auth(), "Idempotency-Key": uuid.uuid4().hex}
        body = {"address": address, "shipping_option": option, "payment": shopdata.CARD}
        with self.client.post("/api/orders", json=body, headers=headers, name="POST /api/orders",
                              catch_response=True) as r:
            if r.status_code == 201:
                self.in_cart = 0
                order_id = r.json()["id"]
            elif r.status_code == 409:  # someone bought the last one first
                r.success()
                return
            else:
                r.failure(f"status {r.status_code}")
                return
        if self.rng.random() < self.cancel_share:
            self.client.post(f"/api/orders/{order_id}/cancel", headers=self._auth(),
                             name="POST /api/orders/[id]/cancel")
