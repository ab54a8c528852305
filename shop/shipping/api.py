"""Public shipping API: the options for a destination and a weight."""
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
