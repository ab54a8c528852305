"""How every deployable is served: gunicorn, with threaded (gthread) workers by default.

gthread workers keep client connections alive (sync workers close them after every
response) and a slow call holds one thread, not the whole worker process. The gateway, which
only waits on sockets, runs gevent workers instead (see microservices/config.py)."""
import sys
from pathlib import Path

ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)sB %(M)sms rid=%({x-request-id}o)s'


def gunicorn_argv(app_spec: str, *, host: str, port: int, workers: int, threads: int,
                  access_log: bool, name: str, timeout: int = 30, worker_class: str = "gthread") -> list[str]:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    argv = [
        gunicorn, app_spec,
        "--config", "python:shop.web.gunicorn_conf",   # metrics directory, log format
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        "--worker-class", worker_class,
        *(["--threads", str(threads)] if worker_class == "gthread" else ["--worker-connections", "1000"]),
        "--keep-alive", "30",          # load generators and the gateway reuse connections
        "--timeout", str(timeout),
        "--graceful-timeout", "10",
        "--name", name,
        "--error-logfile", "-",
        "--no-control-socket",         # several gunicorns run side by side; no shared socket
    ]
    if worker_class == "gthread":
        argv.append("--preload")       # build the app (schema, seed) once, then fork workers
    # (gevent workers must patch the interpreter before the app is imported: no preload)
    if access_log:
        argv += ["--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT]
    return argv
