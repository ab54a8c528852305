"""gunicorn's settings for the benchmark's minimal app (make bench): the shop's own hooks and
log setup, so that the framework limit is measured with the same gunicorn settings."""
from shop.web.gunicorn_conf import settings
from shop.web.settings import Serving

globals().update(settings(Serving("minimal")))
