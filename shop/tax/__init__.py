"""Tax: one rate per destination (a rate table in ``rates``, the arithmetic in ``rules``)."""
