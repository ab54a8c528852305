"""One contract suite per port of ``shop/ports.py``, run against its three implementations:

- ``fake``: the in-memory fake the unit tests use (tests/unit/fakes.py);
- ``service``: the capability's own service object, as the monolith calls it in process;
- ``client``: the microservices' HTTP client (microservices/clients.py), talking to the real
  service of the running deployment (real gunicorn, real database).

So a unit test that passes against a fake proves something about the real thing, and the
two wirings keep the same promises. Every test cleans up what it did to a real service (a
charge is refunded, a reservation released), so the books stay balanced for the audit."""
import itertools
import uuid

import pytest

from microservices.clients import BillingClient, CartClient, CatalogClient, ShippingClient, TaxClient
from microservices.http import ServiceClient
from shop.billing.provider import SimulatedProvider
from shop.billing.service import BillingService
from shop.billing.store import ChargeStore
from shop.cart.service import CartService
from shop.cart.store import CartStore
from shop.catalog import seed
from shop.catalog.service import CatalogService
from shop.catalog.store import CatalogStore
from shop.errors import Conflict, InvalidRequest, NotFound, OutOfStock, PaymentDeclined
from shop.shipping.service import ShippingService
from shop.tax.service import TaxService
from shop.web.db import Database
from tests.support.client import VALID_CARD, Api
from tests.unit.fakes import FakeBilling, FakeCart, FakeCatalog, FakeShipping, FakeTax

IMPLEMENTATIONS = ["fake", "service", "client"]
DECLINED = {**VALID_CARD, "card_number": "4000000000000002"}
_users = itertools.count(900_001)


def http(microservices, name: str) -> ServiceClient:
    return ServiceClient(name, microservices.cluster.processes[name].url, connect_timeout=2, call_timeout=30,
                         caller="contract-tests")


@pytest.fixture
def db():
    database = Database(":memory:")
    yield database
    database.close()


def key() -> str:
    return f"port-{uuid.uuid4().hex}"


# -- CatalogPort ---------------------------------------------------------------------------------
@pytest.fixture(params=IMPLEMENTATIONS)
def catalog(request, db):
    if request.param == "fake":
        return FakeCatalog(seed.products())
    if request.param == "service":
        store = CatalogStore(db)
        store.create_schema()
        service = CatalogService(store)
        service.seed()
        return service
    return CatalogClient(http(request.getfixturevalue("microservices"), "catalog"))


def in_stock(catalog, at_least: int) -> dict:
    """A product of the seed with stock to spare (high ids: the other tests order low ones)."""
    found = catalog.products_by_id(list(range(1000, 1100)))
    return next(p for p in found.values() if p["stock"] >= at_least)


def stock(catalog, product_id: int) -> int:
    return catalog.products_by_id([product_id])[product_id]["stock"]


def test_catalog_knows_the_seed_and_leaves_unknown_ids_out(catalog):
    found = catalog.products_by_id([1, 2, 10_000_000])
    assert sorted(found) == [1, 2]
    assert set(found[1]) == {"id", "sku", "name", "description", "category", "price_cents", "stock", "weight_grams"}
    assert catalog.products_by_id([]) == {}


def test_catalog_reserves_once_per_key_and_releases_once(catalog):
    product = in_stock(catalog, 3)
    pid, before, k = product["id"], product["stock"], key()
    catalog.reserve(k, [(pid, 2)])
    catalog.reserve(k, [(pid, 2)])                 # a retried call takes nothing more
    assert stock(catalog, pid) == before - 2
    catalog.release(k)
    catalog.release(k)                             # released once only
    assert stock(catalog, pid) == before


def test_catalog_reserves_all_lines_or_none(catalog):
    first, second = in_stock(catalog, 1), catalog.products_by_id([1099])[1099]
    before = (stock(catalog, first["id"]), stock(catalog, second["id"]))
    with pytest.raises(OutOfStock) as err:
        catalog.reserve(key(), [(first["id"], 1), (second["id"], second["stock"] + 1)])
    assert second["name"] in err.value.message
    assert (stock(catalog, first["id"]), stock(catalog, second["id"])) == before


def test_catalog_release_of_an_unknown_key_makes_a_later_reserve_take_nothing(catalog):
    # The saga releases a reservation whose reply was lost, and the reservation may still
    # arrive afterwards: it must take no stock then (the saga depends on it).
    product = in_stock(catalog, 1)
    k = key()
    catalog.release(k)
    catalog.reserve(k, [(product["id"], 1)])
    assert stock(catalog, product["id"]) == product["stock"]


# -- CartPort ------------------------------------------------------------------------------------
@pytest.fixture(params=IMPLEMENTATIONS)
def cart(request, db):
    """(the port, put(user_id, product_id, quantity) to set a cart up, a user id)."""
    if request.param == "fake":
        fake = FakeCart()
        return fake, fake.put, next(_users)
    if request.param == "service":
        store = CartStore(db)
        store.create_schema()
        return CartService(store, catalog=FakeCatalog(seed.products())), store.set_quantity, next(_users)
    microservices = request.getfixturevalue("microservices")
    api = Api(microservices.url)
    user = api.new_user("ports")

    def put(_user_id, product_id, quantity):
        api.add_to_cart(user["token"], product_id, quantity)
    return CartClient(http(microservices, "cart")), put, user["id"]


