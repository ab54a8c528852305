"""Request parsing (shop/web/params.py): every failure is a 400 whose message names the field."""
import pytest
from flask import Flask

from shop.errors import InvalidRequest
from shop.web import params

app = Flask(__name__)


def body(data: bytes, content_type="application/json"):
    with app.test_request_context("/", method="POST", data=data, content_type=content_type):
        return params.json_body()


def query(query_string: str, fn):
    with app.test_request_context("/?" + query_string):
        return fn()


def rejects(fn, *words):
    with pytest.raises(InvalidRequest) as err:
        fn()
    assert err.value.status == 400 and err.value.code == "invalid_request"
    for w in words:
        assert w in err.value.message, err.value.message
    return err.value.message


# -- json_body -----------------------------------------------------------------------------
def test_json_body_object():
    assert body(b'{"a": 1, "b": [true, null]}') == {"a": 1, "b": [True, None]}
    assert body('{"name": "Zoë"}'.encode()) == {"name": "Zoë"}


def test_json_body_ignores_content_type():
    assert body(b'{"a": 1}', content_type="text/plain") == {"a": 1}


@pytest.mark.parametrize("data", [b'{"a": 1', b"{'a': 1}", b"not json", b'{"a": 1} trailing', b"\xff\xfe{",
                                  b'{"a": "\xff"}'])
def test_json_body_malformed(data):
    rejects(lambda: body(data), "not valid JSON")


@pytest.mark.parametrize("data", [b"[]", b"[1, 2]", b'"text"', b"42", b"null", b"true"])
def test_json_body_must_be_an_object(data):
    rejects(lambda: body(data), "JSON object")


def test_json_body_empty():
    rejects(lambda: body(b""), "JSON object")


@pytest.mark.parametrize("data", [b"[" * 60_000, b'{"a":' * 10_000, b"[" * 30_000 + b"]" * 30_000],
                         ids=["unclosed-arrays", "unclosed-objects", "closed-arrays"])
def test_json_body_too_deeply_nested_is_400_not_a_crash(data):
    # Under the 64 KiB body limit, so it reaches json.loads; the contract says malformed JSON
    # is a 400, and Python's parser raises RecursionError (not ValueError) on deep nesting.
    assert len(data) < 64 * 1024
    rejects(lambda: body(data))


# -- string --------------------------------------------------------------------------------
def test_string_ok_and_stripped():
    assert params.string({"name": "  Ada "}, "name") == "Ada"
    assert params.string({"name": "  Ada "}, "name", strip=False) == "  Ada "


def test_string_missing_or_null():
    rejects(lambda: params.string({}, "email"), "'email'", "required")
    rejects(lambda: params.string({"email": None}, "email"), "'email'", "required")
    assert params.string({}, "email", required=False) is None


@pytest.mark.parametrize("value", [5, 1.5, True, ["a"], {"a": 1}])
def test_string_wrong_type(value):
    rejects(lambda: params.string({"email": value}, "email"), "'email'", "string")


def test_string_length_bounds():
    rejects(lambda: params.string({"name": ""}, "name"), "'name'", "empty")
    rejects(lambda: params.string({"name": "   "}, "name"), "'name'", "empty")
    rejects(lambda: params.string({"name": "x" * 11}, "name", max_len=10), "'name'", "1 to 10")
    assert params.string({"name": "x" * 10}, "name", max_len=10) == "x" * 10
    rejects(lambda: params.string({"pw": "short"}, "pw", min_len=8), "'pw'", "8 to")
    assert params.string({"r": ""}, "r", min_len=0) == ""


def test_string_label_is_used_in_messages():
    rejects(lambda: params.string({}, "city", label="address.city"), "'address.city'")


# -- integer -------------------------------------------------------------------------------
def test_integer_ok():
    assert params.integer({"q": 5}, "q", min_value=1, max_value=99) == 5
    assert params.integer({"q": 1}, "q", min_value=1, max_value=99) == 1
    assert params.integer({"q": 99}, "q", min_value=1, max_value=99) == 99
    assert params.integer({}, "q", required=False) is None


