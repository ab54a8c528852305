"""Shipping's APIs: the public one (a shopper asks the options for a destination and a weight)
and the internal one the orders service asks for a cart's options."""
from flask import Blueprint, jsonify

from shop.shipping.service import ShippingService
from shop.web import params


def create_blueprint(shipping: ShippingService) -> Blueprint:
    bp = Blueprint("shipping", __name__)

    @bp.get("/api/shipping/options")
    def options():
        country = params.query_str("country", required=True, max_len=50).upper()
        weight = params.query_int("weight_grams", min_value=0, max_value=1_000_000)
        return jsonify({"options": shipping.options(country, weight)})

    return bp


def create_internal_blueprint(shipping: ShippingService) -> Blueprint:
    """For checkout: a cart's weight is computed, not typed by a shopper, so it is not capped
    like the public parameter (99 of a 22 kg product is over its 1,000 kg): any cart the
    contract allows gets the same options as in the monolith, where this is a method call."""
    bp = Blueprint("shipping_internal", __name__)

    @bp.get("/internal/shipping/options")
    def options():
        country = params.query_str("country", required=True, max_len=50).upper()
        weight = params.query_int("weight_grams", min_value=0, int64=True)
        return jsonify({"options": shipping.options(country, weight)})

    return bp
