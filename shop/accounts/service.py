"""Account rules: who may register, how a password is checked, what a user looks like."""
import re

from werkzeug.security import check_password_hash, generate_password_hash

from shop.accounts.limits import LoginLimits, LoginThrottle
from shop.accounts.store import UserStore
from shop.errors import EmailTaken, InvalidRequest, NotFound, Unauthorized
from shop.web.tokens import TokenSigner

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")

# The load tests log in as these seeded shoppers, so that a traffic spike measures shopping
# and not a storm of password hashing. They all share one password: the hash is computed
# once at seeding time instead of once per account.
SEED_SHOPPERS = 500
SEED_SHOPPER_PASSWORD = "shopper-password"


def seed_shopper_email(n: int) -> str:
    return f"shopper{n:04d}@example.com"


def public_user(row) -> dict:
    return {"id": row["id"], "email": row["email"], "name": row["name"]}


class AccountsService:
    def __init__(self, store: UserStore, tokens: TokenSigner, limits: LoginLimits | None = None,
                 clock=None):
        self.store = store
        self.tokens = tokens
        self.throttle = LoginThrottle(store.db, limits or LoginLimits(), **({"clock": clock} if clock else {}))
        self.throttle.create_schema()
        # Checked against when the email is unknown, so both failures take the same time.
        self._dummy_hash = generate_password_hash("not-a-real-password")

    def seed(self) -> None:
        if self.store.count() == 0:
            shared_hash = generate_password_hash(SEED_SHOPPER_PASSWORD)
            self.store.add_many([(seed_shopper_email(n), f"Shopper {n}", shared_hash)
                                 for n in range(1, SEED_SHOPPERS + 1)])

    def register(self, email: str, password: str, name: str) -> dict:
        email = email.strip().lower()
        if len(email) > 254 or not _EMAIL.fullmatch(email):
            raise InvalidRequest("The field 'email' must be a valid email address.")
        if len(password) < 8:
            raise InvalidRequest("The field 'password' must be at least 8 characters long.")
        user_id = self.store.add(email, name, generate_password_hash(password))
        if user_id is None:
            raise EmailTaken("An account with this email already exists; log in instead.")
        return {"id": user_id, "email": email, "name": name}

    def login(self, email: str, password: str, client: str | None = None) -> dict:
        """``client``: the address the attempt came from, for the per-client limit."""
        email = email.strip().lower()
        self.throttle.attempt(email, client)   # 429 before any password is checked
        row = self.store.by_email(email)
        if row is None:
            check_password_hash(self._dummy_hash, password)
            ok = False
        else:
            ok = check_password_hash(row["password_hash"], password)
        if not ok:
            raise Unauthorized("The email or password is incorrect.")
        self.throttle.succeeded(email, client)
        return {"token": self.tokens.issue(row["id"]), "token_type": "Bearer",
                "expires_in": self.tokens.ttl_seconds, "user": public_user(row)}

    def get(self, user_id: int) -> dict:
        row = self.store.by_id(user_id)
        if row is None:
            raise NotFound("No such user.")
        return public_user(row)
