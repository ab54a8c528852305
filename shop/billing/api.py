"""Billing has no public API: this internal one is for the orders service only."""
from flask import Blueprint, jsonify

from shop import inputs
from shop.billing.service import BillingService
from shop.web import params


def create_internal_blueprint(billing: BillingService) -> Blueprint:
    bp = Blueprint("billing_internal", __name__)

    @bp.post("/internal/charges")
    def charge():
        body = params.json_body()
        card = inputs.payment(body)
        return jsonify(billing.charge(params.string(body, "key", max_len=200),
                                      params.integer(body, "user_id", min_value=1),
                                      params.integer(body, "amount_cents", min_value=0), card))

    @bp.post("/internal/charges/<int:charge_id>/refund")
    def refund(charge_id: int):
        return jsonify(billing.refund(charge_id))

    @bp.post("/internal/charges/void")
    def void():
        billing.void(params.string(params.json_body(), "key", max_len=200))
        return jsonify({"status": "voided"})

    return bp
