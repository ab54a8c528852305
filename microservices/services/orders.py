"""The orders service: checkout as a saga over HTTP clients of the services it uses."""
from microservices.clients import BillingClient, CartClient, CatalogClient, ShippingClient, TaxClient, client_for
from microservices.http import Gather
from shop.orders import capability
from shop.orders.api import create_admin_blueprint, create_blueprint
from shop.orders.store import OrderStore
from shop.orders.unit_of_work import Saga


def blueprints(config, db, tokens) -> list:
    store = OrderStore(db)
    store.create_schema()

    def build(**extra):
        return capability.build(
            Saga(store),  # separate databases: a saga with compensations
            cart=CartClient(client_for(config, "cart", "orders")),
            catalog=CatalogClient(client_for(config, "catalog", "orders")),
            tax=TaxClient(client_for(config, "tax", "orders")),
            shipping=ShippingClient(client_for(config, "shipping", "orders")),
            billing=BillingClient(client_for(config, "billing", "orders")),
            recover_after=config.checkout_recover_after, **extra)
    # Checkouts a previous run left unfinished. This runs once, in gunicorn's master (--preload),
    # with clients of its own that are dropped before the workers fork (no pooled connection
    # is shared by two processes); a service that is not up yet only defers it to the workers,
    # which recover every few seconds as they go.
    build().schedule.run()
    orders = build(gather=Gather(max_workers=2 * config.services["orders"].threads))
    return [create_blueprint(orders.checkout), create_admin_blueprint(orders.schedule.run, config.admin_token)]
