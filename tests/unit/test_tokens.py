"""Bearer tokens (shop/web/tokens.py): signed, expiring, verified without a network call."""
import time

import jwt
import pytest

from shop.errors import Unauthorized
from shop.web.tokens import TokenSigner, bearer_token

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
signer = TokenSigner(SECRET, ttl_seconds=3600)


def unauthorized(fn, *words):
    with pytest.raises(Unauthorized) as err:
        fn()
    assert err.value.status == 401 and err.value.code == "unauthorized"
    for w in words:
        assert w in err.value.message, err.value.message


def test_roundtrip():
    assert signer.verify(signer.issue(42)) == 42
    assert signer.verify(signer.issue(1)) == 1


def test_token_carries_subject_and_expiry():
    now = int(time.time())
    claims = jwt.decode(signer.issue(42, now=now), SECRET, algorithms=["HS256"])
    assert claims["sub"] == "42" and claims["iat"] == now and claims["exp"] == now + 3600


def test_another_signer_with_the_same_secret_verifies():
    # what lets every microservice authenticate locally
    assert TokenSigner(SECRET).verify(signer.issue(9)) == 9


def test_expired():
    token = signer.issue(42, now=time.time() - 3600 - 120)
    unauthorized(lambda: signer.verify(token), "expired")


def test_not_yet_expired_near_the_end():
    assert signer.verify(signer.issue(42, now=time.time() - 3600 + 120)) == 42


def test_forged_secret():
    forged = TokenSigner("another-secret-of-a-decent-length-for-hs256").issue(42)
    unauthorized(lambda: signer.verify(forged), "invalid")


def test_tampered_payload():
    header, payload, sig = signer.issue(42).split(".")
    other_payload = signer.issue(43).split(".")[1]
    unauthorized(lambda: signer.verify(f"{header}.{other_payload}.{sig}"))


def test_alg_none_is_rejected():
    unsigned = jwt.encode({"sub": "42", "exp": int(time.time()) + 60}, None, algorithm="none")
    unauthorized(lambda: signer.verify(unsigned))


@pytest.mark.parametrize("claims", [{"sub": "42"}, {"exp": 2**40}, {"sub": "admin", "exp": 2**40},
                                    {"sub": "", "exp": 2**40}])
def test_missing_or_bad_claims(claims):
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    unauthorized(lambda: signer.verify(token))


@pytest.mark.parametrize("garbage", ["", "garbage", "a.b.c", "Bearer x", "...", "ü.ü.ü"])
def test_garbage(garbage):
    unauthorized(lambda: signer.verify(garbage), "invalid")


def test_empty_secret_is_refused():
    with pytest.raises(ValueError):
        TokenSigner("")


@pytest.mark.parametrize("header, token", [("Bearer abc.def.ghi", "abc.def.ghi"),
                                           ("bearer abc", "abc"), ("BEARER abc", "abc"),
                                           ("Bearer   abc  ", "abc")])
def test_bearer_token_parsing(header, token):
    assert bearer_token(header) == token


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwdw==",
                                    "Token abc", "abc"])
def test_bearer_token_rejects(header):
    unauthorized(lambda: bearer_token(header))
