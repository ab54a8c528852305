"""In-memory fakes of the ports in ``shop/ports.py``, for fast unit tests.

Every fake records its calls twice: in its own ``calls`` list as ``(method, *args)`` and in a
``journal`` shared by all fakes of one test as ``(port, method, *args)``, so a test can assert
both what one port saw and in what order the ports were used.

The fakes keep the ports' promises (all-or-nothing reservations by key, idempotent release,
a release before its reservation that makes the reservation take nothing, one charge per key,
the provider's declined test cards, harmless double refund, a void that refuses a later
charge under its key, no shipping outside the shop's countries), so a test failure points at
the code under test, not at the fake; tests/contract/test_ports.py runs the same contract
suite against each fake, the real service and its HTTP client. Failures are injected with plain attributes (``decline``, ``unavailable``...).
"""
from shop.billing.provider import DECLINES
from shop.errors import Conflict, InvalidRequest, NotFound, OutOfStock, PaymentDeclined, ServiceUnavailable
from shop.geo import SUPPORTED_COUNTRIES


def product(pid: int, name: str, price_cents: int, *, stock: int = 10, weight_grams: int = 100,
            category: str = "mugs") -> dict:
    return {"id": pid, "sku": f"SKU-{pid:04d}", "name": name, "description": f"A {name.lower()}.",
            "category": category, "price_cents": price_cents, "stock": stock,
            "weight_grams": weight_grams}


class _Recording:
    port = "?"

    def __init__(self, journal: list | None = None):
        self.calls: list[tuple] = []
        self.journal = journal if journal is not None else []
        #: method names that raise ServiceUnavailable(<port>) before doing anything
        self.unavailable: set[str] = set()

    def _record(self, method: str, *args) -> None:
        self.calls.append((method, *args))
        self.journal.append((self.port, method, *args))
        if method in self.unavailable:
            raise ServiceUnavailable(self.port)

    def called(self, method: str) -> list[tuple]:
        """The argument tuples of every call to ``method``, oldest first."""
        return [c[1:] for c in self.calls if c[0] == method]


class FakeCatalog(_Recording):
    port = "catalog"

    def __init__(self, products: list[dict], journal: list | None = None):
        super().__init__(journal)
        self.products = {p["id"]: dict(p) for p in products}
        self.reservations: dict[str, dict] = {}   # key -> {"lines": [...], "status": ...}
        #: reserve does its work and THEN raises ServiceUnavailable: a timeout whose outcome
        #: the caller cannot know (the reservation did happen).
        self.reserve_then_unavailable = False

    def stock(self, pid: int) -> int:
        return self.products[pid]["stock"]

    def products_by_id(self, ids: list[int]) -> dict[int, dict]:
        self._record("products_by_id", list(ids))
        return {i: dict(self.products[i]) for i in ids if i in self.products}

    def reserve(self, key: str, lines: list[tuple[int, int]]) -> None:
        self._record("reserve", key, [tuple(x) for x in lines])
        if key not in self.reservations:
            for pid, qty in lines:   # check everything first: all or nothing
                p = self.products.get(pid)
                if p is None or p["stock"] < qty:
                    name = p["name"] if p else f"product {pid}"
                    raise OutOfStock(f"Not enough stock for '{name}': {p['stock'] if p else 0} left.")
            for pid, qty in lines:
                self.products[pid]["stock"] -= qty
            self.reservations[key] = {"lines": [tuple(x) for x in lines], "status": "reserved"}
        if self.reserve_then_unavailable:
            raise ServiceUnavailable(self.port, "did not answer in time")

    def release(self, key: str) -> None:
        self._record("release", key)
        r = self.reservations.get(key)
        if r is None:
            # Released before it arrived: like the catalog, leave a marker, so that the
            # reservation, if it comes, takes nothing.
            self.reservations[key] = {"lines": [], "status": "released"}
            return
        if r["status"] == "released":
            return
        for pid, qty in r["lines"]:
            self.products[pid]["stock"] += qty
        r["status"] = "released"


class FakeCart(_Recording):
    port = "cart"

    def __init__(self, journal: list | None = None):
        super().__init__(journal)
        self.carts: dict[int, list[tuple[int, int]]] = {}

    def put(self, user_id: int, product_id: int, quantity: int) -> None:
        """Test set-up (not recorded): set a line's quantity, keeping first-added order."""
        lines = self.carts.setdefault(user_id, [])
        for i, (pid, _) in enumerate(lines):
            if pid == product_id:
                lines[i] = (pid, quantity)
                return
        lines.append((product_id, quantity))

    def lines(self, user_id: int) -> list[tuple[int, int]]:
        self._record("lines", user_id)
        return list(self.carts.get(user_id, []))

    def clear(self, user_id: int, product_ids=None) -> None:
        self._record("clear", user_id)
        if product_ids is None:
            self.carts.pop(user_id, None)
        else:
            kept = [(pid, q) for pid, q in self.carts.get(user_id, []) if pid not in set(product_ids)]
            if kept:
                self.carts[user_id] = kept
            else:
                self.carts.pop(user_id, None)


