"""Helpers the test layers share: starting deployments as real processes, and an API client."""
