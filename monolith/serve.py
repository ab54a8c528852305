"""How the monolith is served: its one gunicorn command line, used by ``python -m monolith``,
the container image's entry point and the tests alike."""
from monolith.config import Config
from shop.web.gunicorn import gunicorn_argv

APP = "monolith.app:create_app()"
CONF = "monolith.gunicorn_conf"


def argv(config: Config) -> list[str]:
    return gunicorn_argv(APP, conf=CONF, host=config.host, port=config.port, workers=config.workers,
                         threads=config.threads, access_log=config.access_log, name="shop-monolith",
                         pid=config.pid_file)

