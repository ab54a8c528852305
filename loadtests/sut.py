"""The system under test: either deployment, started fresh (its own data directory, free
ports) for one headless run, and stopped after it."""
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from microservices.config import SERVICE_PORTS
from microservices.launcher import Cluster
from shop.web.settings import PROJECT_ROOT


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


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


class MonolithSUT(FaultsMixin):
    name = "monolith"

    def __init__(self, data_dir: Path, env: dict):
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "SHOP_DATA_DIR": str(data_dir), "MONOLITH_PORT": str(self.port)}
        self.log_path = data_dir / "monolith.log"
        self.proc = None

    def start(self, timeout: float = 60) -> "MonolithSUT":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "monolith"], cwd=PROJECT_ROOT, env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not _healthy(self.url):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the monolith did not start:\n{self.log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        return self

    def roots(self) -> dict[str, int]:
        return {"monolith": self.proc.pid}

    def admin_url(self) -> str:
        return self.url

    def metrics_urls(self) -> dict[str, str]:
        return {"monolith": self.url}

    def workers(self) -> dict:
        return {"monolith": f"{self.env.get('MONOLITH_WORKERS', 2)} workers x {self.env.get('MONOLITH_THREADS', 8)} threads"}

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


class MicroservicesSUT(FaultsMixin):
    name = "microservices"

    def __init__(self, data_dir: Path, env: dict, sink=None):
        ports = free_ports(len(SERVICE_PORTS) + 1)
        env = {**env, "SHOP_DATA_DIR": str(data_dir), "GATEWAY_PORT": str(ports[-1])}
        for name, port in zip(SERVICE_PORTS, ports):
            env[f"{name.upper()}_PORT"] = str(port)
            env.pop(f"{name.upper()}_URL", None)
        self.env = env
        self.cluster = Cluster(env, sink=sink)
        self.url = self.cluster.url

    def start(self, timeout: float = 60) -> "MicroservicesSUT":
        self.cluster.start(timeout)
        return self

    def roots(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.cluster.processes.items()}

    def admin_url(self) -> str:
        return self.cluster.processes["billing"].url  # faults are billing's; not on the public gateway

    def metrics_urls(self) -> dict[str, str]:
        return {name: p.url for name, p in self.cluster.processes.items()}

    def workers(self) -> dict:
        c = self.cluster.config
        procs = [*c.services.values(), c.gateway]
        return {p.name: (f"{p.workers} workers x {p.threads} threads" if p.worker_class == "gthread"
                         else f"{p.workers} {p.worker_class} workers") for p in procs}

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
