"""gunicorn's settings every deployable shares: the metrics (served by the master on a port
of their own, added up from every worker), the log format, the JSON errors gunicorn answers
itself, the worker files ``make scale`` follows (shop/web/worker_files.py), and the threaded
worker. Everything else is on the command line (``shop/web/gunicorn.py``).

This module reads no configuration: each deployable's own settings module (``-c
python:monolith.gunicorn_conf``, ``python:microservices.gunicorn_conf``) reads its Config and
takes ``settings(serving)``, the hooks and values bound to what it serves."""
import os
import shutil

from gunicorn.workers import gthread

from shop.web import gunicorn_errors, observability, worker_files
from shop.web.admission import QUEUE
from shop.web.settings import Serving


def settings(serving: Serving) -> dict:
    """The settings module's globals for gunicorn: hooks and values."""
    # The errors gunicorn answers itself (400 for a request it cannot parse, 414, 431...) in the
    # API's JSON shape, not gunicorn's HTML page; the workers inherit it from the master.
    gunicorn_errors.install()
    metrics = _Metrics(serving)

    def on_starting(server):
        metrics.on_starting(server)
        worker_files.on_starting(server)

    def child_exit(server, worker):
        metrics.child_exit(server, worker)
        worker_files.child_exit(server, worker)

    return {
        # The proxies whose forwarding headers gunicorn believes (X-Forwarded-Proto, and
        # SCRIPT_NAME / PATH_INFO sent as headers): none by default. gunicorn's own default
        # trusts 127.0.0.1, so that any local client could set SCRIPT_NAME (a 500 echoing the path).
        "forwarded_allow_ips": serving.forwarded_allow_ips,
        # Skips building access lines entirely when --access-logfile is not given.
        "logger_class": "shop.web.gunicorn_logging.ShopLogger",
        "logconfig_dict": _logconfig(serving),
        "on_starting": on_starting,
        "when_ready": metrics.when_ready,
        "post_fork": metrics.post_fork,
        "post_worker_init": worker_files.post_worker_init,
        "nworkers_changed": worker_files.nworkers_changed,
        "child_exit": child_exit,
        "on_exit": worker_files.on_exit,
    }


class _Metrics:
    """Metrics from the master, on a port of their own; every worker's numbers added up."""

    def __init__(self, serving: Serving):
        self.serving = serving
        self.server = None

    def on_starting(self, server):
        # Numbers left by an earlier run would be added to this one's: start empty.
        folder = self.serving.metrics_dir
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder, exist_ok=True)

    def when_ready(self, server):
        # The master listens; its workers are forked next.
        address = self.serving.metrics_address
        if address:
            self.server = observability.start_metrics_server(address, self.serving.metrics_dir)  # a port in use stops the start
            server.log.info("metrics on http://%s/metrics", address)

    def post_fork(self, server, worker):
        # A worker never serves the metrics: its copy of the listening socket goes (the master's stays).
        if self.server is not None:
            self.server.socket.close()

    def child_exit(self, server, worker):
        if self.serving.metrics_dir:
            from prometheus_client import multiprocess
            multiprocess.mark_process_dead(worker.pid)


def _logconfig(serving: Serving) -> dict:
    name = serving.name
    formatter = ({"()": "shop.web.observability.JsonFormatter", "service": name} if serving.log_format == "json"
                 else {"format": f"%(asctime)s %(levelname)s {name} %(name)s: %(message)s"})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"shop": formatter},
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


# -- the threaded worker, retired without dropping requests --------------------------------


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
