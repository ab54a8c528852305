"""Bootstrap of each microservice: ``create_app("catalog")`` etc.

A service gets its own SQLite file holding only its own data, its own capability's
blueprints (``microservices/services/<service>.py``: one module per service, importing only
its own capability), and HTTP clients (the ports' network adapters) for the capabilities it
uses. Only the one service's module is imported: a process holds one capability."""
import importlib

from flask import Flask, jsonify

from microservices.clients import client_for
from microservices.config import SERVICE_PORTS, Config
from shop.errors import NotFound
from shop.web.app import create_base_app
from shop.web.db import Database
from shop.web.tokens import KnownUsers, TokenSigner


def known_users(config: Config, service: str) -> KnownUsers | None:
    """A service checks that a token's user exists itself: Envoy's jwt_authn checks the
    signature and the expiry, not the account (the Python gateway asks accounts too, and
    either gateway may front the same services). Asked of accounts once per user and worker,
    then remembered; the accounts service answers /api/users/me from its own store anyway."""
    if service == "accounts":
        return None
    accounts = client_for(config, "accounts", service)

    def exists(user_id: int) -> bool:
        try:
            accounts.call("GET", f"/internal/users/{user_id}", idempotent=True)
        except NotFound:
            return False
        return True

    return KnownUsers(exists)


def create_app(service: str, config: Config | None = None) -> Flask:
    if service not in SERVICE_PORTS:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICE_PORTS)}")
    config = config or Config.from_env()
    config.check_secret()  # refuses the published secret on a public address, however started
    tokens = TokenSigner(config.secret, config.token_ttl)
    db = Database(config.database(service))
    blueprints = importlib.import_module(f"microservices.services.{service}").blueprints(config, db, tokens)
    db.close()  # gunicorn forks workers after this; each opens its own connection

    app = create_base_app(service, tokens, config.admission, known_users(config, service),
                          log_format=config.log_format, tracing=config.tracing)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "service": service})

    return app
