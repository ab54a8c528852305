"""Validation of the two structured inputs the public contract defines: a shipping address
and a payment card. They are part of the contract (API.md), not of one capability, so the
orders API can reject bad input (400) before anything else happens, in both deployments."""
import datetime as dt
import re

from shop import geo
from shop.errors import InvalidRequest
from shop.web import params

_DIGITS = re.compile(r"[0-9]{12,19}")
_CVC = re.compile(r"[0-9]{3,4}")


def address(body: dict) -> dict:
    raw = params.obj(body, "address")
    fields = {
        "name": params.string(raw, "name", label="address.name", max_len=100),
        "line1": params.string(raw, "line1", label="address.line1", max_len=200),
        "city": params.string(raw, "city", label="address.city", max_len=100),
        "region": params.string(raw, "region", label="address.region", min_len=0, max_len=50, required=False) or "",
        "postal_code": params.string(raw, "postal_code", label="address.postal_code", max_len=20),
        "country": params.string(raw, "country", label="address.country", max_len=2).upper(),
    }
    fields["region"] = fields["region"].upper()
    country, region = fields["country"], fields["region"]
    if country not in geo.SUPPORTED_COUNTRIES:
        raise InvalidRequest(f"The field 'address.country' must be the US, Canada or an EU country "
                             f"(ISO 3166 alpha-2); we do not ship to '{country}'.")
    if geo.requires_region(country) and not region:
        raise InvalidRequest(f"The field 'address.region' (state or province code) is required for {country}.")
    if not geo.valid_region(country, region):
        raise InvalidRequest(f"The field 'address.region' must be a state or province code of {country}; "
                             f"'{region}' is not one.")
    return fields


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_expired(exp_month: int, exp_year: int, today: dt.date) -> bool:
    """A card is good through the last day of its expiry month."""
    return (exp_year, exp_month) < (today.year, today.month)


def payment(body: dict, today: dt.date | None = None) -> dict:
    raw = params.obj(body, "payment")
    number = raw.get("card_number")
    if number is None:
        raise InvalidRequest("The field 'payment.card_number' is required.")
    if not isinstance(number, str) or not _DIGITS.fullmatch(number):
        raise InvalidRequest("'payment.card_number' must be a string of 12 to 19 digits.")
    if not luhn_ok(number):
        raise InvalidRequest("'payment.card_number' is not a valid card number (check digit).")
    exp_month = params.integer(raw, "exp_month", label="payment.exp_month", min_value=1, max_value=12)
    exp_year = params.integer(raw, "exp_year", label="payment.exp_year", min_value=2000, max_value=2100)
    cvc = raw.get("cvc")
    if cvc is None:
        raise InvalidRequest("The field 'payment.cvc' is required.")
    if not isinstance(cvc, str) or not _CVC.fullmatch(cvc):
        raise InvalidRequest("'payment.cvc' must be a string of 3 or 4 digits.")
    if card_expired(exp_month, exp_year, today or dt.datetime.now(dt.timezone.utc).date()):
        raise InvalidRequest("The card has expired ('payment.exp_month'/'payment.exp_year').")
    return {"card_number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": cvc}
