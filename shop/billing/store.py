"""Charges: one row per checkout key. Only the last four digits of a card are stored."""
import sqlite3

from shop.web.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL,
    card_last4 TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('captured', 'refunded'))
);
-- A key is claimed before the provider is asked, so that a second call with the same key, or a
-- void that arrives while the provider is still answering, is seen.
CREATE TABLE IF NOT EXISTS charge_claims (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('pending', 'voided'))
);
-- A charge marked refunded whose refund the provider has not confirmed yet: the provider is
-- called outside any transaction, so a process that dies (or a provider that fails) in between
-- leaves the row here, and the next refund of the charge tells the provider again.
CREATE TABLE IF NOT EXISTS refunds_due (
    charge_id INTEGER PRIMARY KEY
);
"""


def charge_dict(row) -> dict:
    return {"id": row["id"], "card_last4": row["card_last4"], "status": row["status"],
            "amount_cents": row["amount_cents"]}


class ChargeStore:
    def __init__(self, db: Database):
        self.db = db

    def create_schema(self) -> None:
        self.db.executescript(SCHEMA)

    def by_key(self, key: str):
        return self.db.query_one("SELECT * FROM charges WHERE key = ?", (key,))

    def by_id(self, charge_id: int):
        return self.db.query_one("SELECT * FROM charges WHERE id = ?", (charge_id,))

    def add(self, key: str, user_id: int, amount_cents: int, card_last4: str) -> bool:
        """False if a charge with this key already exists."""
        try:
            self.db.execute("INSERT INTO charges (key, user_id, amount_cents, card_last4, status) "
                            "VALUES (?, ?, ?, ?, 'captured')", (key, user_id, amount_cents, card_last4))
        except sqlite3.IntegrityError:
            return False
        return True

    def claim(self, key: str) -> str | None:
        row = self.db.query_one("SELECT state FROM charge_claims WHERE key = ?", (key,))
        return row["state"] if row else None

    def set_claim(self, key: str, state: str) -> None:
        self.db.execute("INSERT INTO charge_claims (key, state) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET state = excluded.state", (key, state))

    def drop_claim(self, key: str) -> None:
        self.db.execute("DELETE FROM charge_claims WHERE key = ?", (key,))

    def refund_due(self, charge_id: int) -> bool:
        return self.db.query_one("SELECT 1 FROM refunds_due WHERE charge_id = ?", (charge_id,)) is not None

    def set_refund_due(self, charge_id: int) -> None:
        self.db.execute("INSERT OR IGNORE INTO refunds_due (charge_id) VALUES (?)", (charge_id,))

    def refund_done(self, charge_id: int) -> None:
        self.db.execute("DELETE FROM refunds_due WHERE charge_id = ?", (charge_id,))

    def mark_refunded(self, charge_id: int) -> bool:
        cur = self.db.execute("UPDATE charges SET status = 'refunded' WHERE id = ? AND status = 'captured'",
                              (charge_id,))
        return cur.rowcount == 1
