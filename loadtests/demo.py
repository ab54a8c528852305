"""`make demo`: both deployments and the Locust web UI in one command; Ctrl-C stops all.

The deployments run on their usual ports (monolith 8000, gateway 8080) with their usual data
(``data/``), exactly as `make run-monolith` and `make run-micro` would start them."""
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from microservices.launcher import Cluster, StartupError
from shop.web.settings import PROJECT_ROOT

UI_PORT = os.environ.get("LOCUST_WEB_PORT", "8089")


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


def main() -> int:
    env = {**os.environ, "SHOP_ACCESS_LOG": os.environ.get("SHOP_ACCESS_LOG", "0")}
    started: list[subprocess.Popen] = []
    cluster = Cluster(env, sink=lambda line: print(line, flush=True))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        print("starting the monolith ...", flush=True)
        mono = subprocess.Popen([sys.executable, "-m", "monolith"], cwd=PROJECT_ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        started.append(mono)
        threading.Thread(target=_prefixed, args=(mono, "monolith"), daemon=True).start()
        print("starting the microservices ...", flush=True)
        cluster.start()
        _wait("http://127.0.0.1:8000/healthz", mono, "the monolith")
        print("starting the Locust web UI ...", flush=True)
        ui = subprocess.Popen([sys.executable, "-m", "locust", "-f", str(PROJECT_ROOT / "loadtests" / "locustfile.py"),
                               "--web-host", "127.0.0.1", "--web-port", UI_PORT, "--host", "http://127.0.0.1:8000"],
                              cwd=PROJECT_ROOT, env=env, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
        started.append(ui)
        threading.Thread(target=_prefixed, args=(ui, "locust"), daemon=True).start()
        _wait(f"http://127.0.0.1:{UI_PORT}/", ui, "the Locust web UI")
    except (StartupError, RuntimeError) as err:
        print(f"\nERROR: {err}", file=sys.stderr, flush=True)
        _stop(cluster, started)
        return 1
    print(f"""
  monolith        http://127.0.0.1:8000
  microservices   {cluster.url}  (gateway)
  Locust web UI   http://127.0.0.1:{UI_PORT}   <- open this

  In the start form pick a Target and a Shape, press Start; run both targets, then open the
  Comparison tab, or http://127.0.0.1:{UI_PORT}/comparison for the charts. Ctrl-C stops everything.
""", flush=True)
    while not stop.wait(0.5):
        if any(p.poll() is not None for p in started):
            print("\nERROR: a process exited; stopping everything.", file=sys.stderr, flush=True)
            break
    _stop(cluster, started)
    return 0


def _stop(cluster: Cluster, started: list[subprocess.Popen]) -> None:
    print("\nstopping ...", flush=True)
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
    cluster.stop()
    for proc in started:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
