"""Start, watch and stop every process of the microservices deployment.

Used by ``make run-micro`` (``python -m microservices``) and by the tests, which start the
deployment on free ports and stop or restart single services to inject failures."""
import collections
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from microservices import envoy
from microservices.config import Config
from shop.web.gunicorn import gunicorn_argv
from shop.web.health import answers_healthz
from shop.web.processes import spawn
from shop.web.worker_files import pid_file, prepare_pid_file, remove_pid_file


class StartupError(RuntimeError):
    pass


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def wait_port_free(port: int, timeout: float = 30) -> bool:
    """Until nothing accepts on ``port`` (a killed process group's last member has died)."""
    deadline = time.monotonic() + timeout
    while not port_free(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class ServiceProcess:
    def __init__(self, name: str, port: int, url: str, argv: list[str], env: dict, sink,
                 pid_file: Path | None = None):
        self.name, self.port, self.url, self.argv, self.env = name, port, url, argv, env
        self.sink = sink
        self.pid_file = pid_file  # the master writes it (--pid); make scale reads it
        self.proc: subprocess.Popen | None = None
        self.log = collections.deque(maxlen=400)
        self.kind = "gunicorn"   # or "envoy": no workers to count or scale, no pid file
        self.prepare = None   # called before each start (Envoy: write its configuration)

    def port_free(self) -> bool:
        return port_free(self.port)

    def start(self) -> None:
        if not self.port_free():
            raise StartupError(f"service '{self.name}' cannot start: port {self.port} is already in use "
                               f"(another run still going? set {self.name.upper()}_PORT to move it)")
        if self.pid_file:
            prepare_pid_file(self.pid_file)
        if self.prepare:
            self.prepare()
        self.log.clear()
        # If the launcher dies without cleaning up, its services get SIGTERM, not orphaned.
        self.proc = spawn(self.argv, self.env, die_with_parent=True)
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True,
                         name=f"log-{self.name}").start()

    def _pump(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            line = line.rstrip("\n")
            self.log.append(line)
            if self.sink:
                self.sink(f"{self.name:<9}| {line}")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        return answers_healthz(self.url)

    def stop(self, timeout: float = 15, kill: bool = False) -> None:
        """SIGTERM: gunicorn stops accepting and lets its workers finish (up to its graceful
        timeout, 10 s). ``kill``: SIGKILL to the master and its workers at once (they are its
        own session), as a crash would; a killed master's workers would otherwise keep the
        port until they notice."""
        if not self.running():
            return
        if kill:
            self._kill_group()
        else:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill_group()
            self.proc.wait()
        if self.pid_file and self.proc.returncode == -signal.SIGKILL:
            remove_pid_file(self.pid_file)  # a killed master cannot remove its own
        if kill:
            # The master is gone, but its workers (orphans now) may take a moment more to die
            # on a busy machine, holding the port: a start right after would find it in use.
            wait_port_free(self.port)

    def _kill_group(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Cluster:
    """All seven services and the gateway. ``env`` is passed to every process, so tests can
    pick ports and a data directory by setting the variables ``Config.from_env`` reads."""

    def __init__(self, env: dict | None = None, sink=print):
        self.env = dict(os.environ if env is None else env)
        self.config = Config.from_env(self.env)
        self.processes: dict[str, ServiceProcess] = {}
        for proc in self.config.processes().values():
            if proc.name == "gateway" and self.config.gateway_kind == "envoy":
                self.processes["gateway"] = self._envoy(proc, sink)
                continue
            spec = ("microservices.gateway:create_app()" if proc.name == "gateway"
                    else f"microservices.services:create_app('{proc.name}')")
            argv = gunicorn_argv(spec, conf="microservices.gunicorn_conf", host=proc.host, port=proc.port,
                                 workers=proc.workers, threads=proc.threads, access_log=self.config.access_log,
                                 worker_class=proc.worker_class,
                                 name=f"shop-{proc.name}", pid=pid_file(self.config.data_dir, proc.name))
            # Which process it is (the process's own Config reads it: microservices/gunicorn_conf.py),
            # and where its workers leave their metrics (prometheus_client reads it as it is imported).
            env = {**self.env, "SHOP_PROCESS_NAME": proc.name,
                   "PROMETHEUS_MULTIPROC_DIR": str(self.config.metrics_dir(proc.name))}
            self.processes[proc.name] = ServiceProcess(proc.name, proc.port, proc.url, argv, env, sink,
                                                       pid_file(self.config.data_dir, proc.name))
            self.processes[proc.name].metrics_url = proc.metrics_url

    def _envoy(self, proc, sink) -> "ServiceProcess":
        """Envoy as the gateway (microservices/envoy.py): its configuration is written now, from
        the routes and settings this deployment has; it serves the same port and /healthz."""
        path = envoy.bootstrap_path(self.config)
        process = ServiceProcess("gateway", proc.port, proc.url, envoy.argv(self.config, path, self.env),
                                 dict(self.env), sink)
        process.metrics_url = proc.metrics_url
        process.kind = "envoy"
        # Written as it starts (building a Cluster writes nothing: the images' entrypoint and
        # the tests build one only to read its commands).
        process.prepare = lambda: envoy.write_bootstrap(self.config, self.env)
        return process

    @property
    def url(self) -> str:
        return self.config.gateway.url

    def start(self, timeout: float = 60) -> None:
        self.config.check_secret()  # SystemExit before anything starts: the published secret on a public address
        try:
            for process in self.processes.values():
                process.start()
        except StartupError:
            self.stop()
            raise
        self.wait_healthy(list(self.processes), timeout)

    def wait_healthy(self, names: list[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending:
            for name in list(pending):
                process = self.processes[name]
                if not process.running():
                    raise StartupError(self._failure(name, "exited during startup"))
                if process.healthy():
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise StartupError(self._failure(pending[0], f"did not answer /healthz in {timeout:.0f}s"))
            if pending:
                time.sleep(0.1)

    def _failure(self, name: str, what: str) -> str:
        process = self.processes[name]
        tail = "\n".join(f"    {line}" for line in list(process.log)[-40:]) or "    (no output)"
        return f"service '{name}' (port {process.port}) {what}. Its last log lines:\n{tail}"

    def stop_service(self, name: str, kill: bool = False) -> None:
        self.processes[name].stop(kill=kill)

    def start_service(self, name: str, timeout: float = 30) -> None:
        self.processes[name].start()
        self.wait_healthy([name], timeout)

    def stop(self) -> None:
        # Gateway first, so no new traffic arrives while the services shut down.
        for name in ["gateway", *[n for n in self.processes if n != "gateway"]]:
            self.processes[name].stop()

    def table(self) -> str:
        rows = [("service", "port", "pid", "url")]
        rows += [(p.name if p.kind == "gunicorn" else f"{p.name} ({p.kind})", str(p.port), str(p.pid), p.url)
                 for p in self.processes.values()]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def main() -> int:
    cluster = Cluster()
    warning = cluster.config.check_secret()  # SystemExit: the published secret on a public address
    if warning:
        print(warning, file=sys.stderr, flush=True)
    stopping = threading.Event()

    def on_signal(signum, _frame):
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"starting {len(cluster.processes)} processes "
          f"(data in {cluster.config.data_dir / 'microservices'}) ...", flush=True)
    try:
        cluster.start()
    except StartupError as err:
        print(f"\nERROR: {err}", file=sys.stderr, flush=True)
        cluster.stop()
        return 1
    print("\n" + cluster.table(), flush=True)
    print(f"\nshop (microservices) ready at {cluster.url}  -  Ctrl-C stops everything\n", flush=True)
    while not stopping.wait(0.5):
        for name, process in cluster.processes.items():
            if not process.running():
                print(f"\nERROR: '{name}' exited (code {process.proc.returncode}); stopping everything.",
                      file=sys.stderr, flush=True)
                stopping.set()
                break
    print("\nstopping ...", flush=True)
    cluster.stop()
    print("stopped.", flush=True)
    return 0
