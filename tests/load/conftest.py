"""The quick comparisons (`make compare QUICK=1`: the spike, every scenario, the overload with
and without admission control) run once per session, four at a time, each in its own process:
they share the CPUs, so their numbers mean nothing in the tests (none is asserted), and the
suite stays short."""
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ["spike-scaled", "slow-payment", "billing-down", "redeploy"]
# Far past capacity on purpose (a tenth of a core against 600 requests/s), with admission
# control on and off: tests/load/test_overload.py.
OVERLOAD = ["--scenario", "overload", "--sut-cpu", "0.1", "--steady-rps", "10", "--fault-rps", "600",
            "--no-capacity"]
AT_ONCE = 4
TIMEOUT_S = 600   # a bound, for a busy machine; each takes about 2 minutes alone


@pytest.fixture(scope="session")
def quick_comparisons(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """name -> (the finished process, its output folder). "spike" is the plain
    `make compare QUICK=1`; the others are `make compare SCENARIO=<name> QUICK=1`."""
    base = tmp_path_factory.mktemp("compare")
    runs = {"spike": []} | {name: ["--scenario", name] for name in SCENARIOS} | {
        "autoscale": ["--scenario", "autoscale"],
        "overload": OVERLOAD, "overload-off": [*OVERLOAD, "--admission", "off"]}
    # At most AT_ONCE at a time: each is a deployment and a load generator, and a machine with
    # 2 cores running all of them at once starves them all (a first capacity step that nobody holds).
    waiting = list(runs.items())
    running: dict[str, tuple] = {}
    done = {}
    while waiting or running:
        while waiting and len(running) < AT_ONCE:
            name, extra = waiting.pop(0)
            out = base / name
            cmd = [sys.executable, "-m", "loadtests.compare", "--quick", *extra, "--out", str(out)]
            stdout, stderr = open(base / f"{name}.out", "w+"), open(base / f"{name}.err", "w+")
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=stdout, stderr=stderr, text=True)
            running[name] = (cmd, proc, out, stdout, stderr, time.monotonic())
        for name, (cmd, proc, out, stdout, stderr, began) in list(running.items()):
            if proc.poll() is None and time.monotonic() - began < TIMEOUT_S:
                continue
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            stdout.seek(0)
            stderr.seek(0)
            done[name] = (subprocess.CompletedProcess(cmd, proc.returncode, stdout.read(), stderr.read()), out)
            stdout.close()
            stderr.close()
            del running[name]
        time.sleep(0.5)
    return done
