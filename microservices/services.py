"""Bootstrap of each microservice: ``create_app("catalog")`` etc.

A service gets its own SQLite file holding only its own data, its own capability's
blueprints, and HTTP clients (the ports' network adapters) for the capabilities it uses."""
from flask import Flask, jsonify

from microservices.clients import BillingClient, CartClient, CatalogClient, ShippingClient, TaxClient
from microservices.config import Config
from microservices.http import Gather, ServiceClient
from shop.web import clients
from shop.web.app import create_base_app
from shop.web.db import Database
from shop.web.tokens import TokenSigner


def _client(config: Config, name: str, caller: str) -> ServiceClient:
    return ServiceClient(name, config.urls[name], connect_timeout=config.connect_timeout,
                         call_timeout=config.call_timeout, pool_size=config.services[caller].threads,
                         caller=caller, resilience=config.resilience)


def _accounts(config, db, tokens):
    from shop.accounts.api import create_blueprint, create_internal_blueprint
    from shop.accounts.limits import LoginLimits
    from shop.accounts.service import AccountsService
    from shop.accounts.store import UserStore
    store = UserStore(db)
    store.create_schema()
    # Behind the gateway: it says who the client was (shop/web/clients.py).
    accounts = AccountsService(store, tokens, LoginLimits(**config.login_limits))
    if config.seed_shoppers:
        accounts.seed()
    return [create_blueprint(accounts, clients.from_gateway), create_internal_blueprint(accounts)]


def _catalog(config, db, tokens):
    from shop.catalog.api import create_blueprint, create_internal_blueprint
    from shop.catalog.service import CatalogService
    from shop.catalog.store import CatalogStore
    store = CatalogStore(db)
    store.create_schema()
    catalog = CatalogService(store)
    catalog.seed()
    return [create_blueprint(catalog), create_internal_blueprint(catalog)]


def _cart(config, db, tokens):
    from shop.cart.api import create_blueprint, create_internal_blueprint
    from shop.cart.service import CartService
    from shop.cart.store import CartStore
    store = CartStore(db)
    store.create_schema()
    cart = CartService(store, catalog=CatalogClient(_client(config, "catalog", "cart")))
    return [create_blueprint(cart), create_internal_blueprint(cart)]


def _orders(config, db, tokens):
    from shop.orders import capability
    from shop.orders.api import create_admin_blueprint, create_blueprint
    from shop.orders.store import OrderStore
    from shop.orders.unit_of_work import Saga
    store = OrderStore(db)
    store.create_schema()

    def build(**extra):
        return capability.build(
            Saga(store),  # separate databases: a saga with compensations
            cart=CartClient(_client(config, "cart", "orders")),
            catalog=CatalogClient(_client(config, "catalog", "orders")),
            tax=TaxClient(_client(config, "tax", "orders")),
            shipping=ShippingClient(_client(config, "shipping", "orders")),
            billing=BillingClient(_client(config, "billing", "orders")),
            recover_after=config.checkout_recover_after, **extra)
    # Checkouts a previous run left unfinished. This runs once, in gunicorn's master (--preload),
    # with clients of its own that are dropped before the workers fork (no pooled connection
    # is shared by two processes); a service that is not up yet only defers it to the workers,
    # which recover every few seconds as they go.
    build().schedule.run()
    orders = build(gather=Gather(max_workers=2 * config.services["orders"].threads))
    return [create_blueprint(orders.checkout), create_admin_blueprint(orders.schedule.run, config.admin_token)]


def _billing(config, db, tokens):
    from shop.billing.api import create_admin_blueprint, create_internal_blueprint
    from shop.billing.faults import FaultSettings, FaultyProvider
    from shop.billing.provider import SimulatedProvider
    from shop.billing.service import BillingService
    from shop.billing.store import ChargeStore
    store = ChargeStore(db)
    store.create_schema()
    faults = FaultSettings(config.faults_file)
    billing = BillingService(store, FaultyProvider(SimulatedProvider(), faults))
    return [create_internal_blueprint(billing), create_admin_blueprint(faults, config.admin_token)]


def _tax(config, db, tokens):
    from shop.tax.api import create_internal_blueprint
    from shop.tax.service import TaxService
    return [create_internal_blueprint(TaxService())]


def _shipping(config, db, tokens):
    from shop.shipping.api import create_blueprint, create_internal_blueprint
    from shop.shipping.service import ShippingService
    shipping = ShippingService()
    return [create_blueprint(shipping), create_internal_blueprint(shipping)]


BUILDERS = {"accounts": _accounts, "catalog": _catalog, "cart": _cart, "orders": _orders,
            "billing": _billing, "tax": _tax, "shipping": _shipping}


def create_app(service: str, config: Config | None = None) -> Flask:
    if service not in BUILDERS:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(BUILDERS)}")
    config = config or Config.from_env()
    config.check_secret()  # refuses the published secret on a public address, however started
    tokens = TokenSigner(config.secret, config.token_ttl)
    db = Database(config.database(service))
    blueprints = BUILDERS[service](config, db, tokens)
    db.close()  # gunicorn forks workers after this; each opens its own connection

    app = create_base_app(service, tokens, config.admission)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "service": service})

    return app
