"""The tax service: no data, one internal endpoint."""
from shop.tax.api import create_internal_blueprint
from shop.tax.service import TaxService


def blueprints(config, db, tokens) -> list:
    return [create_internal_blueprint(TaxService())]
