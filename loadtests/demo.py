"""`make demo`: both deployments and the Locust web UI in one command; Ctrl-C stops all.

The deployments run with the same settings as `make run-monolith` and `make run-micro`: the
same variables pick their ports and data (``MONOLITH_HOST``/``MONOLITH_PORT``,
``GATEWAY_PORT``, ``CATALOG_PORT``..., ``SHOP_DATA_DIR``), and the Locust web UI listens on
``LOCUST_WEB_HOST``:``LOCUST_WEB_PORT`` (127.0.0.1:8089). Locust is told both URLs, so the
form's Target always reaches the deployment this command started. Every process is watched:
if any exits (the monolith, the gateway, a service, Locust), everything is stopped and the
demo says which one it was."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass

from microservices.launcher import Cluster, StartupError
from monolith.config import Config as MonolithConfig
from shop.web.processes import spawn, wait_healthy
from shop.web.settings import PROJECT_ROOT


@dataclass(frozen=True)
class Ports:
    """Where the demo's three front doors listen, from the same variables the other targets read."""
    monolith_host: str
    monolith_port: int
    ui_host: str
    ui_port: int

    @classmethod
    def from_env(cls, env=None) -> "Ports":
        env = os.environ if env is None else env
        mono = MonolithConfig.from_env(env)
        return cls(mono.host, mono.port, env.get("LOCUST_WEB_HOST", "127.0.0.1"),
                   int(env.get("LOCUST_WEB_PORT", "8089")))

    @property
    def monolith_url(self) -> str:
        host = "127.0.0.1" if self.monolith_host in ("0.0.0.0", "") else self.monolith_host
        return f"http://{host}:{self.monolith_port}"

    @property
    def ui_url(self) -> str:
        host = "127.0.0.1" if self.ui_host in ("0.0.0.0", "") else self.ui_host
        return f"http://{host}:{self.ui_port}"


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host if host not in ("0.0.0.0", "") else "127.0.0.1", port)) == 0


def busy_ports(ports: Ports, cluster: Cluster) -> list[str]:
    """A sentence for every port the demo needs that something else already listens on."""
    wanted = [("the monolith", ports.monolith_port, "MONOLITH_PORT"),
              ("the Locust web UI", ports.ui_port, "LOCUST_WEB_PORT")]
    wanted += [(f"the {name}" + (" (gateway)" if name == "gateway" else " service"), p.port,
                f"{name.upper()}_PORT") for name, p in cluster.processes.items()]
    return [f"port {port} ({what}) is already in use: stop what listens there, or set {var} to another port"
            for what, port, var in wanted if port_in_use(port)]


def locust_command(ports: Ports, gateway_url: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(PROJECT_ROOT / "loadtests" / "locustfile.py"),
            "--web-host", ports.ui_host, "--web-port", str(ports.ui_port),
            "--monolith-url", ports.monolith_url, "--microservices-url", gateway_url,
            "--host", ports.monolith_url]


def _wait(url: str, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited during startup (code {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not answer at {url} within {timeout:.0f}s") from None
            time.sleep(0.2)


def _prefixed(proc: subprocess.Popen, name: str) -> None:
    for line in proc.stdout:
        print(f"{name:<9}| {line}", end="", flush=True)


def exited(started: dict[str, subprocess.Popen], cluster: Cluster) -> str | None:
    """The name of the first watched process that is no longer running, if any."""
    for name, proc in started.items():
        if proc.poll() is not None:
            return f"{name} (exit code {proc.returncode})"
    for name, process in cluster.processes.items():
        if not process.running():
            code = process.proc.returncode if process.proc else "-"
            return f"the {name} {'gateway' if name == 'gateway' else 'service'} (exit code {code})"
    return None


def main() -> int:
    env = {**os.environ, "SHOP_ACCESS_LOG": os.environ.get("SHOP_ACCESS_LOG", "0")}
    ports = Ports.from_env(env)
    started: dict[str, subprocess.Popen] = {}
    cluster = Cluster(env, sink=lambda line: print(line, flush=True))
    busy = busy_ports(ports, cluster)
    if busy:
        print("ERROR: cannot start the demo:\n" + "\n".join(f"  - {b}" for b in busy)
              + "\n(`make run-monolith` or `make run-micro` still running? The demo starts both itself.)",
              file=sys.stderr, flush=True)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        print(f"starting the monolith on {ports.monolith_url} ...", flush=True)
        mono = spawn([sys.executable, "-m", "monolith"], env)
        started["the monolith"] = mono
        threading.Thread(target=_prefixed, args=(mono, "monolith"), daemon=True).start()
        print(f"starting the microservices (gateway on {cluster.url}) ...", flush=True)
        cluster.start()
        wait_healthy(mono, ports.monolith_url, 60, "the monolith")
        print(f"starting the Locust web UI on {ports.ui_url} ...", flush=True)
        ui = spawn(locust_command(ports, cluster.url), env)
        started["the Locust web UI"] = ui
        threading.Thread(target=_prefixed, args=(ui, "locust"), daemon=True).start()
        _wait(f"{ports.ui_url}/", ui, "the Locust web UI")
    except (StartupError, RuntimeError) as err:
        print(f"\nERROR: {err}", file=sys.stderr, flush=True)
        _stop(cluster, started)
        return 1
    print(f"""
  monolith        {ports.monolith_url}
  microservices   {cluster.url}  (gateway)
  Locust web UI   {ports.ui_url}   <- open this

  In the start form pick the Target, the Model and the Shape with its sizes, press Start; run
  both targets, then open the Comparison tab, or {ports.ui_url}/comparison for the charts.
  Ctrl-C stops everything.
""", flush=True)
    code = 0
    while not stop.wait(0.5):
        gone = exited(started, cluster)
        if gone:
            print(f"\nERROR: {gone} exited; stopping everything.", file=sys.stderr, flush=True)
            code = 1
            break
    _stop(cluster, started)
    return code


def _stop(cluster: Cluster, started: dict[str, subprocess.Popen]) -> None:
    print("\nstopping ...", flush=True)
    for proc in started.values():
        if proc.poll() is None:
            proc.terminate()
    cluster.stop()
    for proc in started.values():
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
