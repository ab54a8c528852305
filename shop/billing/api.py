"""Billing has no public API: an internal one for the orders service, and the admin one
that injects faults into the payment path."""
from flask import Blueprint, jsonify

from shop import inputs
from shop.billing.faults import FaultSettings
from shop.billing.service import BillingService
from shop.web import params
from shop.web.admin import require_admin


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


def create_admin_blueprint(settings: FaultSettings, admin_token: str | None) -> Blueprint:
    """Fault injection on the payment path: GET, PUT (partial) or DELETE (no faults)."""
    bp = Blueprint("billing_admin", __name__)

    @bp.before_request
    def _admin_only():
        require_admin(admin_token)

    @bp.get("/admin/faults")
    def show():
        return jsonify(settings.current())

    @bp.put("/admin/faults")
    def change():
        return jsonify(settings.update(params.json_body()))

    @bp.delete("/admin/faults")
    def reset():
        return jsonify(settings.reset())

    return bp
