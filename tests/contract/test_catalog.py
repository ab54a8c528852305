"""Catalog: categories, paginated product lists, search, category filter, one product.

Nothing in this module changes stock, so the whole catalog is read once per deployment and
every list or search is checked against what it must contain, not just its shape."""
import pytest

from tests.support.client import Api, error_code

PRODUCT_KEYS = {"id", "sku", "name", "description", "category", "price_cents", "stock",
                "weight_grams"}


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@pytest.fixture(scope="module")
def client(deployment):
    return Api(deployment.url)


def fetch_all(client: Api, **params) -> tuple[list[dict], int]:
    """Every item of a product list, page by page (100 a page), checking each page's envelope."""
    items, page, total = [], 1, None
    while True:
        r = client.get("/api/products", params={**params, "page": page, "per_page": 100})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "page", "per_page", "total"}, body.keys()
        assert (body["page"], body["per_page"]) == (page, 100)
        total = body["total"] if total is None else total
        assert body["total"] == total, "total changed between pages"
        items += body["items"]
        if len(body["items"]) < 100:
            break
        page += 1
    assert len(items) == total
    return items, total


@pytest.fixture(scope="module")
def catalog(client) -> list[dict]:
    items, _total = fetch_all(client)
    return items


@pytest.fixture(scope="module")
def categories(client) -> list[dict]:
    r = client.get("/api/categories")
    assert r.status_code == 200, r.text
    return r.json()["items"]


def matches(product: dict, term: str) -> bool:
    term = term.lower()
    return term in product["name"].lower() or term in product["description"].lower()


def products_page(client: Api, **params) -> dict:
    r = client.get("/api/products", params=params)
    assert r.status_code == 200, r.text
    return r.json()


# -- categories ---------------------------------------------------------------------------------

def test_categories_list_shape(client):
    r = client.get("/api/categories")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"items"}
    assert len(body["items"]) >= 8
    for category in body["items"]:
        assert set(category) == {"slug", "name", "product_count"}, category
        assert isinstance(category["slug"], str) and category["slug"]
        assert isinstance(category["name"], str) and category["name"]
        assert is_int(category["product_count"]) and category["product_count"] >= 0
    slugs = [c["slug"] for c in body["items"]]
    assert len(set(slugs)) == len(slugs), "duplicate slugs"


def test_category_counts_add_up_to_the_catalog(categories, catalog):
    assert sum(c["product_count"] for c in categories) == len(catalog)
    for category in categories:
        in_category = [p for p in catalog if p["category"] == category["slug"]]
        assert category["product_count"] == len(in_category), category
    slugs = {c["slug"] for c in categories}
    assert {p["category"] for p in catalog} <= slugs, "a product names an unlisted category"


# -- product lists ------------------------------------------------------------------------------

def test_the_catalog_is_large_unique_and_ordered_by_id(catalog):
    assert len(catalog) >= 1000
    ids = [p["id"] for p in catalog]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert len({p["sku"] for p in catalog}) == len(catalog), "duplicate SKUs"


def test_every_product_has_the_exact_shape(catalog):
    for p in catalog:
        assert set(p) == PRODUCT_KEYS, p
        assert is_int(p["id"]) and p["id"] > 0, p
        for key in ("sku", "name", "description", "category"):
            assert isinstance(p[key], str) and p[key], p
        assert is_int(p["price_cents"]) and p["price_cents"] > 0, p
        assert is_int(p["stock"]) and p["stock"] >= 0, p
        assert is_int(p["weight_grams"]) and p["weight_grams"] >= 0, p


def test_default_page_is_the_first_20_products(client, catalog):
    body = products_page(client)
    assert set(body) == {"items", "page", "per_page", "total"}
    assert (body["page"], body["per_page"], body["total"]) == (1, 20, len(catalog))
    assert body["items"] == catalog[:20]


@pytest.mark.parametrize("page,per_page", [(2, 20), (3, 7), (1, 1), (5, 100), (1, 100)])
def test_pages_are_consecutive_slices_of_the_catalog(client, catalog, page, per_page):
    body = products_page(client, page=page, per_page=per_page)
    assert (body["page"], body["per_page"], body["total"]) == (page, per_page, len(catalog))
    start = (page - 1) * per_page
    assert body["items"] == catalog[start:start + per_page]


