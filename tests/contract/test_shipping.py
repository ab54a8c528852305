"""Shipping options: who we ship to, the option shape, and the pricing rules API.md promises
(standard and express everywhere, express dearer, more weight never cheaper)."""
import pytest

from tests.support.client import Api, error_code

OPTION_KEYS = {"id", "name", "price_cents", "days_min", "days_max"}
EU = ["AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
      "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"]
WEIGHTS = [0, 1, 499, 500, 501, 999, 1000, 1001, 2500, 5000, 10_000, 21_933, 50_000, 100_000]


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@pytest.fixture(scope="module")
def client(deployment):
    return Api(deployment.url)


def options(client: Api, country: str, weight) -> list[dict]:
    r = client.get("/api/shipping/options", params={"country": country, "weight_grams": weight})
    assert r.status_code == 200, f"{country} {weight}: {r.text}"
    body = r.json()
    assert set(body) == {"options"}, body
    return body["options"]


def by_id(opts: list[dict]) -> dict[str, dict]:
    return {o["id"]: o for o in opts}


@pytest.mark.parametrize("country", ["US", "CA", "DE", "FR", "IE"])
def test_options_have_the_exact_shape_and_include_standard_and_express(client, country):
    opts = options(client, country, 1200)
    assert opts, "no options"
    for option in opts:
        assert set(option) == OPTION_KEYS, option
        assert isinstance(option["id"], str) and option["id"]
        assert isinstance(option["name"], str) and option["name"]
        assert is_int(option["price_cents"]) and option["price_cents"] >= 0, option
        assert is_int(option["days_min"]) and is_int(option["days_max"]), option
        assert 0 <= option["days_min"] <= option["days_max"], option
    ids = [o["id"] for o in opts]
    assert len(set(ids)) == len(ids), "duplicate option ids"
    assert {"standard", "express"} <= set(ids)


def test_every_eu_country_is_served(client):
    assert len(EU) == 27
    for country in EU:
        assert {"standard", "express"} <= set(by_id(options(client, country, 800))), country


@pytest.mark.parametrize("country", ["US", "CA", "DE"])
def test_express_costs_more_than_standard_at_every_weight(client, country):
    for weight in WEIGHTS:
        opts = by_id(options(client, country, weight))
        assert opts["express"]["price_cents"] > opts["standard"]["price_cents"], (weight, opts)


@pytest.mark.parametrize("country", ["US", "CA", "DE"])
def test_more_weight_never_costs_less(client, country):
    prices = [by_id(options(client, country, w)) for w in WEIGHTS]
    for option_id in prices[0]:
        series = [p[option_id]["price_cents"] for p in prices]
        assert series == sorted(series), (option_id, list(zip(WEIGHTS, series)))
    # ...and weight does matter somewhere in the range, or the rule above would be vacuous.
    assert prices[-1]["standard"]["price_cents"] > prices[0]["standard"]["price_cents"]


def test_the_same_input_gives_the_same_answer(client):
    first = client.get("/api/shipping/options", params={"country": "CA", "weight_grams": 1234})
    again = client.get("/api/shipping/options", params={"country": "CA", "weight_grams": 1234})
    assert first.status_code == again.status_code == 200
    assert first.content == again.content


def test_the_offered_options_do_not_depend_on_the_weight(client):
    """Weight changes prices, never which options exist: standard and express stay offered."""
    assert set(by_id(options(client, "US", 0))) == set(by_id(options(client, "US", 100_000)))


@pytest.mark.parametrize("query,field", [
    ({"weight_grams": "100"}, "country"),
    ({"country": "US"}, "weight_grams"),
    ({}, None),
    ({"country": "", "weight_grams": "100"}, "country"),
    ({"country": "US", "weight_grams": ""}, "weight_grams"),
], ids=["no-country", "no-weight", "nothing", "empty-country", "empty-weight"])
def test_missing_parameters_are_400(client, query, field):
    r = client.get("/api/shipping/options", params=query)
    assert r.status_code == 400, r.text
    assert error_code(r) == "invalid_request"
    if field:
        assert field in r.json()["error"]["message"]


@pytest.mark.parametrize("weight", ["-1", "-500", "abc", "1.5", "1e3", "ten"])
def test_bad_weight_is_400_naming_the_field(client, weight):
    r = client.get("/api/shipping/options", params={"country": "US", "weight_grams": weight})
    assert r.status_code == 400, r.text
    assert error_code(r) == "invalid_request"
    assert "weight_grams" in r.json()["error"]["message"]


@pytest.mark.parametrize("country", ["JP", "ZZ", "GB", "CH", "NO", "MX", "USA", "EU", "XX"])
def test_unsupported_country_is_400(client, country):
    r = client.get("/api/shipping/options", params={"country": country, "weight_grams": "100"})
    assert r.status_code == 400, r.text
    assert error_code(r) == "invalid_request"
