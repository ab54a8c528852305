"""The monolith's bootstrap: one database, every capability, wired with in-process calls.

The ports (``shop/ports.py``) are satisfied by the capabilities' own service objects, so a
call from checkout to billing is a plain method call; the checkout's unit of work is
``OneDatabase``: its local steps share transactions of the one database every store uses.

``create_app`` (monolith/app.py) serves what this builds; the tests build the same thing
with what they need to watch or control given here (a payment provider, a clock, ...)."""
import time
from dataclasses import dataclass

from monolith.config import Config
from shop.accounts.limits import LoginLimits
from shop.accounts.service import AccountsService
from shop.accounts.store import UserStore
from shop.billing.faults import FaultSettings, FaultyProvider
from shop.billing.provider import SimulatedProvider
from shop.billing.service import BillingService
from shop.billing.store import ChargeStore
from shop.cart.service import CartService
from shop.cart.store import CartStore
from shop.catalog.service import CatalogService
from shop.catalog.store import CatalogStore
from shop.orders import capability
from shop.orders.store import OrderStore
from shop.orders.unit_of_work import OneDatabase
from shop.shipping.service import ShippingService
from shop.tax.service import TaxService
from shop.web.db import Database
from shop.web.tokens import TokenSigner


@dataclass
class Monolith:
    config: Config
    db: Database
    tokens: TokenSigner
    users: UserStore
    accounts: AccountsService
    catalog: CatalogService
    cart: CartService
    faults: FaultSettings
    billing: BillingService
    shipping: ShippingService
    tax: TaxService
    orders: capability.Orders

    @property
    def checkout(self):
        return self.orders.checkout


def _as_is(_name: str, port):
    return port


def bootstrap(config: Config, *, db: Database | None = None, provider=None, watch=_as_is,
              clock=time.time, background=None, processes=None) -> Monolith:
    """Every capability over ``config.database`` (or ``db``), seeded. ``provider``: the payment
    provider (default: the simulated one behind the fault switches); ``watch(name, port)``
    may wrap each port the checkout uses (a test spying on the calls, or breaking one)."""
    tokens = TokenSigner(config.secret, config.token_ttl)
    db = db or Database(config.database)

    users, products, carts = UserStore(db), CatalogStore(db), CartStore(db)
    charges, orders = ChargeStore(db), OrderStore(db)
    for store in (users, products, carts, charges, orders):
        store.create_schema()

    accounts = AccountsService(users, tokens, LoginLimits(**config.login_limits))
    catalog = CatalogService(products)
    cart = CartService(carts, catalog=catalog)
    faults = FaultSettings(config.faults_file)
    billing = BillingService(charges, provider or FaultyProvider(SimulatedProvider(), faults))
    shipping, tax = ShippingService(), TaxService()
    the_orders = capability.build(
        OneDatabase(orders), cart=watch("cart", cart), catalog=watch("catalog", catalog),
        tax=watch("tax", tax), shipping=watch("shipping", shipping), billing=watch("billing", billing),
        recover_after=config.checkout_recover_after,
        # Recovery here is local and quick: a dead worker's stock is given back before the next
        # checkout starts, not in the background.
        dead_in_line=True, clock=clock, background=background, processes=processes)
    catalog.seed()
    if config.seed_shoppers:
        accounts.seed()
    return Monolith(config, db, tokens, users, accounts, catalog, cart, faults, billing, shipping, tax, the_orders)
