import re

import pytest

from shop.catalog.seed import CATEGORIES, SEARCH_TERMS, products


@pytest.fixture(scope="module")
def items():
    return products()


def test_size(items):
    assert len(items) >= 1000
    assert len(CATEGORIES) >= 8


def test_categories_shape():
    slugs = [c["slug"] for c in CATEGORIES]
    assert len(slugs) == len(set(slugs))
    for c in CATEGORIES:
        assert set(c) == {"slug", "name"}
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", c["slug"])
        assert c["name"]


def test_ids_in_order(items):
    assert [p["id"] for p in items] == list(range(1, len(items) + 1))


def test_product_shape(items):
    slugs = {c["slug"] for c in CATEGORIES}
    keys = {"id", "sku", "name", "description", "category", "price_cents", "stock", "weight_grams"}
    for p in items:
        assert set(p) == keys
        assert p["category"] in slugs
        assert re.fullmatch(r"[A-Z]{3}-\d{6}", p["sku"])
        assert p["name"] and len(p["name"]) <= 100
        assert p["description"].endswith(".")
        assert isinstance(p["price_cents"], int) and p["price_cents"] > 0
        assert isinstance(p["stock"], int) and p["stock"] >= 0
        assert isinstance(p["weight_grams"], int) and p["weight_grams"] > 0


def test_unique_skus_and_names(items):
    assert len({p["sku"] for p in items}) == len(items)
    assert len({p["name"] for p in items}) == len(items)


def test_every_category_used(items):
    used = {p["category"] for p in items}
    assert used == {c["slug"] for c in CATEGORIES}


def test_prices_end_in_99_or_49(items):
    endings = [p["price_cents"] % 100 for p in items]
    assert set(endings) <= {99, 49}
    assert endings.count(99) > len(items) // 2


def test_stock_distribution(items):
    stocks = [p["stock"] for p in items]
    low = sum(1 for s in stocks if 1 <= s <= 5)
    zero = stocks.count(0)
    assert 0.03 * len(items) <= low <= 0.08 * len(items)
    assert 1 <= zero <= 0.02 * len(items)
    assert all(s in range(0, 6) or s in range(20, 501) for s in stocks)


def test_deterministic():
    assert products() == products()


def test_returns_fresh_list(items):
    again = products()
    again[0]["stock"] = -99
    assert products()[0]["stock"] == items[0]["stock"]


def test_search_terms_match(items):
    assert len(SEARCH_TERMS) >= 25
    texts = [(p["name"] + " " + p["description"]).lower() for p in items]
    for term in SEARCH_TERMS:
        assert any(term.lower() in t for t in texts), term
