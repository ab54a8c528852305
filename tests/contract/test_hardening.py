"""Hostile input (issue 13), against both deployments over real HTTP: what a fuzzer and an
attacker found, each answered with the contract's JSON error and no effect.

- JSON that is valid but not valid Unicode (a lone surrogate escape) is 400 naming the field,
  wherever a JSON string is read, and changes nothing;
- ``/static/<anything>`` is a 404 (Flask's static route was in the gateway's route table);
- token subjects and path ids are canonical ASCII ids, and a token must name an existing user;
- the errors gunicorn answers itself are JSON too, and SCRIPT_NAME / forwarding headers are
  not believed from just anyone."""
import json
import socket
import threading
import time
import warnings

import jwt
import pytest

from tests.support.client import US_ADDRESS, VALID_CARD, Api, error_code, shed, unshed
from tests.support.deployments import TEST_SECRET

JSON = {"Content-Type": "application/json"}
LONE = "\\udfff"   # as it appears in the JSON text: an escape JSON allows, of a code point UTF-8 cannot hold


@pytest.fixture(scope="module")
def client(deployment):
    return Api(deployment.url)


@pytest.fixture(scope="module")
def user(client):
    return client.new_user("hostile")


def assert_error(r, status: int, code: str):
    assert r.status_code == status, f"expected {status} {code}, got {r.status_code}: {r.text[:300]}"
    assert r.headers["Content-Type"].startswith("application/json"), r.headers["Content-Type"]
    assert error_code(r) == code, r.text
    assert r.headers.get("X-Request-ID")
    assert "Traceback" not in r.text


# -- lone surrogates ---------------------------------------------------------------------------
ADDRESS_JSON = ('{"name": "Ada", "line1": "1 Main St", "city": "Portland", "region": "OR", '
                '"postal_code": "97201", "country": "US"}')
CARD_JSON = ('{"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}')
SURROGATE_BODIES = [
    # (method, path, needs a token, body with {S} where the lone surrogate goes, the field named)
    ("POST", "/api/users", False, '{"email": "a{S}@example.com", "password": "long enough", "name": "N"}', "email"),
    ("POST", "/api/users", False, '{"email": "s@example.com", "password": "long{S}enough", "name": "N"}', "password"),
    ("POST", "/api/users", False, '{"email": "s@example.com", "password": "long enough", "name": "{S}"}', "name"),
    ("POST", "/api/auth/login", False, '{"email": "{S}", "password": "whatever!"}', "email"),
    ("POST", "/api/auth/login", False, '{"email": "x@example.com", "password": "{S}{S}"}', "password"),
    ("POST", "/api/auth/login", False, '{"email": "x@example.com", "password": "p", "{S}": 1}', None),
    ("PUT", "/api/cart/items/1", True, '{"quantity": 1, "note": ["{S}"]}', "note[0]"),
    ("POST", "/api/checkout/quote", True,
     '{"address": ' + ADDRESS_JSON.replace('"Portland"', '"Port{S}land"') + ', "shipping_option": "standard"}',
     "address.city"),
    ("POST", "/api/checkout/quote", True, '{"address": ' + ADDRESS_JSON + ', "shipping_option": "{S}"}',
     "shipping_option"),
    ("POST", "/api/orders", True, '{"address": ' + ADDRESS_JSON + ', "shipping_option": "standard", "payment": '
     + CARD_JSON.replace('"123"', '"12{S}"') + '}', "payment.cvc"),
]


@pytest.mark.parametrize("method,path,auth,body,field", SURROGATE_BODIES,
                         ids=[f"{m} {p} {f}" for m, p, _a, _b, f in SURROGATE_BODIES])
def test_a_lone_surrogate_in_a_json_string_is_400_naming_the_field(client, user, method, path, auth, body, field):
    raw = body.replace("{S}", LONE).encode()
    r = client.request(method, path, data=raw, headers=JSON, token=user["token"] if auth else None)
    assert_error(r, 400, "invalid_request")
    if field:
        assert f"'{field}'" in r.json()["error"]["message"], r.json()


def test_a_registration_with_a_lone_surrogate_creates_nothing(client):
    email = f"surrogate-{time.time_ns()}@example.com"
    r = client.post("/api/users", data=(f'{{"email": "{email}", "password": "long enough", '
                                        f'"name": "Ada {LONE}"}}').encode(), headers=JSON)
    assert_error(r, 400, "invalid_request")
    r = client.post("/api/users", json={"email": email, "password": "long enough", "name": "Ada"})
    assert r.status_code == 201, r.text


def test_a_valid_escaped_pair_is_accepted(client):
    """The control: a surrogate PAIR escape is one real character (here U+1F600) and is fine."""
    email = f"pair-{time.time_ns()}@example.com"
    r = client.post("/api/users", data=(f'{{"email": "{email}", "password": "long enough", '
                                        '"name": "Ada \\ud83d\\ude00"}').encode(), headers=JSON)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Ada \U0001F600"


