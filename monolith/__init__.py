"""The monolith: every capability in one Flask app, one process group, one SQLite database."""