@pytest.mark.parametrize("value", [True, False, "5", 5.0, 5.5, [5], {"v": 5}])
def test_integer_wrong_type_bool_included(value):
    rejects(lambda: params.integer({"quantity": value}, "quantity"), "'quantity'", "whole number")


def test_integer_missing():
    rejects(lambda: params.integer({}, "quantity"), "'quantity'", "required")
    rejects(lambda: params.integer({"quantity": None}, "quantity"), "'quantity'", "required")


@pytest.mark.parametrize("value, words", [(0, ["between 1 and 99"]), (100, ["between 1 and 99"]),
                                          (-5, ["between 1 and 99"])])
def test_integer_range(value, words):
    rejects(lambda: params.integer({"quantity": value}, "quantity", min_value=1, max_value=99),
            "'quantity'", *words)


def test_integer_open_ranges():
    rejects(lambda: params.integer({"w": -1}, "w", min_value=0), "'w'", "at least 0")
    rejects(lambda: params.integer({"w": 11}, "w", max_value=10), "'w'", "at most 10")


def test_obj():
    assert params.obj({"a": {"x": 1}}, "a") == {"x": 1}
    rejects(lambda: params.obj({}, "address"), "'address'", "required")
    rejects(lambda: params.obj({"address": "1 Main St"}, "address"), "'address'", "object")


# -- query_int / pagination -----------------------------------------------------------------
@pytest.mark.parametrize("raw, expected", [("1", 1), ("42", 42), ("007", 7), ("0", 0)])
def test_query_int_digits(raw, expected):
    assert query(f"n={raw}", lambda: params.query_int("n", default=3)) == expected


@pytest.mark.parametrize("raw", ["1.5", "-1", "abc", "", "+1", " 1", "1e3", "0x10", "%EF%BC%91",
                                 "1" * 10])
def test_query_int_rejects_non_digits(raw):
    rejects(lambda: query(f"page={raw}", lambda: params.query_int("page", default=1)), "'page'", "whole number")


def test_query_int_default_and_required():
    assert query("", lambda: params.query_int("page", default=1)) == 1
    rejects(lambda: query("", lambda: params.query_int("weight_grams")), "'weight_grams'", "required")


def test_query_int_range():
    rejects(lambda: query("per_page=101", lambda: params.query_int("per_page", default=20, min_value=1,
                                                                    max_value=100)), "'per_page'", "between 1 and 100")


def test_pagination_defaults():
    assert query("", params.pagination) == (1, 20)
    assert query("q=mug", params.pagination) == (1, 20)


@pytest.mark.parametrize("qs, expected", [("page=3&per_page=100", (3, 100)), ("per_page=1", (1, 1)),
                                          ("page=1000000", (1_000_000, 20))])
def test_pagination_bounds_accepted(qs, expected):
    assert query(qs, params.pagination) == expected


@pytest.mark.parametrize("qs, field", [("page=0", "page"), ("per_page=0", "per_page"),
                                       ("per_page=101", "per_page"), ("page=1.0", "page"),
                                       ("per_page=ten", "per_page"), ("page=", "page"),
                                       ("page=1000001", "page")])
def test_pagination_bounds_rejected(qs, field):
    rejects(lambda: query(qs, params.pagination), f"'{field}'")


def test_page_of():
    assert params.page_of([1], 2, 5, 6) == {"items": [1], "page": 2, "per_page": 5, "total": 6}


def test_query_str():
    assert query("q=", lambda: params.query_str("q")) is None
    assert query("q=Mug", lambda: params.query_str("q")) == "Mug"
    rejects(lambda: query("", lambda: params.query_str("country", required=True)), "'country'", "required")
    rejects(lambda: query("q=" + "x" * 201, lambda: params.query_str("q")), "'q'")
