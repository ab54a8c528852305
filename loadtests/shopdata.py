"""What the simulated visitors pick from: the shop's own seed data, not a hard-coded handful.

Both deployments seed the same deterministic data (``shop/catalog/seed.py``), so reading the
seed here is the same as reading the catalog over the API, without the extra requests."""
import random

from shop.accounts.service import SEED_SHOPPER_PASSWORD, SEED_SHOPPERS, seed_shopper_email
from shop.catalog import seed

PRODUCTS = seed.products()
PRODUCT_IDS = [p["id"] for p in PRODUCTS]
# Shoppers buy what is plentiful, so a long run does not turn into a stream of "sold out".
BUYABLE_IDS = [p["id"] for p in PRODUCTS if p["stock"] >= 50]
CATEGORY_SLUGS = [c["slug"] for c in seed.CATEGORIES]
SEARCH_TERMS = list(seed.SEARCH_TERMS)
PAGES_PER_CATEGORY = max(1, len(PRODUCTS) // len(CATEGORY_SLUGS) // 20)

ADDRESSES = [
    {"name": "Ada Lovelace", "line1": "1 Market St", "city": "San Francisco", "region": "CA",
     "postal_code": "94105", "country": "US"},
    {"name": "Grace Hopper", "line1": "350 5th Ave", "city": "New York", "region": "NY",
     "postal_code": "10118", "country": "US"},
    {"name": "Alan Turing", "line1": "100 Congress Ave", "city": "Austin", "region": "TX",
     "postal_code": "78701", "country": "US"},
    {"name": "Ken Thompson", "line1": "290 Bremner Blvd", "city": "Toronto", "region": "ON",
     "postal_code": "M5V 3L9", "country": "CA"},
    {"name": "Konrad Zuse", "line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117",
     "country": "DE"},
    {"name": "Marie Curie", "line1": "1 Rue de Rivoli", "city": "Paris", "postal_code": "75001",
     "country": "FR"},
    {"name": "Kathleen Lonsdale", "line1": "1 Grafton St", "city": "Dublin", "postal_code": "D02",
     "country": "IE"},
]
SHIPPING_COUNTRIES = sorted({a["country"] for a in ADDRESSES})
CARD = {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}

SHOPPER_PASSWORD = SEED_SHOPPER_PASSWORD
SHOPPER_COUNT = SEED_SHOPPERS


def shopper_email(n: int) -> str:
    return seed_shopper_email(n)


def pick(rng: random.Random, items: list):
    return items[rng.randrange(len(items))]