def test_cart_lines_in_the_order_first_added(cart):
    port, put, user = cart
    assert port.lines(user) == []
    put(user, 8, 2)
    put(user, 3, 1)
    put(user, 8, 4)
    assert [tuple(line) for line in port.lines(user)] == [(8, 4), (3, 1)]


def test_cart_clear_takes_only_the_lines_named(cart):
    port, put, user = cart
    for pid in (8, 3, 5):
        put(user, pid, 1)
    port.clear(user, [8, 5])
    assert [tuple(line) for line in port.lines(user)] == [(3, 1)]
    port.clear(user, [8])                          # already gone: nothing happens
    port.clear(user)
    assert port.lines(user) == []


# -- TaxPort -------------------------------------------------------------------------------------
@pytest.fixture(params=IMPLEMENTATIONS)
def tax(request):
    if request.param == "fake":
        return FakeTax()
    if request.param == "service":
        return TaxService()
    return TaxClient(http(request.getfixturevalue("microservices"), "tax"))


def test_tax_is_whole_cents_never_negative_and_grows_with_the_subtotal(tax):
    amounts = [tax.tax_cents(subtotal, "US", "CA") for subtotal in (0, 1, 99, 10_000, 10**12)]
    assert all(type(a) is int and a >= 0 for a in amounts)
    assert amounts[0] == 0 and amounts == sorted(amounts)
    assert tax.tax_cents(10_000, "DE", None) == tax.tax_cents(10_000, "DE", None)


@pytest.mark.parametrize("implementation", ["service", "client"])
def test_tax_for_a_destination_without_a_rate_is_invalid(request, implementation):
    # (The fake has a rate for everything: a unit test about unknown destinations uses the real rules.)
    port = TaxService() if implementation == "service" else TaxClient(http(request.getfixturevalue("microservices"), "tax"))
    for country, region in (("ZZ", None), ("US", "XX"), ("USA", None)):
        with pytest.raises(InvalidRequest):
            port.tax_cents(1000, country, region)


# -- ShippingPort --------------------------------------------------------------------------------
@pytest.fixture(params=IMPLEMENTATIONS)
def shipping(request):
    if request.param == "fake":
        return FakeShipping()
    if request.param == "service":
        return ShippingService()
    return ShippingClient(http(request.getfixturevalue("microservices"), "shipping"))


def test_shipping_offers_standard_and_express_for_every_weight(shipping):
    # Heavy carts too: a cart's weight is computed, not typed, so no cap applies (issue 13:
    # the HTTP client once went through the public endpoint, which refuses more than 1,000 kg).
    for weight in (0, 1_000, 1_000_001, 99 * 50_000 * 10):
        options = shipping.options("US", weight)
        by_id = {o["id"]: o for o in options}
        assert {"standard", "express"} <= set(by_id)
        assert all(set(o) == {"id", "name", "price_cents", "days_min", "days_max"} for o in options)
        assert by_id["express"]["price_cents"] > by_id["standard"]["price_cents"]
    light, heavy = shipping.options("DE", 100), shipping.options("DE", 100_000)
    assert all(h["price_cents"] >= l["price_cents"] for l, h in zip(light, heavy))


def test_shipping_to_a_country_the_shop_does_not_serve_is_invalid(shipping):
    with pytest.raises(InvalidRequest):
        shipping.options("ZZ", 100)


# -- BillingPort ---------------------------------------------------------------------------------
@pytest.fixture(params=IMPLEMENTATIONS)
def billing(request, db):
    """The port; every key it charged is voided afterwards (no charge without an order stays)."""
    if request.param == "fake":
        port = FakeBilling()
    elif request.param == "service":
        store = ChargeStore(db)
        store.create_schema()
        port = BillingService(store, SimulatedProvider())
    else:
        port = BillingClient(http(request.getfixturevalue("microservices"), "billing"))
    used = []
    yield port, lambda: used.append(key()) or used[-1]
    for k in used:
        port.void(k)


def test_billing_charges_once_per_key(billing):
    port, new_key = billing
    k = new_key()
    first = port.charge(k, 1, 1234, dict(VALID_CARD))
    again = port.charge(k, 1, 9999, dict(VALID_CARD))     # a retried call: the first charge
    assert again == first
    assert first["status"] == "captured" and first["card_last4"] == "4242"


def test_billing_declines_and_keeps_no_trace(billing):
    port, new_key = billing
    k = new_key()
    with pytest.raises(PaymentDeclined):
        port.charge(k, 1, 1234, dict(DECLINED))
    assert port.charge(k, 1, 1234, dict(VALID_CARD))["status"] == "captured"   # the key was not kept


def test_billing_refunds_at_most_once(billing):
    port, new_key = billing
    charge = port.charge(new_key(), 1, 500, dict(VALID_CARD))
    assert port.refund(charge["id"])["status"] == "refunded"
    assert port.refund(charge["id"])["status"] == "refunded"       # harmless
    with pytest.raises(NotFound):
        port.refund(10**12)


def test_billing_void_refunds_a_charge_or_refuses_a_later_one(billing):
    port, new_key = billing
    charged, never = new_key(), new_key()
    charge = port.charge(charged, 1, 700, dict(VALID_CARD))
    port.void(charged)
    assert port.charge(charged, 1, 700, dict(VALID_CARD)) == {**charge, "status": "refunded"}
    port.void(never)                                             # voided before any charge
    with pytest.raises(Conflict):
        port.charge(never, 1, 700, dict(VALID_CARD))

