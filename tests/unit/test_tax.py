from decimal import Decimal
from pathlib import Path

import pytest

from shop import geo
from shop.tax import rates
from shop.tax.rates import markdown_table, rate_percent
from shop.tax.rules import tax_cents

DOC = Path(__file__).resolve().parents[2] / "docs" / "tax-rates.md"


@pytest.mark.parametrize("country, region, expected", [
    ("US", "CA", "7.25"), ("US", "TX", "6.25"), ("US", "NY", "4"), ("US", "OR", "0"),
    ("CA", "ON", "13"), ("CA", "AB", "5"), ("CA", "QC", "14.975"),
    ("DE", None, "19"), ("FR", None, "20"), ("IE", None, "23"),
])
def test_required_rates(country, region, expected):
    assert rate_percent(country, region) == Decimal(expected)


def test_rates_are_decimal():
    assert isinstance(rate_percent("US", "CA"), Decimal)


def test_every_destination_has_a_rate():
    for state in geo.US_STATES:
        assert Decimal(0) <= rate_percent("US", state) < 15
    for province in geo.CA_PROVINCES:
        assert Decimal(5) <= rate_percent("CA", province) < 20
    for country in geo.EU_COUNTRIES:
        assert Decimal(15) <= rate_percent(country, None) < 30


def test_no_rates_for_places_we_do_not_know():
    assert set(rates.US_RATES) == set(geo.US_STATES)
    assert set(rates.CA_RATES) == set(geo.CA_PROVINCES)
    assert set(rates.EU_RATES) == set(geo.EU_COUNTRIES)


def test_eu_region_is_ignored():
    assert rate_percent("DE", "") == rate_percent("DE", "Bavaria") == Decimal(19)


@pytest.mark.parametrize("country, region", [
    ("US", None), ("US", ""), ("US", "ca"), ("US", "ON"), ("CA", None), ("CA", "TX"),
    ("GB", None), ("CH", None), ("", None), ("de", None),
])
def test_unknown_destination_raises(country, region):
    with pytest.raises(KeyError):
        rate_percent(country, region)
    with pytest.raises(KeyError):
        tax_cents(1000, country, region)


def test_rounds_half_up():
    assert tax_cents(1000, "US", "CA") == 73  # 72.5 -> 73
    assert tax_cents(200, "US", "CA") == 15  # 14.5 -> 15
    assert tax_cents(1, "US", "CA") == 0  # 0.0725 -> 0
    assert tax_cents(7, "US", "CA") == 1  # 0.5075 -> 1
    assert tax_cents(1000, "CA", "QC") == 150  # 149.75 -> 150
    assert tax_cents(100, "US", "MO") == 4  # 4.225 -> 4


def test_simple_amounts():
    assert tax_cents(10000, "DE", None) == 1900
    assert tax_cents(12345, "FR", None) == 2469  # 2469.0
    assert tax_cents(9999, "CA", "ON") == 1300  # 1299.87
    assert tax_cents(0, "IE", None) == 0


def test_zero_rate():
    assert tax_cents(123456, "US", "OR") == 0
    assert tax_cents(1000, "US", "NH") == 0


def test_large_subtotal_is_exact():
    # float would drift here; Decimal must not.
    assert tax_cents(10**15 + 1, "US", "CA") == 72500000000000  # 72500000000000.0725


@pytest.mark.parametrize("bad", [-1, 1.5, "100", True, None])
def test_bad_subtotal(bad):
    with pytest.raises(ValueError):
        tax_cents(bad, "DE", None)


def test_docs_in_sync():
    assert DOC.read_text(encoding="utf-8") == markdown_table(), (
        "docs/tax-rates.md is stale: run python3 -m shop.tax.rates > docs/tax-rates.md")


def test_markdown_lists_every_rate():
    table = markdown_table()
    assert rates.RATES_AS_OF in table
    assert "| CA | California | 7.25 |" in table
    assert "| QC | Quebec | 14.975 |" in table
    assert "| GR | Greece | 24 |" in table
    rows = [line for line in table.splitlines() if line.startswith("| ") and "Code" not in line]
    assert len(rows) == 51 + 13 + 27
