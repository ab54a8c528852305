"""Stock reservations (CatalogService.reserve/release) on an in-memory database."""
import pytest

from shop.catalog.service import CatalogService
from shop.catalog.store import CatalogStore
from shop.errors import NotFound, OutOfStock
from shop.web.db import Database
from tests.unit.fakes import product

SEED = [product(1, "Mug", 1250, stock=5), product(2, "Tee", 2000, stock=3, category="tees"),
        product(3, "Pen", 150, stock=0)]


@pytest.fixture
def catalog():
    db = Database(":memory:")
    store = CatalogStore(db)
    store.create_schema()
    store.load_seed([{"slug": "mugs", "name": "Mugs"}, {"slug": "tees", "name": "Tees"}], SEED)
    yield CatalogService(store)
    db.close()


def stock(catalog) -> dict[int, int]:
    return {pid: p["stock"] for pid, p in catalog.products_by_id([1, 2, 3]).items()}


def test_seed_and_lookup(catalog):
    assert stock(catalog) == {1: 5, 2: 3, 3: 0}
    assert set(catalog.products_by_id([1, 1, 99])) == {1}
    assert catalog.products_by_id([]) == {}
    assert catalog.product(2)["name"] == "Tee"
    with pytest.raises(NotFound):
        catalog.product(99)


def test_reserve_takes_stock(catalog):
    catalog.reserve("k1", [(1, 2), (2, 3)])
    assert stock(catalog) == {1: 3, 2: 0, 3: 0}
    assert catalog.store.reservation("k1") == {"key": "k1", "lines": [(1, 2), (2, 3)], "status": "reserved"}


def test_reserve_is_all_or_nothing(catalog):
    with pytest.raises(OutOfStock) as err:
        catalog.reserve("k1", [(1, 2), (2, 4)])   # the Mug line alone would fit
    assert "Tee" in err.value.message and "3 left" in err.value.message
    assert err.value.code == "out_of_stock"
    assert stock(catalog) == {1: 5, 2: 3, 3: 0}
    assert catalog.store.reservation("k1") is None
    # the key is not burnt by the failure
    catalog.reserve("k1", [(1, 2)])
    assert stock(catalog)[1] == 3


def test_unknown_product_is_out_of_stock_and_takes_nothing(catalog):
    with pytest.raises(OutOfStock) as err:
        catalog.reserve("k1", [(1, 1), (99, 1)])
    assert "99" in err.value.message
    assert stock(catalog) == {1: 5, 2: 3, 3: 0}


def test_repeated_key_does_not_take_stock_twice(catalog):
    catalog.reserve("k1", [(1, 2)])
    catalog.reserve("k1", [(1, 2)])
    catalog.reserve("k1", [(1, 3)])   # whatever a retry says
    assert stock(catalog)[1] == 3


def test_release_gives_back_once(catalog):
    catalog.reserve("k1", [(1, 2), (2, 1)])
    catalog.release("k1")
    assert stock(catalog) == {1: 5, 2: 3, 3: 0}
    catalog.release("k1")
    assert stock(catalog) == {1: 5, 2: 3, 3: 0}
    assert catalog.store.reservation("k1")["status"] == "released"


def test_release_of_an_unknown_key_is_ignored(catalog):
    catalog.release("never-reserved")
    assert stock(catalog) == {1: 5, 2: 3, 3: 0}


def test_release_only_gives_back_its_own_key(catalog):
    catalog.reserve("a", [(1, 2)])
    catalog.reserve("b", [(1, 1)])
    catalog.release("a")
    assert stock(catalog)[1] == 4


def test_stock_never_goes_negative(catalog):
    taken = 0
    for i in range(10):
        try:
            catalog.reserve(f"k{i}", [(1, 2)])
            taken += 2
        except OutOfStock:
            pass
        assert stock(catalog)[1] >= 0
    assert taken == 4 and stock(catalog)[1] == 1
    catalog.reserve("last", [(1, 1)])
    assert stock(catalog)[1] == 0
    with pytest.raises(OutOfStock):
        catalog.reserve("one-more", [(1, 1)])
    with pytest.raises(OutOfStock):
        catalog.reserve("pen", [(3, 1)])
    assert stock(catalog) == {1: 0, 2: 3, 3: 0}


def test_exactly_the_stock_can_be_reserved(catalog):
    catalog.reserve("k", [(2, 3)])
    assert stock(catalog)[2] == 0


def test_reserve_inside_an_outer_transaction_rolls_back_with_it(catalog):
    # the monolith runs reserve inside its checkout transaction
    db = catalog.store.db
    with pytest.raises(RuntimeError):
        with db.transaction():
            catalog.reserve("k", [(1, 5)])
            raise RuntimeError("later step failed")
    assert stock(catalog)[1] == 5 and catalog.store.reservation("k") is None
