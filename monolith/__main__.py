"""`python -m monolith`: serve the monolith with gunicorn in the foreground (Ctrl-C stops it)."""
import os
import sys

from monolith.config import Config
from shop.web.gunicorn import gunicorn_argv, prepare_pid_file


def main() -> None:
    config = Config.from_env()
    if config.secret_warning():
        print(config.secret_warning(), file=sys.stderr, flush=True)
    argv = gunicorn_argv("monolith.app:create_app()", host=config.host, port=config.port,
                         workers=config.workers, threads=config.threads,
                         access_log=config.access_log, name="shop-monolith", pid=config.pid_file)
    prepare_pid_file(config.pid_file)
    print(f"monolith: http://{config.host}:{config.port}  ({config.workers} workers x "
          f"{config.threads} threads, data in {config.database})", flush=True)
    os.environ["SHOP_PROCESS_NAME"] = "monolith"
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(config.metrics_dir)
    # Read by shop/web/gunicorn_conf.py: the master serves the metrics there, not on the public port.
    if config.metrics_address:
        os.environ["SHOP_METRICS_ADDRESS"] = config.metrics_address
    else:
        os.environ.pop("SHOP_METRICS_ADDRESS", None)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main())
