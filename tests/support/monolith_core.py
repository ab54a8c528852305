"""The monolith's capabilities over one real SQLite database, wired in process (no web app):
for tests that need the books a real checkout leaves behind (the audit tests)."""
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from shop.billing.provider import SimulatedProvider
from shop.billing.service import BillingService
from shop.billing.store import ChargeStore
from shop.cart.service import CartService
from shop.cart.store import CartStore
from shop.catalog.service import CatalogService
from shop.catalog.store import CatalogStore
from shop.orders.store import OrderStore
from shop.shipping.service import ShippingService
from shop.tax.service import TaxService
from shop.web.db import Database

ADDRESS = {"name": "A", "line1": "1 Main", "city": "Austin", "region": "TX", "postal_code": "78701", "country": "US"}
CARD = {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}


@dataclass
class MonolithCore:
    db: Database
    orders: OrderStore
    catalog: CatalogService
    cart: CartService
    billing: BillingService

    def checkout_parts(self) -> dict:
        """What a Checkout needs besides its order store and cart, as keyword arguments."""
        return dict(tax=TaxService(), shipping=ShippingService(), catalog=self.catalog,
                    billing=self.billing, atomic=True)


def monolith_core(data_dir: Path) -> MonolithCore:
    """The monolith's schema and seed in ``data_dir/monolith/shop.db`` (where the audit looks)."""
    db = Database(data_dir / "monolith" / "shop.db")
    catalog_store, carts, charges, orders = CatalogStore(db), CartStore(db), ChargeStore(db), OrderStore(db)
    for store in (catalog_store, carts, charges, orders):
        store.create_schema()
    catalog = CatalogService(catalog_store)
    catalog.seed()
    return MonolithCore(db, orders, catalog, CartService(carts, catalog=catalog),
                        BillingService(charges, SimulatedProvider()))


def write(path, sql, params=()) -> None:
    """Change a database behind the code's back (to damage the books on purpose)."""
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()