# -- /static -----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/static/x", "/static/", "/static/app.css", "/static/a/b/c.js",
                                  "/static/..%2f..%2fetc%2fpasswd", "/static"])
def test_static_paths_are_json_404(client, path):
    assert_error(client.get(path), 404, "not_found")


# -- tokens and ids ----------------------------------------------------------------------------
def forged(sub, **claims) -> str:
    """A token signed with the deployments' real secret (what someone holding it could make)."""
    with warnings.catch_warnings():   # the tests' secret is short; PyJWT says so
        warnings.simplefilter("ignore")
        return jwt.encode({"sub": sub, "iat": int(time.time()), "exp": int(time.time()) + 600, **claims},
                          TEST_SECRET, algorithm="HS256")


NON_CANONICAL = {"zero": "0", "negative": "-1", "leading-space": " 503", "trailing-space": "503 ",
                 "leading-zero": "0{id}", "plus-sign": "+{id}", "arabic-indic-digits": "\u0665",
                 "fullwidth-digits": "\uff15", "past-int64": "9" * 20, "int64-plus-one": str(2**63),
                 "a-number-not-a-string": 7, "float": "7.0", "empty": ""}


@pytest.mark.parametrize("name", list(NON_CANONICAL))
def test_a_token_whose_subject_is_not_a_canonical_id_is_401(client, user, name):
    sub = NON_CANONICAL[name]
    sub = sub.replace("{id}", str(user["id"])) if isinstance(sub, str) else sub
    token = forged(sub)
    for method, path, kwargs in [("GET", "/api/users/me", {}), ("GET", "/api/cart", {}),
                                 ("PUT", "/api/cart/items/1", {"json": {"quantity": 1}}),
                                 ("GET", "/api/orders", {})]:
        assert_error(client.request(method, path, token=token, **kwargs), 401, "unauthorized")


def test_a_token_for_a_user_who_does_not_exist_can_do_nothing(client):
    """Signed with the real secret, well formed, but nobody has that id: 401 everywhere, and
    nothing was put in a cart or ordered for it."""
    for sub in (str(2**62), str(2**63 - 1), "999999999"):
        token = forged(sub)
        assert_error(client.get("/api/users/me", token=token), 401, "unauthorized")
        assert_error(client.put("/api/cart/items/3", token=token, json={"quantity": 1}), 401, "unauthorized")
        assert_error(client.get("/api/cart", token=token), 401, "unauthorized")
        assert_error(client.post("/api/checkout/quote", token=token,
                                 json={"address": US_ADDRESS, "shipping_option": "standard"}), 401, "unauthorized")
        r = client.post("/api/orders", token=token, json={"address": US_ADDRESS, "shipping_option": "standard",
                                                          "payment": VALID_CARD})
        assert_error(r, 401, "unauthorized")


def test_a_forged_token_in_canonical_form_for_an_existing_user_is_the_control(client, user):
    r = client.get("/api/users/me", token=forged(str(user["id"])))
    assert r.status_code == 200 and r.json()["id"] == user["id"], r.text


@pytest.mark.parametrize("digits", ["\u0661", "\u0967", "\uff11", "1\u0660"], ids=["arabic-indic", "devanagari",
                                                                                     "fullwidth", "mixed"])
def test_other_scripts_digits_in_a_path_are_not_ids(client, user, digits):
    assert_error(client.get(f"/api/products/{digits}"), 404, "not_found")
    assert_error(client.get(f"/api/orders/{digits}", token=user["token"]), 404, "not_found")
    assert_error(client.put(f"/api/cart/items/{digits}", token=user["token"], json={"quantity": 1}),
                 404, "not_found")
    assert client.get("/api/cart", token=user["token"]).json()["items"] == []


