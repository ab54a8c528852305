"""The accounts service: users, sign-in, tokens; behind the gateway, which says who the client was."""
from shop.accounts.api import create_blueprint, create_internal_blueprint
from shop.accounts.limits import LoginLimits
from shop.accounts.service import AccountsService
from shop.accounts.store import UserStore
from shop.web import clients


def blueprints(config, db, tokens) -> list:
    store = UserStore(db)
    store.create_schema()
    # Behind the gateway: it says who the client was (shop/web/clients.py).
    accounts = AccountsService(store, tokens, LoginLimits(**config.login_limits))
    if config.seed_shoppers:
        accounts.seed()
    return [create_blueprint(accounts, clients.from_gateway), create_internal_blueprint(accounts)]
