"""Where the shop ships: the US, Canada and the 27 EU member states.

Plain reference data shared by tax, shipping and address validation, so every capability
agrees on which destinations exist. Codes are ISO 3166-1 alpha-2 for countries and the
postal abbreviations for US states and Canadian provinces, all upper case.
"""

# The 50 states plus DC: DC has its own sales tax and addresses, so it counts as a region.
US_STATES: dict[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas",
    "CA": "California", "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware",
    "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia", "HI": "Hawaii",
    "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa",
    "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine",
    "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska",
    "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio",
    "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island",
    "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}

# 10 provinces and 3 territories (Canada Post abbreviations).
CA_PROVINCES: dict[str, str] = {
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories",
    "NU": "Nunavut", "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec",
    "SK": "Saskatchewan", "YT": "Yukon",
}

# ISO 3166 alpha-2, not the EU's own VAT prefixes: Greece is "GR" here (its VAT prefix is "EL").
EU_COUNTRIES: dict[str, str] = {
    "AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "HR": "Croatia",
    "CY": "Cyprus", "CZ": "Czechia", "DK": "Denmark", "EE": "Estonia",
    "FI": "Finland", "FR": "France", "DE": "Germany", "GR": "Greece",
    "HU": "Hungary", "IE": "Ireland", "IT": "Italy", "LV": "Latvia",
    "LT": "Lithuania", "LU": "Luxembourg", "MT": "Malta", "NL": "Netherlands",
    "PL": "Poland", "PT": "Portugal", "RO": "Romania", "SK": "Slovakia",
    "SI": "Slovenia", "ES": "Spain", "SE": "Sweden",
}

SUPPORTED_COUNTRIES: frozenset[str] = frozenset({"US", "CA", *EU_COUNTRIES})

# Countries whose tax depends on the region, so an address there must name one.
_REGIONS: dict[str, dict[str, str]] = {"US": US_STATES, "CA": CA_PROVINCES}


def requires_region(country: str) -> bool:
    """True where the region is required (US, CA): tax there depends on it."""
    return country in _REGIONS


def valid_region(country: str, region: str | None) -> bool:
    """Whether ``region`` is acceptable for ``country``.

    For US and CA it must be one of the upper-case codes (no normalising here: callers
    decide whether to upper-case input). Elsewhere any value, including None or "", is fine
    because nothing depends on it.
    """
    regions = _REGIONS.get(country)
    if regions is None:
        return True
    return isinstance(region, str) and region in regions
