"""Shipping options and prices: a pure function of option, destination and weight.

The shop ships from the US, so there are three zones: US (domestic), CA and EU. Price is a
base per zone and option plus a fee per started 500 g, in integer cents. Express has both a
higher base and a higher per-step fee than standard in every zone, so it always costs
strictly more for the same parcel, and a heavier parcel never costs less.
"""
from shop.geo import EU_COUNTRIES

STEP_GRAMS = 500

# id, name, base cents, cents per started 500 g, days min, days max. Lists keep the order
# the API returns, cheapest first.
_ZONES: dict[str, list[tuple[str, str, int, int, int, int]]] = {
    "US": [
        ("standard", "Standard shipping", 499, 150, 3, 5),
        ("express", "Express shipping", 1499, 250, 1, 2),
    ],
    "CA": [
        ("standard", "Standard shipping", 999, 250, 5, 10),
        ("express", "Express shipping", 2499, 450, 2, 4),
    ],
    "EU": [
        ("standard", "Standard shipping", 1499, 350, 7, 14),
        ("express", "Express shipping", 3499, 600, 3, 5),
    ],
}


def _zone(country: str) -> str:
    if country in ("US", "CA"):
        return country
    if country in EU_COUNTRIES:
        return "EU"
    raise KeyError(f"the shop does not ship to {country!r}")


def _steps(weight_grams: int) -> int:
    # bool is an int subclass; rejecting it catches a caller passing a flag by mistake.
    if not isinstance(weight_grams, int) or isinstance(weight_grams, bool) or weight_grams < 0:
        raise ValueError(f"weight_grams must be a non-negative int, got {weight_grams!r}")
    return -(-weight_grams // STEP_GRAMS)  # ceiling division: 1..500 g is one step, 0 g none


def options(country: str, weight_grams: int) -> list[dict]:
    """Every option for the destination, in a fixed order; KeyError if we do not ship there."""
    zone = _ZONES[_zone(country)]
    steps = _steps(weight_grams)
    return [
        {"id": oid, "name": name, "price_cents": base + per_step * steps,
         "days_min": days_min, "days_max": days_max}
        for oid, name, base, per_step, days_min, days_max in zone
    ]


def price_cents(option_id: str, country: str, weight_grams: int) -> int:
    """Price of one option; KeyError for an unknown option id or unsupported country."""
    for option in options(country, weight_grams):
        if option["id"] == option_id:
            return option["price_cents"]
    raise KeyError(f"unknown shipping option {option_id!r}")