def test_last_page_is_partial_and_a_page_beyond_the_end_is_empty(client, catalog):
    total = len(catalog)
    last = -(-total // 100)
    body = products_page(client, page=last, per_page=100)
    assert body["items"] == catalog[(last - 1) * 100:]
    assert body["total"] == total
    for beyond in (last + 1, 1000, 1_000_000):
        body = products_page(client, page=beyond, per_page=100)
        assert body == {"items": [], "page": beyond, "per_page": 100, "total": total}
    body = products_page(client, page=total // 20 + 2)
    assert body == {"items": [], "page": total // 20 + 2, "per_page": 20, "total": total}


BAD_PAGINATION = [
    ("page", "0"), ("page", "-1"), ("page", "abc"), ("page", "1.5"), ("page", ""),
    ("page", "1e2"), ("page", "+1"), ("page", " 1"),
    ("per_page", "0"), ("per_page", "101"), ("per_page", "-5"), ("per_page", "abc"),
    ("per_page", "2.0"), ("per_page", ""), ("per_page", "1000"),
]


@pytest.mark.parametrize("name,value", BAD_PAGINATION,
                         ids=[f"{n}={v!r}" for n, v in BAD_PAGINATION])
def test_bad_pagination_is_400_naming_the_parameter(client, name, value):
    r = client.get("/api/products", params={name: value})
    assert r.status_code == 400, r.text
    assert error_code(r) == "invalid_request"
    assert name in r.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/api/products?page=0&q=cotton",
                                  "/api/products?per_page=101&category=books"])
def test_bad_pagination_is_400_with_filters_too(client, path):
    r = client.get(path)
    assert r.status_code == 400, r.text
    assert error_code(r) == "invalid_request"


# -- search -------------------------------------------------------------------------------------

@pytest.mark.parametrize("term", [
    "cotton",      # in names and in descriptions, across categories
    "waterproof",  # only in descriptions
    "Wireless",    # only in names
    "garden",      # a category slug, a word in names and descriptions
    "%",           # a literal character, not a wildcard
    "_",
    "hdmi cable",  # a space inside the term
    "°C",          # non-ASCII, percent-encoded in the URL
    "mother-of-PEARL",
])
def test_search_finds_exactly_the_products_whose_name_or_description_contains_the_term(
        client, catalog, term):
    expected = [p for p in catalog if matches(p, term)]
    found, total = fetch_all(client, q=term)
    assert total == len(expected)
    assert found == expected
    for p in found:
        assert matches(p, term), p


def test_search_covers_descriptions_not_only_names(catalog):
    """Guards the choice of terms above: they really do exercise both columns."""
    assert any(matches(p, "waterproof") for p in catalog)
    assert not any("waterproof" in p["name"].lower() for p in catalog if matches(p, "waterproof"))
    assert any("wireless" in p["name"].lower() for p in catalog)


@pytest.mark.parametrize("variant", ["COTTON", "CoTtOn", "cOTTON"])
def test_search_is_case_insensitive(client, variant):
    assert products_page(client, q=variant, per_page=100) == products_page(client, q="cotton",
                                                                           per_page=100)
    assert products_page(client, q=variant)["total"] > 0


def test_search_total_is_the_same_on_every_page(client, catalog):
    expected = [p for p in catalog if matches(p, "tea")]
    assert len(expected) > 10
    pages = [products_page(client, q="tea", page=n, per_page=10)
             for n in range(1, -(-len(expected) // 10) + 2)]
    assert {p["total"] for p in pages} == {len(expected)}
    assert [item for p in pages for item in p["items"]] == expected
    assert pages[-1]["items"] == []


def test_empty_q_is_ignored(client, catalog):
    assert products_page(client, q="") == products_page(client)
    assert products_page(client, q="", page=3, per_page=50)["items"] == catalog[100:150]


def test_search_without_a_match_is_an_empty_page(client):
    assert products_page(client, q="zzqx-no-such-product") == {
        "items": [], "page": 1, "per_page": 20, "total": 0}


# -- category filter ----------------------------------------------------------------------------

def test_category_filter_gives_exactly_that_category(client, catalog, categories):
    for category in categories[:3] + categories[-1:]:
        slug = category["slug"]
        found, total = fetch_all(client, category=slug)
        assert total == category["product_count"]
        assert found == [p for p in catalog if p["category"] == slug]
        assert all(p["category"] == slug for p in found)


def test_category_filter_paginates(client, catalog, categories):
    slug = categories[1]["slug"]
    in_category = [p for p in catalog if p["category"] == slug]
    body = products_page(client, category=slug, page=2, per_page=15)
    assert body["items"] == in_category[15:30]
    assert body["total"] == len(in_category)


@pytest.mark.parametrize("slug", ["no-such-category", "electronics-x", "books%"])
def test_unknown_category_gives_no_items(client, categories, slug):
    assert slug not in {c["slug"] for c in categories}
    r = client.get("/api/products", params={"category": slug})
    assert r.status_code == 200, r.text
    assert r.json() == {"items": [], "page": 1, "per_page": 20, "total": 0}


@pytest.mark.parametrize("term,slug", [("cotton", "clothing"), ("cotton", "toys-games"),
                                       ("stainless", "home-kitchen"), ("wireless", "books")])
def test_search_and_category_combine(client, catalog, term, slug):
    expected = [p for p in catalog if p["category"] == slug and matches(p, term)]
    found, total = fetch_all(client, q=term, category=slug)
    assert total == len(expected)
    assert found == expected


def test_combined_filter_is_narrower_than_either(client, catalog):
    both = [p for p in catalog if p["category"] == "clothing" and matches(p, "cotton")]
    only_q = [p for p in catalog if matches(p, "cotton")]
    assert 0 < len(both) < len(only_q), "the seed no longer exercises the combination"


# -- one product --------------------------------------------------------------------------------

def test_product_by_id_is_the_listed_product(client, catalog):
    for product in (catalog[0], catalog[len(catalog) // 2], catalog[-1]):
        r = client.get(f"/api/products/{product['id']}")
        assert r.status_code == 200, r.text
        assert r.json() == product


def test_unknown_product_is_404(client, catalog):
    for product_id in (max(p["id"] for p in catalog) + 1, 0, 999_999_999):
        r = client.get(f"/api/products/{product_id}")
        assert r.status_code == 404, f"{product_id}: {r.text}"
        assert error_code(r) == "not_found"


@pytest.mark.parametrize("raw", ["abc", "1.5", "-1", "1abc", "%20", "null"])
def test_non_integer_product_id_is_404(client, raw):
    r = client.get(f"/api/products/{raw}")
    assert r.status_code == 404, r.text
    assert error_code(r) == "not_found"
