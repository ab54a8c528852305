"""Tax as a capability: the rate table behind a small service and an internal API."""
from shop.errors import InvalidRequest
from shop.tax import rules


class TaxService:
    """The in-process implementation of ``shop.ports.TaxPort``."""

    def tax_cents(self, subtotal_cents: int, country: str, region: str | None) -> int:
        try:
            return rules.tax_cents(subtotal_cents, country, region or None)
        except KeyError:
            raise InvalidRequest(f"There is no tax rate for destination {country} {region or ''}".strip() + ".") from None
