"""The framework limit: the smallest Flask app that answers a product-sized JSON document.

The benchmark serves it with exactly the monolith's gunicorn settings on the same CPUs, so
"monolith / this" says how much of the framework's ceiling the shop's own work leaves."""
from flask import Flask, jsonify

PRODUCT = {"id": 1, "sku": "ELE-000001", "name": "Compact Wireless Earbuds",
           "description": "Bluetooth earbuds with a charging case and up to 24 hours of battery.",
           "category": "electronics", "price_cents": 4999, "stock": 120, "weight_grams": 180}


def create_app() -> Flask:
    app = Flask("minimal")

    @app.get("/item")
    def item():
        return jsonify(PRODUCT)

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "architecture": "minimal"})

    return app
