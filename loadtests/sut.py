"""The system under test: either deployment, started fresh (its own data directory, free
ports) for one headless run, and stopped after it.

Both have the same process controls, for the scenarios to call while Locust runs
(ProcessControlMixin): ``scale``, ``worker_count``, ``restart``, ``stop_process`` and
``start_process``. A process is "monolith" for the monolith, a service name or "gateway" for
the microservices."""
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from loadtests import scale as scaler
from microservices.config import SERVICE_PORTS
from microservices.launcher import Cluster, wait_port_free
from shop.web.gunicorn import master, pid_file, remove_pid_file
from shop.web.processes import spawn, wait_healthy


PORT_RANGE = (20000, 32000)   # below Linux's ephemeral range (32768-60999): the load generator's
                              # own connections take ports from there, and would collide


def free_ports(n: int) -> list[int]:
    """``n`` ports free now on 127.0.0.1, outside the ephemeral range. They are free only until
    something else binds them: a start that finds one taken tries again (MonolithSUT.start)."""
    import random
    socks, ports = [], []
    rng = random.Random()
    while len(ports) < n:
        port = rng.randrange(*PORT_RANGE)
        if port in ports:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        socks.append(s)
        ports.append(port)
    for s in socks:
        s.close()
    return ports


class FaultsMixin:
    """Fault injection through the deployment's admin API (shop/billing/faults.py)."""

    def admin_url(self) -> str:
        raise NotImplementedError

    def faults(self, method: str = "GET", changes: dict | None = None) -> dict:
        req = urllib.request.Request(f"{self.admin_url()}/admin/faults", method=method,
                                     data=json.dumps(changes).encode() if changes is not None else None,
                                     headers={"X-Admin-Token": self.env["SHOP_ADMIN_TOKEN"],
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def set_faults(self, **changes) -> dict:
        return self.faults("PUT", changes)

    def clear_faults(self) -> dict:
        return self.faults("DELETE")


class ProcessControlMixin:
    """Scale, restart, stop and start one process of a running deployment. Every gunicorn
    master writes its pid file under ``<data dir>/run`` (shop/web/gunicorn.py: pid_file)."""

    processes: list[str]

    def _data_dir(self) -> Path:
        raise NotImplementedError

    def _pid_file(self, process: str) -> Path:
        if process not in self.processes:
            raise ValueError(f"no process '{process}' in the {self.name}; one of {', '.join(self.processes)}")
        return pid_file(self._data_dir(), process)

    def scale(self, process: str, workers: int, timeout: float = 60) -> "scaler.Result":
        """TTIN/TTOU until ``process`` has ``workers`` workers, all serving (loadtests/scale.py).
        Waits until done: a retired worker first finishes with its clients, up to gunicorn's
        graceful timeout (10 s) if one of them keeps an idle connection."""
        return scaler.scale(self._pid_file(process), workers, timeout, process)

    def worker_count(self, process: str) -> int:
        """The master's live workers (one that is retiring counts until it has exited)."""
        return scaler.worker_count(self._pid_file(process), process)

    def master_pid(self, process: str) -> int | None:
        """The pid of the gunicorn master serving ``process`` now, or None if it is not running
        (a restart gives a new one: the node in a box, loadtests/autoscaler.py, follows it)."""
        found = master(self._pid_file(process))
        return found.pid if found else None

    def restart(self, process: str, timeout: float = 60) -> float:
        """A graceful redeploy: SIGTERM (gunicorn stops accepting at once; requests in flight
        finish, up to its graceful timeout), wait for the exit, start again on the same port
        with the configured worker count, wait until /healthz answers. Returns the seconds
        from the SIGTERM until it answers again. Within it, new connections are refused from
        the moment the old master closes its socket until the new one listens; the old workers
        still answer on kept-alive connections for up to gunicorn's 2 s linger."""
        started = time.monotonic()
        self.stop_process(process)
        self.start_process(process, timeout)
        return time.monotonic() - started

    def _settle(self, process: str, timeout: float) -> None:
        # /healthz answers as soon as one worker does; wait for the others too, so that the
        # process is back at its full size (and counts) when start_process returns.
        scaler.settle(self._pid_file(process), timeout, process)

    def stop_process(self, process: str, kill: bool = False) -> None:
        raise NotImplementedError

    def start_process(self, process: str, timeout: float = 60) -> None:
        raise NotImplementedError


class MonolithSUT(FaultsMixin, ProcessControlMixin):
    name = "monolith"
    processes = ["monolith"]

    def __init__(self, data_dir: Path, env: dict):
        self.port, metrics_port = free_ports(2)
        self.url = f"http://127.0.0.1:{self.port}"
        # Metrics are served on a port of their own (the gunicorn master's), not the public one.
        self.metrics_url = f"http://127.0.0.1:{metrics_port}"
        self.env = {**env, "SHOP_DATA_DIR": str(data_dir), "MONOLITH_PORT": str(self.port),
                    "MONOLITH_METRICS_PORT": str(metrics_port), "SHOP_METRICS_HOST": "127.0.0.1"}
        self.log_path = data_dir / "monolith.log"
        self.proc = None
        self._log = None

    def start(self, timeout: float = 60) -> "MonolithSUT":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")
        self._spawn(timeout)
        self._settle("monolith", timeout)
        return self

    def _spawn(self, timeout: float) -> None:
        self.proc = spawn([sys.executable, "-m", "monolith"], self.env, self._log, text=False)
        wait_healthy(self.proc, self.url, timeout, "the monolith", self.log_path)

    def _data_dir(self) -> Path:
        return Path(self.env["SHOP_DATA_DIR"]).resolve()

    def stop_process(self, process: str = "monolith", kill: bool = False) -> None:
        """SIGTERM (graceful), or with ``kill`` SIGKILL to the master and its workers at once."""
        pid = self._pid_file(process)
        if not self.proc or self.proc.poll() is not None:
            return
        if kill:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: the master and its workers
        else:
            self.proc.terminate()
        try:
            self.proc.wait(20)  # gunicorn's graceful timeout is 10 s
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.proc.returncode == -signal.SIGKILL:
            remove_pid_file(pid)
            wait_port_free(self.port)  # its orphaned workers may hold the port a moment longer

    def start_process(self, process: str = "monolith", timeout: float = 60) -> None:
        self._pid_file(process)
        if self.proc and self.proc.poll() is None:
            raise RuntimeError("the monolith is already running")
        if self._log is None or self._log.closed:
            self._log = open(self.log_path, "a")
        self._spawn(timeout)
        self._settle(process, timeout)

    def roots(self) -> dict[str, int]:
        return {"monolith": self.proc.pid}

    def admin_url(self) -> str:
        return self.url

    def metrics_urls(self) -> dict[str, str]:
        return {"monolith": self.metrics_url}

    def workers(self) -> dict:
        return {"monolith": f"{self.env.get('MONOLITH_WORKERS', 2)} workers x {self.env.get('MONOLITH_THREADS', 8)} threads"}

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self._log:
            self._log.close()


class MicroservicesSUT(FaultsMixin, ProcessControlMixin):
    name = "microservices"
    processes = [*SERVICE_PORTS, "gateway"]

    def __init__(self, data_dir: Path, env: dict, sink=None):
        ports = free_ports(2 * (len(SERVICE_PORTS) + 1))   # each process's own, and its metrics port
        env = {**env, "SHOP_DATA_DIR": str(data_dir), "SHOP_METRICS_HOST": "127.0.0.1"}
        for name, port, metrics_port in zip([*SERVICE_PORTS, "gateway"], ports[::2], ports[1::2]):
            env[f"{name.upper()}_PORT"] = str(port)
            env[f"{name.upper()}_METRICS_PORT"] = str(metrics_port)
            env.pop(f"{name.upper()}_URL", None)
        self.env = env
        self.cluster = Cluster(env, sink=sink)
        self.url = self.cluster.url

    def start(self, timeout: float = 60) -> "MicroservicesSUT":
        self.cluster.start(timeout)
        for process in self.processes:
            self._settle(process, timeout)
        return self

    @property
    def gateway_kind(self) -> str:
        """Which gateway serves the public port: "envoy" or "python" (GATEWAY)."""
        return self.cluster.config.gateway_kind

    def _gunicorn(self, process: str) -> bool:
        return self.cluster.processes[process].kind == "gunicorn"

    def _settle(self, process: str, timeout: float) -> None:
        if self._gunicorn(process):   # Envoy has no workers to wait for: /healthz answering is all
            super()._settle(process, timeout)

    def scale(self, process: str, workers: int, timeout: float = 60):
        if not self._gunicorn(process):
            raise ValueError(f"'{process}' is Envoy here: its worker threads are set at start (GATEWAY_WORKERS)")
        return super().scale(process, workers, timeout)

    def worker_count(self, process: str) -> int:
        if not self._gunicorn(process):
            return self.cluster.config.gateway.workers
        return super().worker_count(process)

    def master_pid(self, process: str) -> int | None:
        if not self._gunicorn(process):
            proc = self.cluster.processes[process]
            return proc.pid if proc.running() else None
        return super().master_pid(process)

    def roots(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.cluster.processes.items()}

    def admin_url(self) -> str:
        return self.cluster.processes["billing"].url  # faults are billing's; not on the public gateway

    def metrics_urls(self) -> dict[str, str]:
        return {name: p.metrics_url for name, p in self.cluster.processes.items()}

    def workers(self) -> dict:
        c = self.cluster.config
        procs = [*c.services.values(), c.gateway]
        out = {p.name: (f"{p.workers} workers x {p.threads} threads" if p.worker_class == "gthread"
                        else f"{p.workers} {p.worker_class} workers") for p in procs}
        if c.gateway_kind == "envoy":
            out["gateway"] = f"Envoy, {c.gateway.workers} worker threads"
        return out

    def _data_dir(self) -> Path:
        return self.cluster.config.data_dir

    def stop_process(self, process: str, kill: bool = False) -> None:
        """SIGTERM (graceful), or with ``kill`` SIGKILL to the master and its workers at once."""
        self._pid_file(process)
        self.cluster.stop_service(process, kill=kill)

    def start_process(self, process: str, timeout: float = 60) -> None:
        self._pid_file(process)
        self.cluster.start_service(process, timeout)
        self._settle(process, timeout)

    def stop(self) -> None:
        self.cluster.stop()


SUTS = {"monolith": MonolithSUT, "microservices": MicroservicesSUT}


def base_env(cpus: int | None = None) -> dict:
    """The environment both deployments run with in a measurement. With ``cpus`` (the CPUs the
    system under test is pinned to), the processes that scale get one worker per CPU: more
    workers than CPUs only add context switches, fewer would leave a CPU idle."""
    env = dict(os.environ)
    env["SHOP_ACCESS_LOG"] = "0"  # the same for both: no per-request log line costs
    env.setdefault("SHOP_ADMIN_TOKEN", secrets.token_urlsafe(16))  # for the scenarios' faults
    if cpus:
        for name in ("MONOLITH_WORKERS", "GATEWAY_WORKERS", "CATALOG_WORKERS"):
            env.setdefault(name, str(cpus))
    return env
