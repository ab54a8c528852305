"""Users table. Passwords are stored only as salted scrypt hashes (werkzeug.security)."""
import sqlite3

from shop.web.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL
);
"""


class UserStore:
    def __init__(self, db: Database):
        self.db = db

    def create_schema(self) -> None:
        self.db.executescript(SCHEMA)

    def add(self, email: str, name: str, password_hash: str) -> int | None:
        """The new user's id, or None if the email is taken."""
        try:
            cur = self.db.execute("INSERT INTO users (email, name, password_hash) VALUES (?, ?, ?)",
                                  (email, name, password_hash))
        except sqlite3.IntegrityError:
            return None
        return cur.lastrowid

    def add_many(self, rows: list[tuple[str, str, str]]) -> None:
        with self.db.transaction() as conn:
            conn.executemany("INSERT OR IGNORE INTO users (email, name, password_hash) VALUES (?, ?, ?)", rows)

    def by_email(self, email: str):
        return self.db.query_one("SELECT * FROM users WHERE email = ?", (email,))

    def by_id(self, user_id: int):
        return self.db.query_one("SELECT * FROM users WHERE id = ?", (user_id,))

    def count(self) -> int:
        return self.db.query_one("SELECT COUNT(*) FROM users")[0]
