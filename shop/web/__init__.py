"""Web glue shared by every deployable: app setup, request ids, errors, parameters, tokens, SQLite."""
