"""Billing: charges and refunds against a (simulated) payment provider."""