# -- what gunicorn answers itself --------------------------------------------------------------
def raw_exchange(url: str, data: bytes, timeout: float = 10) -> tuple[int, dict, bytes]:
    """Send bytes as they are (no HTTP library would send these) and read the answer."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            chunks.append(chunk)
            head, sep, body = b"".join(chunks).partition(b"\r\n\r\n")
            if sep:
                length = [int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(body) >= length[0]:
                    break
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    return int(lines[0].split()[1]), headers, body


BAD_HTTP = {
    "garbage-request-line": (b"HELLO\r\n\r\n", 400),
    "no-http-version": (b"GET /api/categories\r\n\r\n", 400),
    "bad-version": (b"GET /api/categories HTTP/9.9\r\nHost: x\r\n\r\n", 400),
    "content-length-and-chunked": (b"POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    "two-content-lengths": (b"POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n"
                            b"\r\n{}", 400),
    "space-before-colon": (b"GET /api/categories HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    "url-too-long": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "header-too-long": (b"GET /api/categories HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    "too-many-headers": (b"GET /api/categories HTTP/1.1\r\nHost: x\r\n"
                         + b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"\r\n", 431),
}


@pytest.mark.parametrize("name", list(BAD_HTTP))
def test_errors_gunicorn_answers_itself_are_json(deployment, name):
    data, status = BAD_HTTP[name]
    got, headers, body = raw_exchange(deployment.url, data)
    assert got == status, body[:300]
    assert headers.get("content-type", "").startswith("application/json"), (headers, body[:300])
    assert headers.get("x-request-id")
    doc = json.loads(body)
    assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"}, doc
    assert doc["error"]["code"] == "invalid_request" and doc["error"]["message"]
    assert b"<html" not in body.lower()


@pytest.mark.parametrize("script_name", ["/api", "/nope", "/<script>alert(1)</script>"])
def test_a_script_name_header_from_loopback_is_not_believed(deployment, script_name):
    """gunicorn's default trusts SCRIPT_NAME from 127.0.0.1: a path not under it was a 500 that
    echoed the path. Now the header is dropped: the request is served as if it were not there."""
    request = (f"GET /api/categories HTTP/1.1\r\nHost: x\r\nSCRIPT_NAME: {script_name}\r\n"
               "Connection: close\r\n\r\n").encode()
    status, headers, body = raw_exchange(deployment.url, request)
    assert status == 200, body[:300]
    assert b'"items"' in body and b"script" not in body.lower()


def test_a_forwarded_proto_header_from_loopback_is_not_believed(client):
    """A redirect gunicorn's app makes (//api/... -> /api/...) names the scheme it believes."""
    r = client.get("//api/categories", headers={"X-Forwarded-Proto": "https"}, allow_redirects=False)
    if r.status_code in (301, 302, 308):
        assert not r.headers["Location"].startswith("https:"), r.headers["Location"]


# -- one client's bad requests do not change what others get -------------------------------------
def test_one_clients_bad_requests_at_a_high_rate_do_not_change_other_clients_answers(deployment, client):
    """An attacker (an address of its own) sends bad request after bad request, as fast as two
    connections go: lone surrogates, a wrong password for an account that does not exist,
    forged tokens, unparseable HTTP, unknown routes. Meanwhile other clients read their own
    account, a product and their cart: every one of their answers is what it was before the
    attack. (Only volume may cost them anything: on a busy machine the shop may shed a request
    with a fast 503 and Retry-After, which is sent again; a 503 naming a service, the circuit
    the attacker opened before the fix, or any other answer fails the test.)"""
    from tests.support.client import own_loopback_address
    victims = [client.new_user("victim") for _ in range(3)]
    expected_me = {v["id"]: client.get("/api/users/me", token=v["token"]).json() for v in victims}
    expected_product = client.get("/api/products/5").json()
    attacker_address = own_loopback_address()
    sent, stop, failures = [0], threading.Event(), []
    bad = [
        ("POST", "/api/auth/login", {"data": f'{{"email": "{LONE}", "password": "x"}}'.encode(), "headers": JSON}),
        ("POST", "/api/users", {"data": f'{{"email": "a@b.co", "password": "12345678", "name": "{LONE}"}}'.encode(),
                                "headers": JSON}),
        ("POST", "/api/auth/login", {"json": {"email": f"nobody-{time.time_ns()}@example.com", "password": "wrong!!"}}),
        ("GET", "/api/users/me", {"headers": {"Authorization": f"Bearer {forged(str(2**62))}"}}),
        ("GET", "/api/cart", {"headers": {"Authorization": "Bearer x.y.z"}}),
        ("GET", "/static/x", {}),
        ("PUT", "/api/cart/items/1", {"data": b"{not json", "headers": JSON}),
    ]

    def attack():
        attacker = Api(deployment.url, source_address=attacker_address)
        i = 0
        while not stop.is_set() and sent[0] < 2000:
            method, path, kwargs = bad[i % len(bad)]
            r = attacker.request(method, path, **kwargs)
            if r.status_code >= 500 and not shed(r):
                failures.append((path, r.status_code, r.text[:200]))
            sent[0] += 1
            i += 1
            if i % 50 == 0:
                raw_exchange(deployment.url, b"HELLO\r\n\r\n")

    threads = [threading.Thread(target=attack, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    answers = []
    try:
        while sent[0] < 600:   # the victims keep asking until the attackers have sent 600
            for v in victims:
                r = unshed(lambda: client.get("/api/users/me", token=v["token"]))
                answers.append(("me", r.status_code, r.json()))
                assert (r.status_code, r.json()) == (200, expected_me[v["id"]]), r.text
            r = unshed(lambda: client.get("/api/products/5"))
            assert (r.status_code, r.json()) == (200, expected_product), r.text
            r = unshed(lambda: client.get("/api/cart", token=victims[0]["token"]))
            assert r.status_code == 200 and r.json()["items"] == [], r.text
            assert any(t.is_alive() for t in threads), "every attacker stopped early"
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert failures == [], failures[:5]   # the attacker's own answers: never a 5xx either
    assert len(answers) >= 3
    # and the victims can still log in from their own address
    r = unshed(lambda: client.post("/api/auth/login", json={"email": victims[0]["email"],
                                                             "password": victims[0]["password"]}))
    assert r.status_code == 200, r.text
