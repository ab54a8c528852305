"""Accounts: registration, login, the signed-in user, and what every protected endpoint does
with a missing, malformed, forged or expired token (API.md: 401 `unauthorized`)."""
import base64
import json
import time
import uuid

import jwt
import pytest

from tests.support.client import US_ADDRESS, VALID_CARD, Api, error_code
from tests.support.deployments import TEST_SECRET

# The test secret is short on purpose; PyJWT's advice about key length is noise here.
pytestmark = pytest.mark.filterwarnings("ignore:The HMAC key is")

PASSWORD = "correct horse battery"
USER_KEYS = {"id", "email", "name"}


def unique_email(prefix: str = "acct") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@pytest.fixture(scope="module")
def client(deployment):
    return Api(deployment.url)


@pytest.fixture(scope="module")
def user(client):
    """One registered, logged-in user per deployment, shared by the tests that only read."""
    return client.new_user("acct")


def craft_token(sub, *, secret=TEST_SECRET, iat=None, exp=None, lifetime=300, **extra) -> str:
    now = int(time.time())
    payload = {"sub": sub, "iat": now if iat is None else iat,
               "exp": (now + lifetime) if exp is None else exp, **extra}
    return jwt.encode(payload, secret, algorithm="HS256")


# -- registration ------------------------------------------------------------------------------

