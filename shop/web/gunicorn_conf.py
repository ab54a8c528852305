"""gunicorn settings every deployable shares (``-c python:shop.web.gunicorn_conf``): the
metrics directory's life cycle, the files that let ``make scale`` follow the workers, and the
log format. Everything else is on the command line (``shop/web/gunicorn.py``)."""
import os
import shutil
from pathlib import Path

from shop.web import gunicorn_errors, observability
from shop.web.observability import log_format
from shop.web.settings import forwarded_allow_ips as _trusted_proxies

_name = os.environ.get("SHOP_PROCESS_NAME", "shop")

# The errors gunicorn answers itself (400 for a request it cannot parse, 414, 431...) in the
# API's JSON shape, not gunicorn's HTML page; the workers inherit it from the master.
gunicorn_errors.install()

# The proxies whose forwarding headers gunicorn believes (X-Forwarded-Proto, and SCRIPT_NAME /
# PATH_INFO sent as headers): SHOP_FORWARDED_ALLOW_IPS, none by default. gunicorn's own default
# trusts 127.0.0.1, so that any local client could set SCRIPT_NAME (a 500 echoing the path).
forwarded_allow_ips = _trusted_proxies()

# Skips building access lines entirely when --access-logfile is not given.
logger_class = "shop.web.gunicorn_logging.ShopLogger"


def on_starting(server):
    # Numbers left by an earlier run would be added to this one's: start empty.
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)
    ready = _ready_dir(server.cfg)
    if ready:  # markers of an earlier run's workers would count as this one's
        shutil.rmtree(ready, ignore_errors=True)
        ready.mkdir(parents=True, exist_ok=True)


# -- the worker bookkeeping loadtests/scale.py reads (files next to the pid file) ------------
def _ready_dir(cfg) -> Path | None:
    from shop.web.gunicorn import ready_dir
    return ready_dir(Path(cfg.pidfile)) if cfg.pidfile else None


def nworkers_changed(server, new_value, old_value):
    # The master acted on a TTIN/TTOU (or set its first count): say how many workers it wants
    # now. A signal sent before the master has handled the previous one of the same kind is
    # merged with it, so the scaler waits for this number to move before sending the next.
    if server.cfg.pidfile:
        from shop.web.gunicorn import nworkers_file
        target = nworkers_file(Path(server.cfg.pidfile))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        tmp.write_text(f"{new_value}\n")
        os.replace(tmp, target)


# -- metrics, from the master on a port of their own -----------------------------------------
_metrics_server = None


def when_ready(server):
    # The master listens; its workers are forked next. SHOP_METRICS_ADDRESS (host:port) is set
    # by the launchers from the deployable's configuration; unset, no metrics are served.
    global _metrics_server
    address = os.environ.get("SHOP_METRICS_ADDRESS")
    if address:
        _metrics_server = observability.start_metrics_server(address)  # a port in use stops the start
        server.log.info("metrics on http://%s/metrics", address)


def post_fork(server, worker):
    # A worker never serves the metrics: its copy of the listening socket goes (the master's stays).
    if _metrics_server is not None:
        _metrics_server.socket.close()


def post_worker_init(worker):
    # The app is loaded (a gevent worker imports it only now) and the worker enters its accept
    # loop next: from here on it serves.
    ready = _ready_dir(worker.cfg)
    if ready:
        (ready / str(worker.pid)).touch()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
    ready = _ready_dir(server.cfg)
    if ready:
        (ready / str(worker.pid)).unlink(missing_ok=True)


# -- the threaded worker, retired without dropping requests --------------------------------
from gunicorn.workers import gthread  # noqa: E402  (only gunicorn processes import this module)

from shop.web.admission import QUEUE  # noqa: E402


class ThreadWorker(gthread.ThreadWorker):
    """gunicorn's gthread worker, patient when it is retired by a scale-down (SIGTTOU).

    A stopping gthread worker answers a request arriving on a kept-alive connection with
    ``Connection: close``, but closes the connections that stay idle after 2 s
    (gthread.STOP_KEEPALIVE_LINGER). Closing an idle HTTP/1.1 connection races with a client
    sending on it: a request that arrives as the socket closes is reset (measured: about a
    fifth of the requests sent within 0.1 s of that moment failed). Only a response with
    ``Connection: close``, or the client closing, ends a connection without that race.

    So a worker retired while the master keeps serving keeps its idle connections for the
    whole graceful timeout: every client that sends within it is answered and told to close,
    and the worker exits as soon as the last connection is gone. When the master itself is
    stopping (a restart), waiting would only delay the new master (nothing else accepts), so
    gunicorn's 2 s stand."""

    # Admission control (shop/web/admission.py) needs to know how long each request waited
    # for a thread: gthread's pool queue has no bound and no clock of its own.
    def enqueue_req(self, conn):
        conn.shop_queued_at = QUEUE.put()
        super().enqueue_req(conn)

    def handle(self, conn):
        QUEUE.take(getattr(conn, "shop_queued_at", None))
        conn.shop_queued_at = None
        return super().handle(conn)

    def on_client_socket_readable(self, conn, client):
        # A kept-alive connection sent its next request: while the queue stands over its
        # limit, answer it at the door without a thread (shop/web/admission.py: Door) and
        # keep the connection waiting for the next one.
        door = QUEUE.door
        if door is not None and self.alive and door.closed() and door.turn_away(conn.sock):
            conn.set_timeout()                 # still registered with the poller: kept alive
            self.keepalived_conns.remove(conn)
            self.keepalived_conns.append(conn)  # (the list is in timeout order)
            return
        super().on_client_socket_readable(conn, client)

    def handle_exit(self, sig, frame):
        if self.alive and _master_still_listening(self):
            # Read by gthread at the moment it caps the kept-alive connections; this worker
            # process is the only one that sees the change.
            gthread.STOP_KEEPALIVE_LINGER = float(self.cfg.graceful_timeout)
        super().handle_exit(sig, frame)


def _master_still_listening(worker) -> bool:
    """A master that is shutting down closes its listening sockets before it signals its
    workers; one that retires a worker keeps them. Linux: compare socket inodes via /proc."""
    try:
        mine = {f"socket:[{os.fstat(s.fileno()).st_ino}]" for s in worker.sockets}
        fd_dir = f"/proc/{worker.ppid}/fd"
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(f"{fd_dir}/{fd}") in mine:
                    return True
            except OSError:
                continue
    except OSError:
        pass
    return False


def on_exit(server):
    if server.cfg.pidfile:  # gunicorn removes the pid file itself
        from shop.web.gunicorn import nworkers_file
        nworkers_file(Path(server.cfg.pidfile)).unlink(missing_ok=True)
        shutil.rmtree(_ready_dir(server.cfg), ignore_errors=True)


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
