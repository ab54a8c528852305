"""The quick comparisons (`make compare QUICK=1`: the spike, and every fault scenario) run
once per session, all at the same time, each in its own process: they share the CPUs, so
their numbers mean nothing in the tests (none is asserted), and the suite stays short."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ["spike-scaled", "slow-payment", "billing-down", "redeploy"]
# Far past capacity on purpose (a tenth of a core against 600 requests/s), with admission
# control on and off: tests/load/test_overload.py.
OVERLOAD = ["--scenario", "overload", "--sut-cpu", "0.1", "--steady-rps", "10", "--fault-rps", "600",
            "--no-capacity"]
TIMEOUT_S = 600   # a bound, for a busy machine; each takes about 2 minutes alone


@pytest.fixture(scope="session")
def quick_comparisons(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """name -> (the finished process, its output folder). "spike" is the plain
    `make compare QUICK=1`; the others are `make compare SCENARIO=<name> QUICK=1`."""
    base = tmp_path_factory.mktemp("compare")
    runs = {"spike": []} | {name: ["--scenario", name] for name in SCENARIOS} | {
        "overload": OVERLOAD, "overload-off": [*OVERLOAD, "--admission", "off"]}
    started = {}
    for name, extra in runs.items():
        out = base / name
        cmd = [sys.executable, "-m", "loadtests.compare", "--quick", *extra, "--out", str(out)]
        stdout, stderr = open(base / f"{name}.out", "w+"), open(base / f"{name}.err", "w+")
        started[name] = (cmd, subprocess.Popen(cmd, cwd=ROOT, stdout=stdout, stderr=stderr, text=True),
                         out, stdout, stderr)
    done = {}
    for name, (cmd, proc, out, stdout, stderr) in started.items():
        try:
            proc.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stdout.seek(0)
        stderr.seek(0)
        done[name] = (subprocess.CompletedProcess(cmd, proc.returncode, stdout.read(), stderr.read()), out)
        stdout.close()
        stderr.close()
    return done
