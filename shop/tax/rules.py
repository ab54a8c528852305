"""Tax arithmetic: subtotal times the destination's rate, rounded half up to the cent.

Shipping is never taxed, so callers pass the goods subtotal only. Both deployments call
this one function, which is what keeps their cents identical.
"""
from decimal import ROUND_HALF_UP, Decimal

from shop.tax.rates import rate_percent


def tax_cents(subtotal_cents: int, country: str, region: str | None) -> int:
    """Tax in cents; KeyError for an unsupported destination (see ``rate_percent``)."""
    # bool is an int subclass; a True subtotal is a caller bug, not one cent.
    if not isinstance(subtotal_cents, int) or isinstance(subtotal_cents, bool) or subtotal_cents < 0:
        raise ValueError(f"subtotal_cents must be a non-negative int, got {subtotal_cents!r}")
    # Decimal end to end: 1000 * 7.25 / 100 is exactly 72.5, which must round to 73.
    tax = Decimal(subtotal_cents) * rate_percent(country, region) / 100
    return int(tax.quantize(Decimal(1), rounding=ROUND_HALF_UP))
