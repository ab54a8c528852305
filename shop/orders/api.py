"""Public API of checkout and orders. The body's shape (address, payment, fields) is validated
(400) before anything else runs; the shipping option, which depends on the destination and
the cart's weight, is checked by the checkout before the cart is found empty (400 before 409)."""
import re

from flask import Blueprint, jsonify, request

from shop import inputs
from shop.errors import InvalidRequest
from shop.orders.checkout import Checkout
from shop.web import params
from shop.web.admin import require_admin
from shop.web.app import current_user_id, requires_auth

_KEY = re.compile(r"[\x21-\x7e]{1,128}")


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _KEY.fullmatch(key):
        raise InvalidRequest("The Idempotency-Key header must be 1 to 128 visible ASCII characters.")
    return key


def create_blueprint(checkout: Checkout) -> Blueprint:
    bp = Blueprint("orders", __name__)

    @bp.post("/api/checkout/quote")
    @requires_auth
    def quote():
        body = params.json_body()
        address = inputs.address(body)
        option = params.string(body, "shipping_option", max_len=50)
        return jsonify(checkout.quote(current_user_id(), address, option))

    @bp.post("/api/orders")
    @requires_auth
    def place():
        key = _idempotency_key()
        if key is not None:
            # A repeat returns the first order whatever the new body says, so look first.
            first = checkout.replayed(current_user_id(), key)
            if first is not None:
                return jsonify(first), 201
        body = params.json_body()
        address = inputs.address(body)
        option = params.string(body, "shipping_option", max_len=50)
        card = inputs.payment(body)
        order, _created = checkout.place(current_user_id(), address, option, card, key)
        return jsonify(order), 201

    @bp.get("/api/orders")
    @requires_auth
    def orders():
        page, per_page = params.pagination()
        items, total = checkout.orders(current_user_id(), page, per_page)
        return jsonify(params.page_of(items, page, per_page, total))

    @bp.get("/api/orders/<int:order_id>")
    @requires_auth
    def order(order_id: int):
        return jsonify(checkout.order(current_user_id(), order_id))

    @bp.post("/api/orders/<int:order_id>/cancel")
    @requires_auth
    def cancel(order_id: int):
        return jsonify(checkout.cancel(current_user_id(), order_id))

    return bp


def create_admin_blueprint(run_recovery, admin_token: str | None) -> Blueprint:
    """``POST /admin/checkouts/recover``: undo the unfinished checkouts older than the
    deployable's SHOP_CHECKOUT_RECOVER_AFTER_MS now, and say what was done. On the monolith's
    port and the orders service's; the gateway does not route it (it is not public). ``run_recovery``:
    the recovery schedule's ``run`` (one recovery at a time: this one waits for a running one)."""
    bp = Blueprint("orders_admin", __name__)

    @bp.before_request
    def _admin_only():
        require_admin(admin_token)

    @bp.post("/admin/checkouts/recover")
    def recover():
        return jsonify(run_recovery())

    return bp
