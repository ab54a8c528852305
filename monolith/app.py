"""The monolith's bootstrap: one database, every capability, wired with in-process calls.

The ports (``shop/ports.py``) are satisfied by the capabilities' own service objects, so a
call from checkout to billing is a plain method call, and checkout's local steps share transactions.
"""
from flask import Flask, jsonify

from monolith.config import Config
from shop.accounts.api import create_blueprint as accounts_api
from shop.accounts.limits import LoginLimits
from shop.accounts.service import AccountsService
from shop.accounts.store import UserStore
from shop.billing.api import create_admin_blueprint
from shop.billing.faults import FaultSettings, FaultyProvider
from shop.billing.provider import SimulatedProvider
from shop.billing.service import BillingService
from shop.billing.store import ChargeStore
from shop.cart.api import create_blueprint as cart_api
from shop.cart.service import CartService
from shop.cart.store import CartStore
from shop.catalog.api import create_blueprint as catalog_api
from shop.catalog.service import CatalogService
from shop.catalog.store import CatalogStore
from shop.orders.api import create_admin_blueprint as orders_admin
from shop.orders.api import create_blueprint as orders_api
from shop.orders.checkout import Checkout
from shop.orders.store import OrderStore
from shop.shipping.api import create_blueprint as shipping_api
from shop.shipping.service import ShippingService
from shop.tax.service import TaxService
from shop.web.app import create_base_app
from shop.web import clients
from shop.web.db import Database
from shop.web.tokens import KnownUsers, TokenSigner


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    config.check_secret()  # refuses the published secret on a public address, however started
    tokens = TokenSigner(config.secret, config.token_ttl)
    db = Database(config.database)

    users, products, carts = UserStore(db), CatalogStore(db), CartStore(db)
    charges, orders = ChargeStore(db), OrderStore(db)
    for store in (users, products, carts, charges, orders):
        store.create_schema()

    accounts = AccountsService(users, tokens, LoginLimits(**config.login_limits))
    catalog = CatalogService(products)
    cart = CartService(carts, catalog=catalog)
    faults = FaultSettings(config.faults_file)
    billing = BillingService(charges, FaultyProvider(SimulatedProvider(), faults))
    shipping = ShippingService()
    checkout = Checkout(orders, cart=cart, catalog=catalog, tax=TaxService(), shipping=shipping,
                        billing=billing, atomic=True, recover_after=config.checkout_recover_after)
    catalog.seed()
    if config.seed_shoppers:
        accounts.seed()
    # Checkouts a previous run left unfinished (a worker died mid-way). This runs once, in
    # gunicorn's master (--preload); the workers then recover every few seconds as they go.
    checkout.recover()
    db.close()  # gunicorn forks workers after this; each opens its own connection

    # A token names an existing user, or it is refused (a forged one may name anyone).
    app = create_base_app("monolith", tokens, config.admission,
                          known_users=KnownUsers(lambda user_id: users.by_id(user_id) is not None))
    for blueprint in (accounts_api(accounts, clients.peer_address(config.forwarded_allow_ips)), catalog_api(catalog), cart_api(cart),
                      shipping_api(shipping), orders_api(checkout),
                      create_admin_blueprint(faults, config.admin_token),
                      orders_admin(checkout, config.admin_token)):
        app.register_blueprint(blueprint)

    @app.get("/healthz")
    def healthz():
        db.query_one("SELECT 1")
        return jsonify({"status": "ok", "architecture": "monolith"})

    return app
