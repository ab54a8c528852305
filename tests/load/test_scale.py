"""Live scaling and restarts (loadtests/scale.py, the process controls of loadtests/sut.py)
against real processes, with a steady stream of GETs going the whole time.

The stream's clients are requests.Session objects: kept-alive connections and no retries, the
strictest kind of client. Scaling must not fail a single one of their requests; a restart may
(nothing listens for a moment), but the process must come back and serve. Timings are never
asserted. Each deployment is this module's own (it is scaled and restarted)."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from loadtests.scale import NotRunning
from shop.web.gunicorn import pid_file
from shop.web.settings import PROJECT_ROOT
from tests.support.deployments import Microservices, Monolith

PATHS = ["/api/products?per_page=5", "/api/products/7", "/api/categories", "/api/products?q=wireless"]


class Stream:
    """A few threads sending GETs back to back, each on its own kept-alive session."""

    def __init__(self, url: str, threads: int = 3):
        self.url = url
        self.ok: list[float] = []          # when each successful request finished
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, offset: int) -> None:
        session = requests.Session()
        n = offset
        while not self._stop.is_set():
            path = PATHS[n % len(PATHS)]
            n += 1
            try:
                r = session.get(f"{self.url}{path}", timeout=15)
                if r.status_code == 200:
                    self.ok.append(time.monotonic())
                else:
                    self.failures.append(f"{path}: {r.status_code} {r.text[:200]}")
            except requests.RequestException as exc:
                self.failures.append(f"{path}: {exc!r}")
                time.sleep(0.05)  # (only after a restart's refusals: do not spin)

    def __enter__(self) -> "Stream":
        for t in self._threads:
            t.start()
        self.wait_for_more(1)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(20)

    def wait_for_more(self, n: int = 20, timeout: float = 30) -> None:
        """Let the stream run until ``n`` more requests have succeeded."""
        target, deadline = len(self.ok) + n, time.monotonic() + timeout
        while len(self.ok) < target:
            assert time.monotonic() < deadline, f"the stream stalled; failures: {self.failures[-5:]}"
            time.sleep(0.02)


@pytest.fixture(scope="module")
def monolith(tmp_path_factory):
    deployment = Monolith(tmp_path_factory.mktemp("scale-monolith"), MONOLITH_WORKERS="2")
    try:
        yield deployment.start()
    finally:
        deployment.stop()


@pytest.fixture(scope="module")
def microservices(tmp_path_factory):
    deployment = Microservices(tmp_path_factory.mktemp("scale-micro"), CATALOG_WORKERS="1", GATEWAY_WORKERS="2")
    try:
        yield deployment.start()
    finally:
        deployment.stop()


def scale_and_check(sut, stream: Stream, process: str, counts: list[int]) -> None:
    for workers in counts:
        result = sut.scale(process, workers)
        assert result.after == workers, result
        assert sut.worker_count(process) == workers
        stream.wait_for_more()  # served by the new set of workers


def test_monolith_scales_up_and_down_without_failing_a_request(monolith):
    with Stream(monolith.url) as stream:
        scale_and_check(monolith, stream, "monolith", [4, 1, 2])
    assert stream.failures == []


def test_catalog_and_gateway_scale_without_failing_a_request(python_gateway):
    """The Python gateway's gunicorn workers (Envoy's worker threads are fixed at its start)."""
    with Stream(python_gateway.url) as stream:
        scale_and_check(python_gateway, stream, "catalog", [3, 1])
        scale_and_check(python_gateway, stream, "gateway", [3, 1, 2])
    assert stream.failures == []


def test_idle_kept_alive_connections_survive_a_scale_down(monolith):
    """A retired worker keeps its idle connections for its whole graceful timeout and answers
    a request on one with ``Connection: close``. gunicorn's own gthread worker closes them after
    2 s, and requests sent around that moment were reset (about one in five, measured): send on
    many idle connections across that moment."""
    monolith.scale("monolith", 2)
    sessions = [requests.Session() for _ in range(200)]
    for s in sessions:  # one idle connection each, spread over both workers
        assert s.get(f"{monolith.url}/healthz", timeout=5).status_code == 200
    failures = []
    boss = int(pid_file(monolith.data_dir, "monolith").read_text())
    os.kill(boss, signal.SIGTTOU)  # retire the oldest worker (what scale does, without waiting)
    retired = time.monotonic()

    def send(session, at):
        time.sleep(max(0.0, retired + at - time.monotonic()))
        try:
            r = session.get(f"{monolith.url}/api/categories", timeout=10)
            if r.status_code != 200:
                failures.append(r.status_code)
        except requests.RequestException as exc:
            failures.append(repr(exc))

    threads = [threading.Thread(target=send, args=(s, 1.95 + 0.1 * i / len(sessions))) for i, s in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    monolith.scale("monolith", 1)  # the master wants 1 already: waits for the retired one to exit
    assert failures == []
    assert monolith.worker_count("monolith") == 1
    monolith.scale("monolith", 2)


def test_the_cli_scales_a_running_process_and_says_when_none_runs(monolith, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "loadtests.scale", *args], cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=90)

    before = monolith.worker_count("monolith")
    done = cli("monolith", str(before + 1), "--data-dir", str(monolith.data_dir))
    assert done.returncode == 0, done.stderr
    assert f"monolith: {before} -> {before + 1} workers" in done.stdout
    assert monolith.worker_count("monolith") == before + 1

    missing = cli("catalog", "2", "--data-dir", str(tmp_path))
    assert missing.returncode == 1
    assert "'catalog' is not running" in missing.stderr
    monolith.scale("monolith", before)


def restart_under_stream(sut, process: str) -> None:
    configured = sut.worker_count(process)
    with Stream(sut.url) as stream:
        sut.scale(process, configured + 1)
        seconds = sut.restart(process)
        assert seconds > 0
        restarted = time.monotonic()
        stream.wait_for_more()  # serving again
        assert stream.ok[-1] > restarted
    # A redeploy starts with the configured worker count (a scale-up is not carried over).
    assert sut.worker_count(process) == configured
    assert Path(pid_file(sut._data_dir(), process)).exists()


def test_restart_under_a_stream_comes_back_and_serves(monolith, microservices):
    restart_under_stream(monolith, "monolith")
    restart_under_stream(microservices, "catalog")


def test_a_killed_process_leaves_no_pid_file_and_starts_again(microservices):
    microservices.stop_process("tax", kill=True)
    assert not pid_file(microservices._data_dir(), "tax").exists()
    with pytest.raises(NotRunning):
        microservices.worker_count("tax")
    microservices.start_process("tax")
    assert microservices.worker_count("tax") == 1
