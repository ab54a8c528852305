"""The files a gunicorn master and its workers keep next to the master's pid file, so that
``make scale`` and the load tests' process controls (loadtests/scale.py, loadtests/sut.py) can
follow the workers from outside:

- ``<data dir>/run/<process>.pid``: the master's pid (gunicorn writes it: ``--pid``);
- ``<process>.nworkers``: how many workers the master wants (rewritten on every TTIN/TTOU it
  acts on);
- ``<process>.ready/<worker pid>``: one empty file per worker that has loaded the app and
  is serving.

Bookkeeping for the operator's and the load tests' tools, not part of serving a request: the
gunicorn hooks here (``HOOKS``) are all that writes them, and shop/web/gunicorn_conf.py
installs them."""
import os
import shutil
from pathlib import Path


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


# -- the gunicorn hooks that keep them ---------------------------------------------------------
def _ready(cfg) -> Path | None:
    return ready_dir(Path(cfg.pidfile)) if cfg.pidfile else None


def on_starting(server):
    ready = _ready(server.cfg)
    if ready:  # markers of an earlier run's workers would count as this one's
        shutil.rmtree(ready, ignore_errors=True)
        ready.mkdir(parents=True, exist_ok=True)


def nworkers_changed(server, new_value, old_value):
    # The master acted on a TTIN/TTOU (or set its first count): say how many workers it wants
    # now. A signal sent before the master has handled the previous one of the same kind is
    # merged with it, so the scaler waits for this number to move before sending the next.
    if server.cfg.pidfile:
        target = nworkers_file(Path(server.cfg.pidfile))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        tmp.write_text(f"{new_value}\n")
        os.replace(tmp, target)


def post_worker_init(worker):
    # The app is loaded (a gevent worker imports it only now) and the worker enters its accept
    # loop next: from here on it serves.
    ready = _ready(worker.cfg)
    if ready:
        (ready / str(worker.pid)).touch()


def child_exit(server, worker):
    ready = _ready(server.cfg)
    if ready:
        (ready / str(worker.pid)).unlink(missing_ok=True)


def on_exit(server):
    if server.cfg.pidfile:  # gunicorn removes the pid file itself
        nworkers_file(Path(server.cfg.pidfile)).unlink(missing_ok=True)
        shutil.rmtree(_ready(server.cfg), ignore_errors=True)
