"""The shopping funnel: every request a simulated visitor makes, written once.

Both load models use these steps: the closed-model users (loadtests/journeys.py: one step per
task, then a think time) and the open-model visitors (loadtests/visitors.py: a short visit of
a few steps per arrival). Steps use only the public API, exactly as a browser or app would.

A step makes its requests through a ``Requester``, which measures each request's latency
from its *intended* start (the visitor's arrival for the first request of a visit, the end
of the previous one for the next), so that time spent waiting inside the load generator
counts (no coordinated omission), and which names each request's outcome
(loadtests/outcomes.py). A step returns False when the visitor should stop (an error)."""
import time
import uuid

from loadtests import outcomes, shopdata

# Task weights of the funnel (Online Boutique's load generator uses the same 10/3/2/1).
BROWSE_WEIGHTS = {"categories": 1, "category_page": 3, "search": 2, "product": 5, "shipping": 1}
SHOP_WEIGHTS = {"view_product": 10, "view_cart": 3, "add_to_cart": 2, "checkout": 1}
CANCEL_SHARE = 0.1  # now and then a shopper changes their mind
_in_flight = [0]     # requests sent and not yet answered, in this process


def in_flight() -> int:
    return _in_flight[0]


class Requester:
    """Sends a visit's requests and reports each one to Locust (``request`` event) with its
    latency from the intended start and its outcome in ``context``:
    ``{"outcome", "intended" (wall clock), "lag_ms" (how late it was sent)}``."""

    def __init__(self, client, rng, intended: float | None = None, token: str | None = None):
        self.client = client            # a Locust FastHttpSession
        self.rng = rng
        self.next_start = intended      # perf_counter time the next request is meant to start
        self.token = token
        self.sent = 0
        self.in_cart = 0

    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, name: str, expected=(200,), **kwargs):
        """One request. Returns the response when its outcome is ok, else None."""
        send = time.perf_counter()
        intended = self.next_start if self.next_start is not None else send
        context = {"intended": time.time() - (send - intended), "lag_ms": round((send - intended) * 1000, 3)}
        self.sent += 1
        _in_flight[0] += 1
        try:
            r = self.client.request(method, path, name=name, catch_response=True, context=context, **kwargs)
        finally:
            _in_flight[0] -= 1
        with r:
            done = time.perf_counter()
            if r.status_code == 0:
                kind = outcomes.of_exception(r.error)
            else:
                kind = outcomes.of_answer(r.status_code, r.headers, expected)
            r.request_meta["context"]["outcome"] = kind   # (Locust passes on a copy of context)
            # Latency from the intended start, not from the send: queueing counts.
            r.request_meta["response_time"] = (done - intended) * 1000
            if kind == "ok":
                r.success()
            else:
                r.failure(f"{kind}: status {r.status_code}" if r.status_code else f"{kind}: {r.error!r}")
        if self.next_start is not None:
            self.next_start = done
        return r if kind == "ok" else None


# -- browsing (anonymous) -------------------------------------------------------------------
def categories(v: Requester) -> bool:
    return v.call("GET", "/api/categories", "GET /api/categories") is not None


def category_page(v: Requester) -> bool:
    slug = shopdata.pick(v.rng, shopdata.CATEGORY_SLUGS)
    page = v.rng.randint(1, shopdata.PAGES_PER_CATEGORY)
    return v.call("GET", f"/api/products?category={slug}&page={page}", "GET /api/products?category") is not None


def search(v: Requester) -> bool:
    term = shopdata.pick(v.rng, shopdata.SEARCH_TERMS)
    return v.call("GET", f"/api/products?q={term}", "GET /api/products?q") is not None


def product(v: Requester) -> bool:
    product_id = shopdata.pick(v.rng, shopdata.PRODUCT_IDS)
    return v.call("GET", f"/api/products/{product_id}", "GET /api/products/[id]") is not None


def shipping(v: Requester) -> bool:
    country = shopdata.pick(v.rng, shopdata.SHIPPING_COUNTRIES)
    weight = v.rng.randint(100, 20_000)
    return v.call("GET", f"/api/shipping/options?country={country}&weight_grams={weight}",
                  "GET /api/shipping/options") is not None


# -- shopping (signed in) -------------------------------------------------------------------
def view_product(v: Requester) -> bool:
    return product(v)


def view_cart(v: Requester) -> bool:
    r = v.call("GET", "/api/cart", "GET /api/cart", headers=v.auth())
    if r is not None:
        v.in_cart = r.json()["item_count"]
    return r is not None


