"""Orders, idempotency keys and the checkout journal. An order keeps a copy of what was
bought, at the price paid.

The journal (``checkouts``) holds one row per checkout in flight: written before the checkout
has any effect outside this database (a reservation, a charge), deleted by a compare-and-set
in the same transaction that records the order. A row that stays is a checkout that did not
finish (its worker died, or undoing it failed): recovery undoes what it may have left behind.
"""
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
-- 'open': the checkout is running (or died); 'aborting': it failed, or recovery took it over,
-- and what it did is being undone. A finished checkout (order recorded, or everything undone)
-- has no row.
CREATE TABLE IF NOT EXISTS checkouts (
    checkout_key TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    idempotency_key TEXT,
    status TEXT NOT NULL CHECK (status IN ('open', 'aborting')),
    started_at REAL NOT NULL,
    owner TEXT  -- the process running it (shop/orders/owners.py), so a dead one is seen at once
);
CREATE INDEX IF NOT EXISTS checkouts_by_age ON checkouts(started_at);
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
        columns = {r["name"] for r in self.db.query("PRAGMA table_info(checkouts)")}
        if "owner" not in columns:  # a journal from before owners were recorded
            self.db.execute("ALTER TABLE checkouts ADD COLUMN owner TEXT")

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

    def drop_key(self, user_id: int, key: str, checkout_key: str | None = None) -> None:
        """Forget a key whose attempt failed. With ``checkout_key`` (the attempt that claimed
        it), not if another checkout in flight holds the key now: once the failed attempt had
        dropped it, the shopper may have retried with the same key."""
        if checkout_key is None:
            self.db.execute("DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND order_id IS NULL",
                            (user_id, key))
            return
        self.db.execute(
            "DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND order_id IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM checkouts WHERE user_id = ? AND idempotency_key = ? AND checkout_key != ?)",
            (user_id, key, user_id, key, checkout_key))

    # The checkout journal ------------------------------------------------------------------
    def open_checkout(self, checkout_key: str, user_id: int, idempotency_key: str | None,
                      started_at: float, owner: str | None = None) -> None:
        self.db.execute("INSERT INTO checkouts (checkout_key, user_id, idempotency_key, status, started_at, owner) "
                        "VALUES (?, ?, ?, 'open', ?, ?)", (checkout_key, user_id, idempotency_key, started_at, owner))

    def finish_checkout(self, checkout_key: str) -> bool:
        """The compare-and-set a checkout wins to record its order: False if recovery (or its
        own failure path) took the checkout over first."""
        cur = self.db.execute("DELETE FROM checkouts WHERE checkout_key = ? AND status = 'open'", (checkout_key,))
        return cur.rowcount == 1

    def abort_checkout(self, checkout_key: str) -> bool:
        """The compare-and-set that takes a checkout over to undo it: False if it finished
        (or was taken over) first. An 'aborting' row can no longer be finished."""
        cur = self.db.execute("UPDATE checkouts SET status = 'aborting' WHERE checkout_key = ? AND status = 'open'",
                              (checkout_key,))
        return cur.rowcount == 1

    def forget_checkout(self, checkout_key: str) -> None:
        """Everything the checkout did is undone."""
        self.db.execute("DELETE FROM checkouts WHERE checkout_key = ?", (checkout_key,))

    def checkout(self, checkout_key: str):
        return self.db.query_one("SELECT * FROM checkouts WHERE checkout_key = ?", (checkout_key,))

    def owners(self) -> set[str]:
        """The processes running the checkouts in flight (a small table: only those in flight)."""
        return {r[0] for r in self.db.query("SELECT DISTINCT owner FROM checkouts WHERE owner IS NOT NULL")}

    def unfinished(self, started_before: float | None = None) -> list:
        """Journal rows, oldest first (only those started before ``started_before`` if given)."""
        if started_before is None:
            return self.db.query("SELECT * FROM checkouts ORDER BY started_at")
        return self.db.query("SELECT * FROM checkouts WHERE started_at < ? ORDER BY started_at", (started_before,))

    def count_unfinished(self) -> int:
        return self.db.query_one("SELECT COUNT(*) FROM checkouts")[0]
