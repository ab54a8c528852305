"""How every deployable is served: gunicorn, with threaded (gthread) workers by default.

gthread workers keep client connections alive (sync workers close them after every
response) and a slow call holds one thread, not the whole worker process. The gateway, which
only waits on sockets, runs gevent workers instead (see microservices/config.py).

Every master writes a pid file, ``<data dir>/run/<process>.pid``, so that its workers can be
counted and changed while it runs (``make scale``, loadtests/scale.py). Next to it the hooks in
shop/web/gunicorn_conf.py keep ``<process>.nworkers`` (how many workers the master wants) and
``<process>.ready/<worker pid>`` (one file per worker that has loaded the app and is serving)."""
import sys
from pathlib import Path

ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)sB %(M)sms rid=%({x-request-id}o)s'


def pid_file(data_dir: Path, process: str) -> Path:
    """Where the master serving ``process`` (monolith, gateway, or a service) writes its pid."""
    return Path(data_dir) / "run" / f"{process}.pid"


def nworkers_file(pid: Path) -> Path:
    """How many workers the master wants (rewritten on every TTIN/TTOU it acts on)."""
    return pid.with_suffix(".nworkers")


def ready_dir(pid: Path) -> Path:
    """One empty file per worker (named by its pid) that has loaded the app and is serving."""
    return pid.with_suffix(".ready")


def master(pid: Path):
    """The running gunicorn master that wrote ``pid``, as a psutil.Process, or None: no file,
    or a stale one (its process is gone, or the pid now belongs to something else)."""
    import psutil
    try:
        number = int(pid.read_text().strip())
        process = psutil.Process(number)
        cmdline = process.cmdline()
    except (OSError, ValueError, psutil.Error):
        return None
    # Started with `--pid <this file>`: not some other process that was given a recycled pid.
    if str(pid) not in cmdline or not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
        return None
    return process


def prepare_pid_file(pid: Path) -> None:
    """Before starting a master: create the run directory and remove a stale pid file (left
    by a master that was killed). gunicorn would refuse to start if the stale pid had been
    recycled by another process. A live master's file is left alone: it still serves (and
    the new one will fail to bind its port)."""
    pid.parent.mkdir(parents=True, exist_ok=True)
    if pid.exists() and master(pid) is None:
        remove_pid_file(pid)


def remove_pid_file(pid: Path) -> None:
    """After a master was killed (SIGKILL leaves its files behind)."""
    for leftover in (pid, nworkers_file(pid)):
        leftover.unlink(missing_ok=True)
    ready = ready_dir(pid)
    if ready.is_dir():
        for marker in ready.iterdir():
            marker.unlink(missing_ok=True)


def gunicorn_argv(app_spec: str, *, host: str, port: int, workers: int, threads: int,
                  access_log: bool, name: str, timeout: int = 30, worker_class: str = "gthread",
                  pid: Path | None = None) -> list[str]:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    argv = [
        gunicorn, app_spec,
        "--config", "python:shop.web.gunicorn_conf",   # metrics directory, log format
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
