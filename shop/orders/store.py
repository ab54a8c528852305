"""Orders and idempotency keys. An order keeps a copy of what was bought, at the price paid."""
import datetime as dt
import json
import sqlite3

from shop.web.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('paid', 'cancelling', 'cancelled')),
    items TEXT NOT NULL,
    subtotal_cents INTEGER NOT NULL,
    shipping_cents INTEGER NOT NULL,
    tax_cents INTEGER NOT NULL,
    total_cents INTEGER NOT NULL,
    shipping_option TEXT NOT NULL,
    address TEXT NOT NULL,
    card_last4 TEXT NOT NULL,
    payment_status TEXT NOT NULL CHECK (payment_status IN ('captured', 'refunded')),
    charge_id INTEGER NOT NULL,
    checkout_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_user ON orders(user_id, id);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    user_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    order_id INTEGER REFERENCES orders(id),
    PRIMARY KEY (user_id, key)
);
"""


def order_dict(row) -> dict:
    return {
        "id": row["id"],
        # 'cancelling' is a saga's intermediate step; to the outside the order is still paid.
        "status": "cancelled" if row["status"] == "cancelled" else "paid",
        "items": json.loads(row["items"]),
        "subtotal_cents": row["subtotal_cents"],
        "shipping_cents": row["shipping_cents"],
        "tax_cents": row["tax_cents"],
        "total_cents": row["total_cents"],
        "shipping_option": row["shipping_option"],
        "address": json.loads(row["address"]),
        "payment": {"card_last4": row["card_last4"], "status": row["payment_status"]},
        "created_at": row["created_at"],
    }


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class OrderStore:
    def __init__(self, db: Database):
        self.db = db

    def create_schema(self) -> None:
        self.db.executescript(SCHEMA)

    def add(self, user_id: int, quote: dict, address: dict, charge: dict, checkout_key: str) -> int:
        cur = self.db.execute(
            "INSERT INTO orders (user_id, status, items, subtotal_cents, shipping_cents, tax_cents, "
            "total_cents, shipping_option, address, card_last4, payment_status, charge_id, checkout_key, "
            "created_at) VALUES (?, 'paid', ?, ?, ?, ?, ?, ?, ?, ?, 'captured', ?, ?, ?)",
            (user_id, json.dumps(quote["items"]), quote["subtotal_cents"], quote["shipping_cents"],
             quote["tax_cents"], quote["total_cents"], quote["shipping_option"], json.dumps(address),
             charge["card_last4"], charge["id"], checkout_key, now_rfc3339()))
        return cur.lastrowid

    def get(self, user_id: int, order_id: int):
        return self.db.query_one("SELECT * FROM orders WHERE id = ? AND user_id = ?", (order_id, user_id))

    def page(self, user_id: int, limit: int, offset: int) -> tuple[list, int]:
        total = self.db.query_one("SELECT COUNT(*) FROM orders WHERE user_id = ?", (user_id,))[0]
        rows = self.db.query("SELECT * FROM orders WHERE user_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
                             (user_id, limit, offset))
        return rows, total

    def set_status(self, order_id: int, new: str, *, expected: str, payment_status: str | None = None) -> bool:
        """Compare-and-set, so two racing cancels cannot both proceed."""
        if payment_status is None:
            cur = self.db.execute("UPDATE orders SET status = ? WHERE id = ? AND status = ?",
                                  (new, order_id, expected))
        else:
            cur = self.db.execute("UPDATE orders SET status = ?, payment_status = ? WHERE id = ? AND status = ?",
                                  (new, payment_status, order_id, expected))
        return cur.rowcount == 1

    # Idempotency keys: claimed before a checkout starts, bound to its order when it succeeds,
    # dropped when it fails (a failed attempt is not kept).
    def claim_key(self, user_id: int, key: str) -> bool:
        try:
            self.db.execute("INSERT INTO idempotency_keys (user_id, key) VALUES (?, ?)", (user_id, key))
        except sqlite3.IntegrityError:
            return False
        return True

    def order_for_key(self, user_id: int, key: str) -> tuple[bool, int | None]:
        """(key known, its order id or None while in progress)."""
        row = self.db.query_one("SELECT order_id FROM idempotency_keys WHERE user_id = ? AND key = ?",
                                (user_id, key))
        return (False, None) if row is None else (True, row["order_id"])

    def bind_key(self, user_id: int, key: str, order_id: int) -> None:
        self.db.execute("UPDATE idempotency_keys SET order_id = ? WHERE user_id = ? AND key = ?",
                        (order_id, user_id, key))

    def drop_key(self, user_id: int, key: str) -> None:
        self.db.execute("DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND order_id IS NULL",
                        (user_id, key))
