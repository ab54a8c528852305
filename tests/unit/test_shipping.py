import pytest

from shop import geo
from shop.shipping.rules import options, price_cents

WEIGHTS = [0, 1, 250, 499, 500, 501, 999, 1000, 1001, 2500, 5000, 12345, 20000, 100000]
COUNTRIES = sorted(geo.SUPPORTED_COUNTRIES)


@pytest.mark.parametrize("country", COUNTRIES)
def test_standard_and_express_everywhere(country):
    opts = options(country, 1000)
    ids = [o["id"] for o in opts]
    assert ids[:2] == ["standard", "express"]  # fixed order, cheapest first
    assert len(ids) == len(set(ids))
    for o in opts:
        assert set(o) == {"id", "name", "price_cents", "days_min", "days_max"}
        assert isinstance(o["price_cents"], int) and o["price_cents"] > 0
        assert 1 <= o["days_min"] <= o["days_max"]
        assert o["name"]


def test_names():
    by_id = {o["id"]: o for o in options("US", 100)}
    assert by_id["standard"]["name"] == "Standard shipping"
    assert by_id["express"]["name"] == "Express shipping"


@pytest.mark.parametrize("country", COUNTRIES)
def test_express_costs_more_and_is_faster(country):
    for w in WEIGHTS:
        assert price_cents("express", country, w) > price_cents("standard", country, w)
    by_id = {o["id"]: o for o in options(country, 0)}
    assert by_id["express"]["days_max"] <= by_id["standard"]["days_min"]


@pytest.mark.parametrize("country", COUNTRIES)
def test_more_weight_never_costs_less(country):
    for option_id in [o["id"] for o in options(country, 0)]:
        prices = [price_cents(option_id, country, w) for w in range(0, 30001, 50)]
        assert prices == sorted(prices)
        assert prices[-1] > prices[0]


def test_weight_steps_of_500g():
    assert price_cents("standard", "US", 1) == price_cents("standard", "US", 500)
    assert price_cents("standard", "US", 501) > price_cents("standard", "US", 500)


def test_zones_are_priced_by_distance():
    for option_id in ("standard", "express"):
        us = price_cents(option_id, "US", 2000)
        ca = price_cents(option_id, "CA", 2000)
        eu = price_cents(option_id, "DE", 2000)
        assert us < ca < eu
    assert options("FR", 1234) == options("GR", 1234)  # one EU zone


def test_same_input_same_output():
    for country in COUNTRIES:
        assert options(country, 1750) == options(country, 1750)


def test_options_returns_fresh_dicts():
    first = options("US", 100)
    first[0]["price_cents"] = -1
    assert options("US", 100)[0]["price_cents"] > 0


def test_price_matches_options():
    for o in options("CA", 3210):
        assert price_cents(o["id"], "CA", 3210) == o["price_cents"]


@pytest.mark.parametrize("option_id", ["overnight", "", "Standard", None])
def test_unknown_option_raises(option_id):
    with pytest.raises(KeyError):
        price_cents(option_id, "US", 100)


@pytest.mark.parametrize("country", ["GB", "CH", "MX", "", "us", "EU"])
def test_unknown_country_raises(country):
    with pytest.raises(KeyError):
        options(country, 100)
    with pytest.raises(KeyError):
        price_cents("standard", country, 100)


@pytest.mark.parametrize("weight", [-1, 1.5, "100", None, True])
def test_bad_weight(weight):
    with pytest.raises(ValueError):
        options("US", weight)
