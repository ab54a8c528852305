"""The shop's domain core: one package per business capability.

Each capability (accounts, catalog, cart, orders, billing, tax, shipping) holds its rules,
its storage and its HTTP blueprint. The two deployments (``monolith`` and ``microservices``)
differ only in how they wire these together.
"""
