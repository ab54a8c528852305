"""Address and payment validation (shop/inputs.py): every failure is a 400 naming the field."""
import datetime as dt

import pytest

from shop import inputs
from shop.errors import InvalidRequest

TODAY = dt.date(2025, 6, 15)
GOOD_CARD = {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
GOOD_ADDRESS = {"name": "Ada", "line1": "1 Main St", "city": "Portland", "region": "OR",
                "postal_code": "97201", "country": "US"}


def pay(today=TODAY, **changes):
    card = {**GOOD_CARD, **changes}
    return inputs.payment({"payment": {k: v for k, v in card.items() if v is not ...}}, today=today)


def addr(**changes):
    a = {**GOOD_ADDRESS, **changes}
    return inputs.address({"address": {k: v for k, v in a.items() if v is not ...}})


def rejects(fn, *words):
    with pytest.raises(InvalidRequest) as err:
        fn()
    for w in words:
        assert w in err.value.message, err.value.message
    return err.value.message


# -- Luhn ----------------------------------------------------------------------------------
@pytest.mark.parametrize("number", [
    "4242424242424242", "4111111111111111", "5555555555554444", "378282246310005",
    "6011111111111117", "4000000000000002", "4000000000009995", "79927398713",
])
def test_luhn_accepts_known_good_numbers(number):
    assert inputs.luhn_ok(number)


@pytest.mark.parametrize("number", [
    "4242424242424241", "4111111111111112", "5555555555554443", "79927398710", "1234567812345678",
])
def test_luhn_rejects_known_bad_numbers(number):
    assert not inputs.luhn_ok(number)


def test_bad_check_digit_is_400():
    rejects(lambda: pay(card_number="4242424242424241"), "payment.card_number", "check digit")


# -- card number and cvc shape -------------------------------------------------------------
@pytest.mark.parametrize("number", [
    "4242 4242 4242 4242", "4242-4242-4242-4242", "42424242424", "4" * 20, "", "abcdabcdabcdabcd",
    4242424242424242, ["4242424242424242"], "４２４２４２４２４２４２４２４２",
])
def test_card_number_must_be_a_string_of_12_to_19_digits(number):
    rejects(lambda: pay(card_number=number), "payment.card_number")


def test_card_number_lengths_12_and_19_are_accepted():
    assert pay(card_number="000000000000")["card_number"] == "000000000000"        # 12, Luhn ok
    assert pay(card_number="4" + "0" * 17 + "6")["card_number"] == "4" + "0" * 17 + "6"  # 19


def test_missing_card_number_and_payment():
    rejects(lambda: pay(card_number=...), "payment.card_number", "required")
    rejects(lambda: inputs.payment({}, today=TODAY), "payment")
    rejects(lambda: inputs.payment({"payment": "4242"}, today=TODAY), "payment", "object")


@pytest.mark.parametrize("cvc", ["123", "1234", "000"])
def test_cvc_good(cvc):
    assert pay(cvc=cvc)["cvc"] == cvc


@pytest.mark.parametrize("cvc", [123, 1234, "12", "12345", "12a", " 123", "123\n", "", None, True])
def test_cvc_must_be_a_3_or_4_digit_string(cvc):
    rejects(lambda: pay(cvc=cvc), "payment.cvc")


# -- expiry --------------------------------------------------------------------------------
@pytest.mark.parametrize("month, year, today, expired", [
    (6, 2025, dt.date(2025, 6, 1), False),     # this month, first day
    (6, 2025, dt.date(2025, 6, 30), False),    # this month, last day: still good
    (5, 2025, dt.date(2025, 6, 1), True),      # last month
    (12, 2024, dt.date(2025, 1, 1), True),     # December of last year, in January
    (1, 2025, dt.date(2025, 1, 31), False),    # January, in January
    (12, 2025, dt.date(2025, 12, 31), False),  # December, on New Year's Eve
    (1, 2026, dt.date(2025, 12, 31), False),   # next January, in December
    (11, 2025, dt.date(2025, 12, 1), True),
    (7, 2024, dt.date(2025, 6, 15), True),     # a later month of an earlier year
])
def test_card_expired(month, year, today, expired):
    assert inputs.card_expired(month, year, today) is expired
    if expired:
        rejects(lambda: pay(exp_month=month, exp_year=year, today=today), "expired")
    else:
        assert pay(exp_month=month, exp_year=year, today=today)["exp_month"] == month


@pytest.mark.parametrize("month", [0, 13, -1])
def test_exp_month_range(month):
    rejects(lambda: pay(exp_month=month), "payment.exp_month", "between 1 and 12")


@pytest.mark.parametrize("field, value", [("exp_month", "12"), ("exp_month", 12.0), ("exp_month", True),
                                          ("exp_year", "2030"), ("exp_year", ...)])
def test_expiry_must_be_integers(field, value):
    rejects(lambda: pay(**{field: value}), f"payment.{field}")


def test_payment_result_has_exactly_the_card_fields():
    assert pay() == GOOD_CARD


# -- address -------------------------------------------------------------------------------
def test_good_address_is_returned_normalised():
    assert addr(country="us", region="or") == GOOD_ADDRESS
    assert addr(city="  Portland  ")["city"] == "Portland"


@pytest.mark.parametrize("country, region", [("US", "CA"), ("US", "DC"), ("CA", "ON"), ("CA", "QC")])
def test_us_and_ca_with_a_valid_region(country, region):
    assert addr(country=country, region=region)["region"] == region


@pytest.mark.parametrize("country", ["US", "CA"])
@pytest.mark.parametrize("region", [..., None, "", "   "])
def test_us_and_ca_need_a_region(country, region):
    rejects(lambda: addr(country=country, region=region), "address.region", country)


@pytest.mark.parametrize("country, region", [("US", "ON"), ("CA", "TX"), ("US", "ZZ"), ("US", "California")])
def test_us_and_ca_reject_an_unknown_region(country, region):
    rejects(lambda: addr(country=country, region=region), country)


@pytest.mark.parametrize("region", [..., None, "", "Bavaria"])
def test_eu_needs_no_region(region):
    result = addr(country="de", region=region)
    assert result["country"] == "DE"
    assert result["region"].upper() == ("" if region in (..., None, "") else "BAVARIA")


@pytest.mark.parametrize("country", ["GB", "CH", "XX", "USA", "", "D"])
def test_unsupported_country(country):
    rejects(lambda: addr(country=country, region=""))


@pytest.mark.parametrize("field", ["name", "line1", "city", "postal_code", "country"])
def test_required_address_fields_are_named(field):
    rejects(lambda: addr(**{field: ...}), f"address.{field}", "required")
    rejects(lambda: addr(**{field: ""}), f"address.{field}")
    rejects(lambda: addr(**{field: 5}), f"address.{field}", "string")


def test_address_field_length_limits():
    rejects(lambda: addr(name="x" * 101), "address.name")
    assert addr(name="x" * 100)["name"] == "x" * 100
    rejects(lambda: addr(postal_code="9" * 21), "address.postal_code")


def test_address_must_be_an_object():
    rejects(lambda: inputs.address({}), "address", "required")
    rejects(lambda: inputs.address({"address": ["Ada"]}), "address", "object")
