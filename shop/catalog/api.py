"""Public catalog API (browse, search) and the internal API other services use for stock."""
from flask import Blueprint, jsonify

from shop.catalog.service import CatalogService
from shop.errors import InvalidRequest
from shop.web import params


def create_blueprint(catalog: CatalogService) -> Blueprint:
    bp = Blueprint("catalog", __name__)

    @bp.get("/api/categories")
    def categories():
        return jsonify({"items": catalog.categories()})

    @bp.get("/api/products")
    def products():
        page, per_page = params.pagination()
        q = params.query_str("q")
        category = params.query_str("category", max_len=100)
        items, total = catalog.search(q, category, page, per_page)
        return jsonify(params.page_of(items, page, per_page, total))

    @bp.get("/api/products/<int:product_id>")
    def product(product_id: int):
        return jsonify(catalog.product(product_id))

    return bp


def _lines(body: dict) -> list[tuple[int, int]]:
    raw = body.get("lines")
    if not isinstance(raw, list) or not all(
            isinstance(x, list) and len(x) == 2 and all(type(v) is int for v in x) for x in raw):
        raise InvalidRequest("'lines' must be a list of [product_id, quantity] pairs.")
    return [(pid, qty) for pid, qty in raw]


def create_internal_blueprint(catalog: CatalogService) -> Blueprint:
    bp = Blueprint("catalog_internal", __name__)

    @bp.post("/internal/products/lookup")
    def lookup():
        ids = params.json_body().get("ids")
        if not isinstance(ids, list) or not all(type(i) is int for i in ids):
            raise InvalidRequest("'ids' must be a list of product ids.")
        return jsonify({"products": list(catalog.products_by_id(ids).values())})

    @bp.post("/internal/reservations")
    def reserve():
        body = params.json_body()
        catalog.reserve(params.string(body, "key", max_len=200), _lines(body))
        return jsonify({"status": "reserved"})

    @bp.post("/internal/reservations/release")
    def release():
        catalog.release(params.string(params.json_body(), "key", max_len=200))
        return jsonify({"status": "released"})

    return bp
