"""Shipping: the options and prices offered for a destination and a parcel weight."""
