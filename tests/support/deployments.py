"""Start each deployment as real gunicorn processes on free ports with a throwaway data dir."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from microservices.config import SERVICE_PORTS
from microservices.launcher import Cluster
from shop.web.settings import PROJECT_ROOT

TEST_SECRET = "contract-test-secret"


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def base_env(data_dir: Path) -> dict:
    env = dict(os.environ)
    # Access logs on: the observability tests follow one request id through them.
    env.update({"SHOP_DATA_DIR": str(data_dir), "SHOP_SECRET": TEST_SECRET, "SHOP_ACCESS_LOG": "1",
                "SHOP_LOG_FORMAT": "json"})
    return env


def wait_until(condition, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


class Monolith:
    def __init__(self, data_dir: Path, **extra_env):
        self.data_dir = data_dir
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = base_env(data_dir)
        self.env.update({"MONOLITH_PORT": str(self.port), "MONOLITH_WORKERS": "2",
                         "MONOLITH_THREADS": "8", **extra_env})
        self.log_path = data_dir / "monolith.log"
        self.proc = None

    def start(self):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "monolith"], cwd=PROJECT_ROOT,
                                     env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"monolith exited:\n{self.log_path.read_text()[-3000:]}")
            return healthy(self.url)

        wait_until(ready, 60, "the monolith to answer /healthz")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class Microservices:
    def __init__(self, data_dir: Path, **extra_env):
        self.data_dir = data_dir
        ports = free_ports(len(SERVICE_PORTS) + 1)
        env = base_env(data_dir)
        for name, port in zip(SERVICE_PORTS, ports):
            env[f"{name.upper()}_PORT"] = str(port)
            env.pop(f"{name.upper()}_URL", None)
        env["GATEWAY_PORT"] = str(ports[-1])
        env.update(extra_env)
        self.cluster = Cluster(env, sink=None)
        self.url = self.cluster.url

    def start(self):
        self.cluster.start(timeout=60)
        return self

    def stop(self):
        self.cluster.stop()
