"""`python -m monolith`: serve the monolith with gunicorn in the foreground (Ctrl-C stops it)."""
import os
import sys

from monolith import serve
from monolith.config import Config
from shop.web.worker_files import prepare_pid_file


def main() -> None:
    config = Config.from_env()
    if config.secret_warning():
        print(config.secret_warning(), file=sys.stderr, flush=True)
    argv = serve.argv(config)
    prepare_pid_file(config.pid_file)
    print(f"monolith: http://{config.host}:{config.port}  ({config.workers} workers x "
          f"{config.threads} threads, data in {config.database})", flush=True)
    # Where the workers leave their metrics: prometheus_client reads it itself, as it is imported.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(config.metrics_dir)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main())