def add_to_cart(v: Requester) -> bool:
    product_id = shopdata.pick(v.rng, shopdata.BUYABLE_IDS)
    r = v.call("PUT", f"/api/cart/items/{product_id}", "PUT /api/cart/items/[id]", expected=(200, 409),
               json={"quantity": v.rng.randint(1, 3)}, headers=v.auth())
    if r is not None and r.status_code == 200:   # 409: sold out, a real answer
        v.in_cart = r.json()["item_count"]
    return r is not None


def checkout(v: Requester, cancel: bool | None = None) -> bool:
    """Put what is bought in the cart, quote, order (with an Idempotency-Key), and now and
    then cancel the order again. Always adding first keeps a checkout's requests the same
    whatever the cart held before: a visit's request count is known when it arrives."""
    if not add_to_cart(v):
        return False
    address = shopdata.pick(v.rng, shopdata.ADDRESSES)
    option = "express" if v.rng.random() < 0.3 else "standard"
    r = v.call("POST", "/api/checkout/quote", "POST /api/checkout/quote", expected=(200, 409),
               json={"address": address, "shipping_option": option}, headers=v.auth())
    if r is None:
        return False
    if r.status_code == 409:   # nothing left to buy: a real answer; the visitor moves on
        v.in_cart = 0
        return True
    headers = {**v.auth(), "Idempotency-Key": uuid.uuid4().hex}
    r = v.call("POST", "/api/orders", "POST /api/orders", expected=(201, 409), headers=headers,
               json={"address": address, "shipping_option": option, "payment": shopdata.CARD})
    if r is None:
        return False
    if r.status_code == 409:   # someone bought the last one first
        return True
    v.in_cart = 0
    if cancel if cancel is not None else v.rng.random() < CANCEL_SHARE:
        order_id = r.json()["id"]
        return v.call("POST", f"/api/orders/{order_id}/cancel", "POST /api/orders/[id]/cancel",
                      headers=v.auth()) is not None
    return True


STEPS = {"categories": categories, "category_page": category_page, "search": search, "product": product,
         "shipping": shipping, "view_product": view_product, "view_cart": view_cart,
         "add_to_cart": add_to_cart, "checkout": checkout}
# Requests a step makes when every answer is ok (checkout: add, quote, order, and a cancel
# one time in ten): what turns a visit rate into a request rate.
REQUESTS_PER_STEP = {name: 1.0 for name in STEPS}
REQUESTS_PER_STEP["checkout"] = 3 + CANCEL_SHARE


# -- visits of the open model (loadtests/visitors.py) ----------------------------------------
BROWSE_STEPS = 3
SHOP_STEPS = 4
SHOPPER_SHARE = 0.2   # one visitor in five signs in and shops (the closed model's 4:1)


def plan(rng) -> tuple[str, list[str]]:
    """A visit: ("browse" | "shop", its steps in order), drawn with the funnel's weights."""
    if rng.random() < SHOPPER_SHARE:
        return "shop", _draw(rng, SHOP_WEIGHTS, SHOP_STEPS)
    return "browse", _draw(rng, BROWSE_WEIGHTS, BROWSE_STEPS)


def _draw(rng, weights: dict, n: int) -> list[str]:
    names = list(weights)
    return rng.choices(names, weights=[weights[k] for k in names], k=n)


def planned_requests(steps: list[str], cancel: bool) -> int:
    """Requests a visit makes when every answer is ok."""
    return sum(3 + cancel if s == "checkout" else 1 for s in steps)


def expected_requests() -> float:
    """Requests per visit on average when every answer is ok: the factor between the shape's
    request rate and the visitors' arrival rate."""
    def mean(weights):
        total = sum(weights.values())
        return sum(REQUESTS_PER_STEP[name] * w for name, w in weights.items()) / total
    return (1 - SHOPPER_SHARE) * BROWSE_STEPS * mean(BROWSE_WEIGHTS) + SHOPPER_SHARE * SHOP_STEPS * mean(SHOP_WEIGHTS)


def admit(kind: str, running: int, limit: int, pool, host: str) -> tuple[str | None, int | None, str | None]:
    """May an arrival's visit start now? (why not, or None; the shopper account and token it
    takes). Not when ``limit`` visits are already running in this load-generator process, nor
    for a shopper when no signed-in account is free: such arrivals are counted as dropped."""
    if running >= limit:
        return "in-flight limit", None, None
    if kind != "shop":
        return None, None, None
    account, token = pool.acquire_signed_in(host)
    if account is None:
        return "no free shopper account", None, None
    return None, account, token
