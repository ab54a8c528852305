"""Catalog: categories and products (the seed data lives in ``seed``)."""
