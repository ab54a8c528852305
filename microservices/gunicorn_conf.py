"""gunicorn's settings for any process of the microservices (``-c python:microservices.gunicorn_conf``):
the hooks every deployable shares (shop/web/gunicorn_conf.py), bound to this process's
configuration (which process it is: SHOP_PROCESS_NAME, set by the launcher)."""
from microservices.config import Config
from shop.web.gunicorn_conf import settings

globals().update(settings(Config.from_env().serving()))
