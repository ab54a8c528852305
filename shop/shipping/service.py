"""Shipping as a capability: options and prices per destination and weight."""
from shop.errors import InvalidRequest
from shop.shipping import rules


class ShippingService:
    """The in-process implementation of ``shop.ports.ShippingPort``."""

    def options(self, country: str, weight_grams: int) -> list[dict]:
        try:
            return rules.options(country, weight_grams)
        except KeyError:
            raise InvalidRequest(
                f"We do not ship to '{country}': 'country' must be the US, Canada or an EU country.") from None
