"""The catalog service: browsing, search and stock reservations, seeded on first start."""
from shop.catalog.api import create_blueprint, create_internal_blueprint
from shop.catalog.service import CatalogService
from shop.catalog.store import CatalogStore


def blueprints(config, db, tokens) -> list:
    store = CatalogStore(db)
    store.create_schema()
    catalog = CatalogService(store)
    catalog.seed()
    return [create_blueprint(catalog), create_internal_blueprint(catalog)]
