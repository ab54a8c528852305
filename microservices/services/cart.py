"""The cart service: carts, priced by the catalog service (an HTTP client)."""
from microservices.clients import CatalogClient, client_for
from shop.cart.api import create_blueprint, create_internal_blueprint
from shop.cart.service import CartService
from shop.cart.store import CartStore


def blueprints(config, db, tokens) -> list:
    store = CartStore(db)
    store.create_schema()
    cart = CartService(store, catalog=CatalogClient(client_for(config, "catalog", "cart")))
    return [create_blueprint(cart), create_internal_blueprint(cart)]
