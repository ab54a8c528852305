"""Cart lines. ``seq`` keeps lines in the order first added."""
from shop.web.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS cart_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    UNIQUE (user_id, product_id)
);
"""


class CartStore:
    def __init__(self, db: Database):
        self.db = db

    def create_schema(self) -> None:
        self.db.executescript(SCHEMA)

    def lines(self, user_id: int) -> list[tuple[int, int]]:
        rows = self.db.query("SELECT product_id, quantity FROM cart_items WHERE user_id = ? ORDER BY seq",
                             (user_id,))
        return [(r["product_id"], r["quantity"]) for r in rows]

    def set_quantity(self, user_id: int, product_id: int, quantity: int) -> None:
        self.db.execute(
            "INSERT INTO cart_items (user_id, product_id, quantity) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = excluded.quantity",
            (user_id, product_id, quantity))

    def remove(self, user_id: int, product_id: int) -> None:
        self.db.execute("DELETE FROM cart_items WHERE user_id = ? AND product_id = ?", (user_id, product_id))

    def clear(self, user_id: int, product_ids: list[int] | None = None) -> None:
        if product_ids is None:
            self.db.execute("DELETE FROM cart_items WHERE user_id = ?", (user_id,))
        elif product_ids:
            marks = ",".join("?" * len(product_ids))
            self.db.execute(f"DELETE FROM cart_items WHERE user_id = ? AND product_id IN ({marks})",
                            [user_id, *product_ids])
