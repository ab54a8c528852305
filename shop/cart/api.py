"""Public cart API (the signed-in user's own cart only) and the internal API checkout uses."""
from flask import Blueprint, jsonify

from shop.cart.service import CartService
from shop.errors import InvalidRequest
from shop.web import params
from shop.web.app import current_user_id, requires_auth


def create_blueprint(cart: CartService) -> Blueprint:
    bp = Blueprint("cart", __name__)

    @bp.get("/api/cart")
    @requires_auth
    def view():
        return jsonify(cart.view(current_user_id()))

    @bp.put("/api/cart/items/<int:product_id>")
    @requires_auth
    def set_item(product_id: int):
        quantity = params.integer(params.json_body(), "quantity", min_value=1, max_value=99)
        return jsonify(cart.set_quantity(current_user_id(), product_id, quantity))

    @bp.delete("/api/cart/items/<int:product_id>")
    @requires_auth
    def remove_item(product_id: int):
        return jsonify(cart.remove(current_user_id(), product_id))

    return bp


def create_internal_blueprint(cart: CartService) -> Blueprint:
    bp = Blueprint("cart_internal", __name__)

    @bp.get("/internal/carts/<int:user_id>/lines")
    def lines(user_id: int):
        return jsonify({"lines": [list(x) for x in cart.lines(user_id)]})

    @bp.post("/internal/carts/<int:user_id>/clear")
    def clear(user_id: int):
        ids = params.json_body().get("product_ids")
        if ids is not None and (not isinstance(ids, list) or not all(type(i) is int for i in ids)):
            raise InvalidRequest("'product_ids' must be a list of product ids.")
        cart.clear(user_id, ids)
        return jsonify({"status": "cleared"})

    return bp
