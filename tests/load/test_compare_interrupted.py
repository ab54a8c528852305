"""A comparison stopped with SIGTERM (a `kill`, a CI timeout) stops what it started: the
deployment's processes and Locust end with it, nothing is left listening."""
import os
import signal
import subprocess
import sys

import psutil

from shop.web.settings import PROJECT_ROOT
from tests.support.waiting import wait_until


def started_by(out) -> list[psutil.Process]:
    """Processes whose command line or working files are under the run's folder."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(str(out) in part for part in p.info["cmdline"] or []):
                found.append(p)
        except psutil.Error:
            pass
    return found


def test_sigterm_stops_the_deployment_and_locust(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "loadtests.compare", "--quick", "--no-capacity",
                             "--targets", "monolith", "--sut-cpu", "0", "--out", str(out)],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: (out / "runs" / "monolith-1.json.started").exists() or proc.poll() is not None,
                   300, "the load to start")
        assert proc.poll() is None, proc.stdout.read()
        children = [p for p in psutil.Process(proc.pid).children(recursive=True)]
        assert any("locust" in " ".join(p.cmdline()) for p in children), [p.cmdline() for p in children]
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
        assert proc.returncode == 128 + signal.SIGTERM
        wait_until(lambda: not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE],
                   60, "every process the comparison started to end")
        assert not started_by(out), [p.info["cmdline"] for p in started_by(out)]
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        for p in started_by(out):
            p.kill()
