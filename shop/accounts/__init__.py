"""Accounts: registration, password login, bearer tokens."""
