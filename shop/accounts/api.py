"""Public HTTP API of accounts: thin views that parse, call the service and map errors."""
from flask import Blueprint, jsonify, request

from shop.accounts.service import AccountsService
from shop.errors import NotFound, Unauthorized
from shop.web import clients, params
from shop.web.app import current_user_id, requires_auth


def create_blueprint(accounts: AccountsService, client_address=None) -> Blueprint:
    """``client_address(environ)``: the address a request came from, for the login limit
    (shop/web/clients.py: the peer, or what the gateway says it was)."""
    bp = Blueprint("accounts", __name__)
    client_address = client_address or clients.peer_address()

    @bp.post("/api/users")
    def register():
        body = params.json_body()
        email = params.string(body, "email", max_len=254)
        password = params.string(body, "password", min_len=8, max_len=1024, strip=False)
        name = params.string(body, "name", max_len=100)
        return jsonify(accounts.register(email, password, name)), 201

    @bp.post("/api/auth/login")
    def login():
        body = params.json_body()
        email = params.string(body, "email", max_len=254)
        password = params.string(body, "password", max_len=1024, strip=False)
        return jsonify(accounts.login(email, password, client=client_address(request.environ)))

    @bp.get("/api/users/me")
    @requires_auth
    def me():
        try:
            return jsonify(accounts.get(current_user_id()))
        except NotFound:
            # A valid signature for a user that no longer exists (e.g. after `make reset`).
            raise Unauthorized("The bearer token is for an unknown user; log in again.") from None

    return bp


def create_internal_blueprint(accounts: AccountsService) -> Blueprint:
    """For the gateway: whether a token's user exists (a forged token may name one who does not)."""
    bp = Blueprint("accounts_internal", __name__)

    @bp.get("/internal/users/<int:user_id>")
    def exists(user_id: int):
        accounts.get(user_id)  # NotFound: 404
        return jsonify({"id": user_id})

    return bp
