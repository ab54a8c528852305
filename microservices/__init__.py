"""The microservices: each capability its own Flask app, gunicorn and SQLite file, behind a gateway."""
