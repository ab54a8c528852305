"""Cart: each user's lines, priced as the catalog has them now."""
