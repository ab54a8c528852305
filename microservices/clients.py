"""HTTP adapters: the same ports as the in-process services (``shop/ports.py``), over the network.

Each method is one internal call to one service's internal (or public) API. Every call here
is safe to repeat, and says why with ``idempotent=True`` (the client retries it after a
refused or reset connection): reads are reads, and writes carry a key or an id the service
deduplicates on. A new call must decide; a POST left unmarked is never retried."""
from microservices.http import ServiceClient


class CatalogClient:
    def __init__(self, http: ServiceClient):
        self.http = http

    def products_by_id(self, ids: list[int]) -> dict[int, dict]:
        if not ids:
            return {}
        # A read sent as POST (the ids may not fit in a URL).
        found = self.http.call("POST", "/internal/products/lookup", json_body={"ids": list(ids)},
                               idempotent=True)
        return {p["id"]: p for p in found["products"]}

    def reserve(self, key: str, lines: list[tuple[int, int]]) -> None:
        # By key: a key already reserved (or already released) takes no stock again.
        self.http.call("POST", "/internal/reservations",
                       json_body={"key": key, "lines": [list(x) for x in lines]}, idempotent=True)

    def release(self, key: str) -> None:
        # By key: a released key is not released twice.
        self.http.call("POST", "/internal/reservations/release", json_body={"key": key}, idempotent=True)


class CartClient:
    def __init__(self, http: ServiceClient):
        self.http = http

    def lines(self, user_id: int) -> list[tuple[int, int]]:
        return [tuple(x) for x in self.http.call("GET", f"/internal/carts/{user_id}/lines",
                                                 idempotent=True)["lines"]]

    def clear(self, user_id: int, product_ids: list[int] | None = None) -> None:
        # By nature: removing lines that are already gone changes nothing.
        self.http.call("POST", f"/internal/carts/{user_id}/clear",
                       json_body={} if product_ids is None else {"product_ids": list(product_ids)},
                       idempotent=True)


class TaxClient:
    def __init__(self, http: ServiceClient):
        self.http = http

    def tax_cents(self, subtotal_cents: int, country: str, region: str | None) -> int:
        return self.http.call("GET", "/internal/tax", query={
            "subtotal_cents": subtotal_cents, "country": country, "region": region},
            idempotent=True)["tax_cents"]


class ShippingClient:
    def __init__(self, http: ServiceClient):
        self.http = http

    def options(self, country: str, weight_grams: int) -> list[dict]:
        # The internal API: the public one caps weight_grams for shoppers, not for carts.
        return self.http.call("GET", "/internal/shipping/options",
                              query={"country": country, "weight_grams": weight_grams},
                              idempotent=True)["options"]


class BillingClient:
    def __init__(self, http: ServiceClient):
        self.http = http

    def charge(self, key: str, user_id: int, amount_cents: int, card: dict) -> dict:
        # By key: a key already charged returns that charge; one still being charged answers
        # 409 (the checkout then voids the key). A provider failure is a 503 service_unavailable,
        # which is never retried (see microservices/breaker.py: upstream_failed): the card is not tried again.
        return self.http.call("POST", "/internal/charges", json_body={
            "key": key, "user_id": user_id, "amount_cents": amount_cents, "payment": card},
            idempotent=True)

    def refund(self, charge_id: int) -> dict:
        # By id: a charge already refunded is not refunded again.
        return self.http.call("POST", f"/internal/charges/{charge_id}/refund", idempotent=True)

    def void(self, key: str) -> None:
        # By key: voiding refunds the key's charge once, or marks the key so that it is never made.
        self.http.call("POST", "/internal/charges/void", json_body={"key": key}, idempotent=True)


def client_for(config, name: str, caller: str) -> ServiceClient:
    """The HTTP client ``caller`` uses to reach the service ``name`` (microservices.config.Config)."""
    return ServiceClient(name, config.urls[name], connect_timeout=config.connect_timeout,
                         call_timeout=config.call_timeout, pool_size=config.services[caller].threads,
                         caller=caller, resilience=config.resilience)
