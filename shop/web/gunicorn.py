"""How every deployable is served: gunicorn, with threaded (gthread) workers by default.

gthread workers keep client connections alive (sync workers close them after every
response) and a slow call holds one thread, not the whole worker process. The gateway, which
only waits on sockets, runs gevent workers instead (see microservices/config.py).

Every master writes a pid file, ``<data dir>/run/<process>.pid``, and its hooks keep files
next to it so that its workers can be followed from outside (shop/web/worker_files.py, whose
helpers are re-exported here for the launchers)."""
import sys
from pathlib import Path

from shop.web.worker_files import master, nworkers_file, pid_file, prepare_pid_file, ready_dir, remove_pid_file  # noqa: F401

ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)sB %(M)sms rid=%({x-request-id}o)s'


def gunicorn_argv(app_spec: str, *, conf: str, host: str, port: int, workers: int, threads: int,
                  access_log: bool, name: str, timeout: int = 30, worker_class: str = "gthread",
                  pid: Path | None = None) -> list[str]:
    """``conf``: the deployable's gunicorn settings module (``monolith.gunicorn_conf``, ...):
    shop/web/gunicorn_conf.py's hooks with that deployable's settings."""
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    argv = [
        gunicorn, app_spec,
        "--config", f"python:{conf}",   # metrics, log format, the worker files
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        # gthread: gunicorn's, retired without dropping requests (shop/web/gunicorn_conf.py)
        "--worker-class", {"gthread": "shop.web.gunicorn_conf.ThreadWorker",
                           "gevent": "shop.web.gevent_worker.GeventWorker"}.get(worker_class, worker_class),
        *(["--threads", str(threads)] if worker_class == "gthread" else ["--worker-connections", "1000"]),
        "--keep-alive", "30",          # load generators and the gateway reuse connections
        "--timeout", str(timeout),
        "--graceful-timeout", "10",
        "--name", name,
        "--error-logfile", "-",
        "--no-control-socket",         # several gunicorns run side by side; no shared socket
    ]
    if pid is not None:
        argv += ["--pid", str(pid)]    # see pid_file(); make scale finds the master by it
    if worker_class == "gthread":
        argv.append("--preload")       # build the app (schema, seed) once, then fork workers
    # (gevent workers must patch the interpreter before the app is imported: no preload)
    if access_log:
        argv += ["--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT]
    return argv