class FakeTax(_Recording):
    """A flat whole-percent rate per country (10% unless told), rounded half up."""
    port = "tax"

    def __init__(self, journal: list | None = None, percent: dict[str, int] | None = None):
        super().__init__(journal)
        self.percent = percent or {}

    def tax_cents(self, subtotal_cents: int, country: str, region: str | None) -> int:
        self._record("tax_cents", subtotal_cents, country, region)
        rate = self.percent.get(country, 10)
        return (subtotal_cents * rate + 50) // 100


class FakeShipping(_Recording):
    """standard: 500 + 1 cent per 10 g; express: 1500 + 2 cents per 10 g."""
    port = "shipping"

    def options(self, country: str, weight_grams: int) -> list[dict]:
        self._record("options", country, weight_grams)
        if country not in SUPPORTED_COUNTRIES:
            raise InvalidRequest(f"We do not ship to '{country}'.")
        return [
            {"id": "standard", "name": "Standard shipping", "price_cents": 500 + weight_grams // 10,
             "days_min": 3, "days_max": 5},
            {"id": "express", "name": "Express shipping", "price_cents": 1500 + weight_grams // 5,
             "days_min": 1, "days_max": 2},
        ]


class FakeBilling(_Recording):
    port = "billing"

    def __init__(self, journal: list | None = None):
        super().__init__(journal)
        self.charges: dict[int, dict] = {}   # id -> {"id", "key", "user_id", "amount_cents", "card_last4", "status"}
        #: charge raises PaymentDeclined (and charges nothing)
        self.decline = False
        #: charge DOES charge and then raises ServiceUnavailable: a timeout after the fact
        self.charge_then_unavailable = False
        #: keys voided before any charge was made under them: a late charge is refused
        self.voided: set[str] = set()
        self._next_id = 100

    def by_key(self, key: str) -> dict | None:
        return next((c for c in self.charges.values() if c["key"] == key), None)

    def captured(self) -> list[dict]:
        return [c for c in self.charges.values() if c["status"] == "captured"]

    def charge(self, key: str, user_id: int, amount_cents: int, card: dict) -> dict:
        self._record("charge", key, user_id, amount_cents, card)
        existing = self.by_key(key)
        if existing is None:
            if key in self.voided:
                raise Conflict("This checkout was called off; the card was not charged.")
            if self.decline or card["card_number"] in DECLINES:
                raise PaymentDeclined(DECLINES.get(card["card_number"], "The card was declined: card declined by the issuer."))
            self._next_id += 1
            existing = {"id": self._next_id, "key": key, "user_id": user_id,
                        "amount_cents": amount_cents, "card_last4": card["card_number"][-4:],
                        "status": "captured"}
            self.charges[existing["id"]] = existing
        if self.charge_then_unavailable:
            raise ServiceUnavailable(self.port, "did not answer in time")
        return self._view(existing)

    def refund(self, charge_id: int) -> dict:
        self._record("refund", charge_id)
        c = self.charges.get(charge_id)
        if c is None:
            raise NotFound(f"There is no charge with id {charge_id}.")
        c["status"] = "refunded"
        return self._view(c)

    def void(self, key: str) -> None:
        self._record("void", key)
        c = self.by_key(key)
        if c is None:
            self.voided.add(key)   # like billing: a charge that arrives later is refused
        else:
            c["status"] = "refunded"

    @staticmethod
    def _view(c: dict) -> dict:
        return {"id": c["id"], "card_last4": c["card_last4"], "status": c["status"],
                "amount_cents": c["amount_cents"]}


class Spy:
    """Wraps a real object (e.g. CatalogService): every public method call is journaled as
    ``(port, method, *args)`` and then delegated. ``fail[method] = exc`` raises ``exc``
    AFTER the real call ran (the work is done, then something breaks)."""

    def __init__(self, port: str, target, journal: list):
        self._port, self._target, self._journal = port, target, journal
        self.fail: dict[str, BaseException] = {}

    def __getattr__(self, name):
        attr = getattr(self._target, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def call(*args, **kwargs):
            self._journal.append((self._port, name, *args))
            result = attr(*args, **kwargs)
            if name in self.fail:
                raise self.fail[name]
            return result
        return call


def methods(journal: list, port: str | None = None) -> list[str]:
    """``port.method`` names from a journal, in order (optionally for one port only)."""
    return [f"{e[0]}.{e[1]}" for e in journal if port is None or e[0] == port]


class FakeClock:
    """Seconds, moved on by hand: ``clock.now += 61``."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Deferred:
    """A ``background`` for Checkout that runs nothing until told: ``run()`` runs what was
    handed to it, in the test's own thread."""

    def __init__(self):
        self.pending: list = []

    def __call__(self, work) -> None:
        self.pending.append(work)

    def run(self) -> int:
        work, self.pending = self.pending, []
        for w in work:
            w()
        return len(work)
