"""HTTP adapters: the same ports as the in-process services (``shop/ports.py``), over the network.

Each method is one internal call to one service's internal (or public) API. Every call here
is safe to repeat: reads are reads, and writes carry a key the service deduplicates on."""
from microservices.http import ServiceClient


class CatalogClient:
    def __init__(self, http: ServiceClient):
        self.http = http

    def products_by_id(self, ids: list[int]) -> dict[int, dict]:
        if not ids:
            return {}
        found = self.http.call("POST", "/internal/products/lookup", json_body={"ids": list(ids)})
        return {p["id"]: p for p in found["products"]}

    def reserve(self, key: str, lines: list[tuple[int, int]]) -> None:
        self.http.call("POST", "/internal/reservations",
                       json_body={"key": key, "lines": [list(x) for x in lines]})

    def release(self, key: str) -> None:
        self.http.call("POST", "/internal/reservations/release", json_body={"key": key})


class CartClient:
    def __init__(self, http: ServiceClient):
        self.http = http

    def lines(self, user_id: int) -> list[tuple[int, int]]:
        return [tuple(x) for x in self.http.call("GET", f"/internal/carts/{user_id}/lines")["lines"]]

    def clear(self, user_id: int, product_ids: list[int] | None = None) -> None:
        self.http.call("POST", f"/internal/carts/{user_id}/clear",
                       json_body={} if product_ids is None else {"product_ids": list(product_ids)})


class TaxClient:
    def __init__(self, http: ServiceClient):
        self.http = http

    def tax_cents(self, subtotal_cents: int, country: str, region: str | None) -> int:
        return self.http.call("GET", "/internal/tax", query={
            "subtotal_cents": subtotal_cents, "country": country, "region": region})["tax_cents"]


class ShippingClient:
    def __init__(self, http: ServiceClient):
        self.http = http

    def options(self, country: str, weight_grams: int) -> list[dict]:
        return self.http.call("GET", "/api/shipping/options",
                              query={"country": country, "weight_grams": weight_grams})["options"]


class BillingClient:
    def __init__(self, http: ServiceClient):
        self.http = http

    def charge(self, key: str, user_id: int, amount_cents: int, card: dict) -> dict:
        return self.http.call("POST", "/internal/charges", json_body={
            "key": key, "user_id": user_id, "amount_cents": amount_cents, "payment": card})

    def refund(self, charge_id: int) -> dict:
        return self.http.call("POST", f"/internal/charges/{charge_id}/refund")

    def void(self, key: str) -> None:
        self.http.call("POST", "/internal/charges/void", json_body={"key": key})
