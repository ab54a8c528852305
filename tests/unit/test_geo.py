from shop import geo


def test_counts():
    assert len(geo.US_STATES) == 51  # 50 states + DC
    assert "DC" in geo.US_STATES
    assert len(geo.CA_PROVINCES) == 13
    assert len(geo.EU_COUNTRIES) == 27


def test_codes_are_two_upper_letters():
    for table in (geo.US_STATES, geo.CA_PROVINCES, geo.EU_COUNTRIES):
        for code, name in table.items():
            assert len(code) == 2 and code.isalpha() and code.isupper(), code
            assert name


def test_eu_uses_iso_codes():
    assert "GR" in geo.EU_COUNTRIES and "EL" not in geo.EU_COUNTRIES
    assert "GB" not in geo.EU_COUNTRIES


def test_supported_countries():
    assert geo.SUPPORTED_COUNTRIES == frozenset({"US", "CA"} | set(geo.EU_COUNTRIES))
    assert len(geo.SUPPORTED_COUNTRIES) == 29
    for other in ("GB", "CH", "NO", "MX", "JP", "", "us"):
        assert other not in geo.SUPPORTED_COUNTRIES


def test_requires_region():
    assert geo.requires_region("US")
    assert geo.requires_region("CA")
    assert not geo.requires_region("DE")
    assert not geo.requires_region("GR")


def test_valid_region_us_ca():
    assert geo.valid_region("US", "CA")
    assert geo.valid_region("US", "DC")
    assert geo.valid_region("CA", "QC")
    assert not geo.valid_region("US", "ca")  # case-sensitive
    assert not geo.valid_region("US", "ON")
    assert not geo.valid_region("CA", "NY")
    assert not geo.valid_region("US", None)
    assert not geo.valid_region("CA", "")


def test_valid_region_elsewhere_anything_goes():
    for region in (None, "", "Bavaria", "75"):
        assert geo.valid_region("DE", region)
