"""The shipping service: no data, the public options and an internal endpoint for checkout."""
from shop.shipping.api import create_blueprint, create_internal_blueprint
from shop.shipping.service import ShippingService


def blueprints(config, db, tokens) -> list:
    shipping = ShippingService()
    return [create_blueprint(shipping), create_internal_blueprint(shipping)]
