"""The monolith's web app: what ``monolith/bootstrap.py`` wires, behind every capability's blueprint."""
from flask import Flask, jsonify

from monolith.bootstrap import bootstrap
from monolith.config import Config
from shop.accounts.api import create_blueprint as accounts_api
from shop.billing.api import create_admin_blueprint
from shop.cart.api import create_blueprint as cart_api
from shop.catalog.api import create_blueprint as catalog_api
from shop.orders.api import create_admin_blueprint as orders_admin
from shop.orders.api import create_blueprint as orders_api
from shop.shipping.api import create_blueprint as shipping_api
from shop.web import clients
from shop.web.app import create_base_app
from shop.web.tokens import KnownUsers


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    config.check_secret()  # refuses the published secret on a public address, however started
    shop = bootstrap(config)
    # Checkouts a previous run left unfinished (a worker died mid-way). This runs once, in
    # gunicorn's master (--preload); the workers then recover every few seconds as they go.
    shop.orders.schedule.run()
    shop.db.close()  # gunicorn forks workers after this; each opens its own connection

    # A token names an existing user, or it is refused (a forged one may name anyone).
    users = shop.users
    app = create_base_app("monolith", shop.tokens, config.admission,
                          known_users=KnownUsers(lambda user_id: users.by_id(user_id) is not None),
                          log_format=config.log_format, tracing=config.tracing)
    for blueprint in (accounts_api(shop.accounts, clients.peer_address(config.forwarded_allow_ips)),
                      catalog_api(shop.catalog), cart_api(shop.cart), shipping_api(shop.shipping),
                      orders_api(shop.checkout), create_admin_blueprint(shop.faults, config.admin_token),
                      orders_admin(shop.orders.schedule.run, config.admin_token)):
        app.register_blueprint(blueprint)

    db = shop.db

    @app.get("/healthz")
    def healthz():
        db.query_one("SELECT 1")
        return jsonify({"status": "ok", "architecture": "monolith"})

    return app
