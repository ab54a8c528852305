"""Tax has no public API: this internal one is for the orders service only."""
from flask import Blueprint, jsonify

from shop.tax.service import TaxService
from shop.web import params


def create_internal_blueprint(tax: TaxService) -> Blueprint:
    bp = Blueprint("tax_internal", __name__)

    @bp.get("/internal/tax")
    def tax_cents():
        # Any subtotal a cart can reach (99 of each of 1,200 products is over 9 digits of cents).
        subtotal = params.query_int("subtotal_cents", min_value=0, int64=True)
        country = params.query_str("country", required=True, max_len=2)
        region = params.query_str("region", max_len=50)
        return jsonify({"tax_cents": tax.tax_cents(subtotal, country, region)})

    return bp
