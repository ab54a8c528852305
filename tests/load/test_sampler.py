"""The resource sampler follows a process that is restarted during the run (a redeploy, a
service brought back): its CPU time counts, and the report names its new pid."""
import subprocess
import sys

from loadtests.sampler import ResourceSampler
from tests.support.waiting import wait_until

# Burns about 0.4 s of CPU, then waits to be stopped.
BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\ntime.sleep(60)"


def _spawn() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", BURN])


def test_a_process_restarted_mid_run_is_sampled_and_its_cpu_counted():
    current = {"proc": _spawn()}
    sampler = ResourceSampler(lambda: {"svc": current["proc"].pid}, interval=0.1).start()
    try:
        wait_until(lambda: sampler.cpu_seconds("svc") >= 0.2, what="the first process's CPU time")
        current["proc"].kill()
        current["proc"].wait()
        first = sampler.cpu_seconds("svc")

        current["proc"] = _spawn()  # the "restart": a new pid the sampler has never seen
        # The new process burns 0.4 s; the sampler only sees it once it exists, and counts
        # its CPU from its start, so the total must grow by about that much.
        wait_until(lambda: sampler.cpu_seconds("svc") >= first + 0.3, what="the restarted process's CPU time")
        result = sampler.stop()
        assert result["processes"][0]["pid"] == current["proc"].pid
        assert result["cpu_seconds"] >= first + 0.3
    finally:
        sampler.stop()
        current["proc"].kill()
        current["proc"].wait()


def test_a_fixed_set_of_roots_still_works():
    proc = _spawn()
    try:
        sampler = ResourceSampler({"svc": proc.pid}, interval=0.1).start()
        wait_until(lambda: sampler.cpu_seconds() >= 0.2, what="CPU time")
        result = sampler.stop()
        assert result["processes"] == [{"name": "svc", "pid": proc.pid,
                                        "cpu_seconds": result["processes"][0]["cpu_seconds"],
                                        "peak_rss_mb": result["processes"][0]["peak_rss_mb"]}]
        assert result["peak_rss_mb"] > 0
    finally:
        proc.kill()
        proc.wait()
