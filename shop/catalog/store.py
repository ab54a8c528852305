"""Catalog tables: categories, products and stock reservations (one row per checkout key)."""
import json

from shop.web.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS categories (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL REFERENCES categories(slug),
    price_cents INTEGER NOT NULL,
    stock INTEGER NOT NULL CHECK (stock >= 0),
    weight_grams INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS products_category ON products(category, id);
CREATE TABLE IF NOT EXISTS reservations (
    key TEXT PRIMARY KEY,
    lines TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('reserved', 'released'))
);
"""

_COLUMNS = "id, sku, name, description, category, price_cents, stock, weight_grams"


def product_dict(row) -> dict:
    return {k: row[k] for k in ("id", "sku", "name", "description", "category",
                                "price_cents", "stock", "weight_grams")}


class CatalogStore:
    def __init__(self, db: Database):
        self.db = db

    def create_schema(self) -> None:
        self.db.executescript(SCHEMA)

    def load_seed(self, categories: list[dict], products: list[dict]) -> None:
        with self.db.transaction() as conn:
            if conn.execute("SELECT COUNT(*) FROM products").fetchone()[0]:
                return  # another worker seeded first
            conn.executemany("INSERT INTO categories (slug, name, position) VALUES (?, ?, ?)",
                             [(c["slug"], c["name"], i) for i, c in enumerate(categories)])
            conn.executemany(
                f"INSERT INTO products ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(p["id"], p["sku"], p["name"], p["description"], p["category"],
                  p["price_cents"], p["stock"], p["weight_grams"]) for p in products])

    def categories(self) -> list[dict]:
        rows = self.db.query(
            "SELECT c.slug, c.name, COUNT(p.id) AS product_count FROM categories c "
            "LEFT JOIN products p ON p.category = c.slug GROUP BY c.slug ORDER BY c.position")
        return [dict(r) for r in rows]

    def search(self, q: str | None, category: str | None, limit: int, offset: int) -> tuple[list[dict], int]:
        where, args = [], []
        if category is not None:
            where.append("category = ?")
            args.append(category)
        if q is not None:
            where.append("(instr(lower(name), ?) > 0 OR instr(lower(description), ?) > 0)")
            args += [q.lower(), q.lower()]
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        total = self.db.query_one(f"SELECT COUNT(*) FROM products {clause}", args)[0]
        rows = self.db.query(f"SELECT {_COLUMNS} FROM products {clause} ORDER BY id LIMIT ? OFFSET ?",
                             [*args, limit, offset])
        return [product_dict(r) for r in rows], total

    def by_ids(self, ids: list[int]) -> dict[int, dict]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.query(f"SELECT {_COLUMNS} FROM products WHERE id IN ({marks})", list(ids))
        return {r["id"]: product_dict(r) for r in rows}

    def take_stock(self, product_id: int, quantity: int) -> bool:
        """Decrement stock only if enough is left: the condition and the write are one statement."""
        cur = self.db.execute("UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ?",
                              (quantity, product_id, quantity))
        return cur.rowcount == 1

    def give_back_stock(self, product_id: int, quantity: int) -> None:
        self.db.execute("UPDATE products SET stock = stock + ? WHERE id = ?", (quantity, product_id))

    def reservation(self, key: str):
        row = self.db.query_one("SELECT key, lines, status FROM reservations WHERE key = ?", (key,))
        if row is None:
            return None
        return {"key": row["key"], "lines": [tuple(x) for x in json.loads(row["lines"])],
                "status": row["status"]}

    def add_reservation(self, key: str, lines: list[tuple[int, int]], status: str = "reserved") -> None:
        self.db.execute("INSERT INTO reservations (key, lines, status) VALUES (?, ?, ?)",
                        (key, json.dumps([list(x) for x in lines]), status))

    def mark_released(self, key: str) -> None:
        self.db.execute("UPDATE reservations SET status = 'released' WHERE key = ?", (key,))
