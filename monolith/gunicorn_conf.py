"""gunicorn's settings for the monolith (``-c python:monolith.gunicorn_conf``): the hooks every
deployable shares (shop/web/gunicorn_conf.py), bound to this deployable's configuration."""
from monolith.config import Config
from shop.web.gunicorn_conf import settings

globals().update(settings(Config.from_env().serving()))
