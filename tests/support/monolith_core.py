"""The monolith's own wiring (monolith/bootstrap.py) over a real SQLite file, without the web
app: for tests that need the books a real checkout leaves behind (the audit tests), or that
watch what the monolith's checkout does inside its transactions."""
import sqlite3
from pathlib import Path

from monolith.bootstrap import Monolith, bootstrap
from monolith.config import Config

ADDRESS = {"name": "A", "line1": "1 Main", "city": "Austin", "region": "TX", "postal_code": "78701", "country": "US"}
CARD = {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}


def monolith_core(data_dir: Path, **bootstrap_args) -> Monolith:
    """The monolith in ``data_dir/monolith/shop.db`` (where the audit looks), seeded with the
    catalog but not the shoppers; ``bootstrap_args`` as ``bootstrap`` takes them."""
    return bootstrap(Config(data_dir=Path(data_dir), seed_shoppers=False), **bootstrap_args)


def write(path, sql, params=()) -> None:
    """Change a database behind the code's back (to damage the books on purpose)."""
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()
