"""The billing service: charges and refunds (internal API), and the payment path's fault injection."""
from shop.billing.api import create_admin_blueprint, create_internal_blueprint
from shop.billing.faults import FaultSettings, FaultyProvider
from shop.billing.provider import SimulatedProvider
from shop.billing.service import BillingService
from shop.billing.store import ChargeStore


def blueprints(config, db, tokens) -> list:
    store = ChargeStore(db)
    store.create_schema()
    faults = FaultSettings(config.faults_file)
    billing = BillingService(store, FaultyProvider(SimulatedProvider(), faults))
    return [create_internal_blueprint(billing), create_admin_blueprint(faults, config.admin_token)]
