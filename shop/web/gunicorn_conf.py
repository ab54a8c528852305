"""gunicorn settings every deployable shares (``-c python:shop.web.gunicorn_conf``): the
metrics directory's life cycle and the log format. Everything else is on the command line
(``shop/web/gunicorn.py``)."""
import os
import shutil

from shop.web.observability import log_format

_name = os.environ.get("SHOP_PROCESS_NAME", "shop")

# Skips building access lines entirely when --access-logfile is not given.
logger_class = "shop.web.gunicorn_logging.ShopLogger"


def on_starting(server):
    # Numbers left by an earlier run would be added to this one's: start empty.
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)


_formatter = ({"()": "shop.web.observability.JsonFormatter", "service": _name} if log_format() == "json"
              else {"format": f"%(asctime)s %(levelname)s {_name} %(name)s: %(message)s"})

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"shop": _formatter},
    "handlers": {
        "error": {"class": "logging.StreamHandler", "formatter": "shop", "stream": "ext://sys.stderr"},
        "access": {"class": "logging.StreamHandler", "formatter": "shop", "stream": "ext://sys.stdout"},
    },
    # gunicorn merges this into its defaults, whose root logger names a "console" handler;
    # the app adds its own root handler (shop.web.observability.configure_logging).
    "root": {"level": "INFO", "handlers": []},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}