def test_register_returns_201_with_exact_body_and_lower_cases_the_email(client):
    local = f"Mixed.Case-{uuid.uuid4().hex[:10]}"
    r = client.post("/api/users", json={"email": f"{local}@Example.COM", "password": PASSWORD,
                                        "name": "Ada Lovelace"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == USER_KEYS, body
    assert is_int(body["id"]) and body["id"] > 0
    assert body["email"] == f"{local.lower()}@example.com"
    assert body["name"] == "Ada Lovelace"

    # The stored account is the one returned: log in with it and read it back.
    r = client.post("/api/auth/login", json={"email": body["email"], "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["user"] == body
    r = client.get("/api/users/me", token=r.json()["token"])
    assert r.status_code == 200, r.text
    assert r.json() == body


def test_register_accepts_the_boundaries(client):
    """A password of exactly 8 characters and a name of exactly 100 are allowed."""
    email = unique_email("bounds")
    r = client.post("/api/users", json={"email": email, "password": "12345678", "name": "n" * 100})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "n" * 100
    assert r.json()["email"] == email


def test_each_registration_gets_its_own_id(client, user):
    r = client.post("/api/users", json={"email": unique_email("second"), "password": PASSWORD,
                                        "name": "Second"})
    assert r.status_code == 201, r.text
    assert r.json()["id"] != user["id"]


@pytest.mark.parametrize("transform", [str, str.upper, str.title],
                         ids=["same", "upper-case", "title-case"])
def test_register_existing_email_is_409_email_taken(client, user, transform):
    r = client.post("/api/users", json={"email": transform(user["email"]),
                                        "password": "another password", "name": "Someone Else"})
    assert r.status_code == 409, r.text
    assert error_code(r) == "email_taken"
    # The original account is untouched: its password still works.
    r = client.post("/api/auth/login", json={"email": user["email"], "password": user["password"]})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["name"] == user["name"]


def _valid_registration() -> dict:
    return {"email": unique_email("invalid"), "password": PASSWORD, "name": "Valid Name"}


INVALID_REGISTRATIONS = [
    # (id, changes to a valid body (None deletes the key), the field the message must name)
    ("missing-email", {"email": None}, "email"),
    ("missing-password", {"password": None}, "password"),
    ("missing-name", {"name": None}, "name"),
    ("email-null", {"email": "__null__"}, "email"),
    ("email-number", {"email": 12345}, "email"),
    ("email-list", {"email": ["a@example.com"]}, "email"),
    ("password-number", {"password": 12345678}, "password"),
    ("password-bool", {"password": True}, "password"),
    ("name-number", {"name": 7}, "name"),
    ("name-object", {"name": {"first": "Ada"}}, "name"),
    ("email-empty", {"email": ""}, "email"),
    ("password-empty", {"password": ""}, "password"),
    ("name-empty", {"name": ""}, "name"),
    ("password-7-chars", {"password": "1234567"}, "password"),
    ("name-101-chars", {"name": "n" * 101}, "name"),
    ("email-no-at", {"email": "plainaddress"}, "email"),
    ("email-no-domain", {"email": "user@"}, "email"),
    ("email-no-local-part", {"email": "@example.com"}, "email"),
    ("email-two-ats", {"email": "two@@example.com"}, "email"),
    ("email-with-space", {"email": "sp ace@example.com"}, "email"),
    ("email-space-in-domain", {"email": "user@exa mple.com"}, "email"),
]


@pytest.mark.parametrize("changes,field", [c[1:] for c in INVALID_REGISTRATIONS],
                         ids=[c[0] for c in INVALID_REGISTRATIONS])
def test_register_rejects_invalid_fields_naming_the_field(client, changes, field):
    body = _valid_registration()
    for key, value in changes.items():
        if value is None:
            del body[key]
        else:
            body[key] = None if value == "__null__" else value
    r = client.post("/api/users", json=body)
    assert r.status_code == 400, r.text
    assert error_code(r) == "invalid_request"
    assert field in r.json()["error"]["message"], r.json()


def test_rejected_registration_creates_no_account(client):
    email = unique_email("rejected")
    r = client.post("/api/users", json={"email": email, "password": "short", "name": "X"})
    assert r.status_code == 400, r.text
    r = client.post("/api/users", json={"email": email, "password": PASSWORD, "name": "X"})
    assert r.status_code == 201, r.text


# -- login ---------------------------------------------------------------------------------------

def test_login_returns_a_bearer_token_and_the_user(client, user):
    r = client.post("/api/auth/login", json={"email": user["email"], "password": user["password"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"token", "token_type", "expires_in", "user"}, body
    assert body["token_type"] == "Bearer"
    assert is_int(body["expires_in"]) and 0 < body["expires_in"] <= 86_400, body
    assert body["user"] == {"id": user["id"], "email": user["email"], "name": user["name"]}
    assert isinstance(body["token"], str) and body["token"]
    # The token is an HS256 JWT for this user that lives exactly `expires_in` seconds.
    claims = jwt.decode(body["token"], TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == str(user["id"])
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    r = client.get("/api/users/me", token=body["token"])
    assert r.status_code == 200, r.text


def test_login_failures_give_one_message_for_unknown_email_and_wrong_password(client, user):
    unknown = client.post("/api/auth/login", json={"email": unique_email("nobody"),
                                                   "password": user["password"]})
    wrong = client.post("/api/auth/login", json={"email": user["email"],
                                                 "password": user["password"] + "!"})
    for r in (unknown, wrong):
        assert r.status_code == 401, r.text
        assert error_code(r) == "unauthorized"
    assert unknown.json() == wrong.json()
    assert unknown.content == wrong.content


@pytest.mark.parametrize("body,field", [
    ({"password": PASSWORD}, "email"),
    ({"email": "someone@example.com"}, "password"),
    ({"email": 42, "password": PASSWORD}, "email"),
    ({"email": "someone@example.com", "password": 12345678}, "password"),
    ({"email": "", "password": PASSWORD}, "email"),
    ({"email": "someone@example.com", "password": ""}, "password"),
], ids=["missing-email", "missing-password", "email-number", "password-number",
        "email-empty", "password-empty"])
def test_login_rejects_missing_or_wrong_fields(client, body, field):
    r = client.post("/api/auth/login", json=body)
    assert r.status_code == 400, r.text
    assert error_code(r) == "invalid_request"
    assert field in r.json()["error"]["message"]


# -- the signed-in user ------------------------------------------------------------------------

def test_me_returns_the_user(client, user):
    r = client.get("/api/users/me", token=user["token"])
    assert r.status_code == 200, r.text
    assert r.json() == {"id": user["id"], "email": user["email"], "name": user["name"]}


def test_me_accepts_any_unexpired_token_signed_with_the_secret(client, user):
    """The control for the forged/expired cases below: the same claims, only valid."""
    r = client.get("/api/users/me", token=craft_token(str(user["id"])))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == user["id"]


# -- 401 on every protected endpoint -------------------------------------------------------------

ORDER_BODY = {"address": US_ADDRESS, "shipping_option": "standard", "payment": VALID_CARD}
QUOTE_BODY = {"address": US_ADDRESS, "shipping_option": "standard"}

# (method, path, json body, status a valid token gets for a user with an empty cart and no orders).
# The order matters for the control: the cart line added by PUT is removed by DELETE.
PROTECTED = [
    ("GET", "/api/users/me", None, 200),
    ("GET", "/api/cart", None, 200),
    ("PUT", "/api/cart/items/1", {"quantity": 1}, 200),
    ("DELETE", "/api/cart/items/1", None, 200),
    ("GET", "/api/orders", None, 200),
    ("POST", "/api/checkout/quote", QUOTE_BODY, 409),
    ("POST", "/api/orders", ORDER_BODY, 409),
    ("GET", "/api/orders/1", None, 404),
    ("POST", "/api/orders/1/cancel", None, 404),
]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _tampered(token: str) -> str:
    """A real token whose payload was swapped for another user's: the signature no longer fits."""
    header, _payload, signature = token.split(".")
    now = int(time.time())
    return ".".join([header, _b64({"sub": "1", "iat": now, "exp": now + 3600}), signature])


BAD_AUTH = {
    "missing-header": lambda u: None,
    "empty-header": lambda u: "",
    "basic-scheme": lambda u: "Basic dXNlcjpwYXNzd29yZA==",
    "token-scheme-with-valid-token": lambda u: f"Token {u['token']}",
    "valid-token-without-scheme": lambda u: u["token"],
    "bearer-without-token": lambda u: "Bearer",
    "garbage": lambda u: "Bearer not-a-token",
    "garbage-three-parts": lambda u: "Bearer aaaa.bbbb.cccc",
    "other-secret": lambda u: "Bearer " + craft_token(str(u["id"]), secret="not-the-shop-secret"),
    "expired": lambda u: "Bearer " + craft_token(str(u["id"]), iat=int(time.time()) - 7200,
                                                 exp=int(time.time()) - 60),
    "alg-none": lambda u: "Bearer " + jwt.encode(
        {"sub": str(u["id"]), "iat": int(time.time()), "exp": int(time.time()) + 300},
        None, algorithm="none"),
    "tampered-payload": lambda u: "Bearer " + _tampered(u["token"]),
    "no-exp-claim": lambda u: "Bearer " + jwt.encode(
        {"sub": str(u["id"]), "iat": int(time.time())}, TEST_SECRET, algorithm="HS256"),
    "non-numeric-sub": lambda u: "Bearer " + craft_token("not-a-user-id"),
}


@pytest.mark.parametrize("variant", list(BAD_AUTH))
def test_protected_endpoints_answer_401_to_bad_credentials(client, user, variant):
    authorization = BAD_AUTH[variant](user)
    headers = {} if authorization is None else {"Authorization": authorization}
    failures = []
    for method, path, body, _ok_status in PROTECTED:
        r = client.request(method, path, json=body, headers=headers)
        if r.status_code != 401:
            failures.append(f"{method} {path}: {r.status_code} {r.text}")
            continue
        assert error_code(r) == "unauthorized", f"{method} {path}: {r.text}"
        assert r.headers["Content-Type"].startswith("application/json")
    assert not failures, "\n".join(failures)


def test_protected_endpoints_accept_a_valid_token(client, user):
    """The control for the 401 tests: the same requests with the user's token get past auth."""
    got = []
    for method, path, body, ok_status in PROTECTED:
        r = client.request(method, path, json=body, token=user["token"])
        got.append((method, path, r.status_code))
    assert got == [(m, p, s) for m, p, _b, s in PROTECTED]
