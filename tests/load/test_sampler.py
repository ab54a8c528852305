"""The resource sampler counts all the CPU a deployment spends: that of a process restarted
during the run (a redeploy, a service brought back) from its start, and that of a worker that
lived and died between two samples (a crashing worker)."""
import subprocess
import sys

from loadtests.sampler import ResourceSampler
from tests.support.waiting import wait_until

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\n"
# Burns about 0.4 s of CPU, says so, then waits to be stopped.
BURN_THEN_WAIT = BURN + "print('burnt', flush=True)\ntime.sleep(60)"
# Waits for a line on stdin, then runs a child that burns about 0.4 s and exits; reaps it,
# says so, and waits to be stopped.
PARENT_OF_A_SHORT_LIFE = ("import subprocess, sys, time\nsys.stdin.readline()\n"
                          f"subprocess.run([sys.executable, '-c', {BURN!r}])\n"
                          "print('reaped', flush=True)\ntime.sleep(60)")


def _spawn(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, **kwargs)


def test_a_process_restarted_mid_run_is_counted_from_its_start():
    first = _spawn(BURN_THEN_WAIT)
    current = {"svc": first.pid}
    sampler = ResourceSampler(lambda: current, interval=0.1).start()
    second = None
    try:
        assert first.stdout.readline().strip() == "burnt"
        wait_until(lambda: sampler.cpu_seconds() >= 0.2, what="the first process's CPU time")
        first.kill()
        first.wait()
        before = sampler.cpu_seconds()

        # The "restart": a new process the sampler only learns about after it has spent its
        # 0.4 s. Counted from its start, all of that counts; from when it was first seen, none.
        second = _spawn(BURN_THEN_WAIT)
        assert second.stdout.readline().strip() == "burnt"
        current["svc"] = second.pid
        wait_until(lambda: sampler.cpu_seconds() >= before + 0.35, what="the restarted process's CPU time")
        result = sampler.stop()
        assert result["processes"][0]["pid"] == second.pid
        assert result["cpu_seconds"] >= before + 0.35
    finally:
        sampler.stop()
        for proc in (first, second):
            if proc:
                proc.kill()
                proc.wait()


def test_a_child_that_lives_and_dies_between_two_samples_is_counted():
    parent = _spawn(PARENT_OF_A_SHORT_LIFE, stdin=subprocess.PIPE)
    # One sample at the start, the next only when asked: the child is never seen alive.
    sampler = ResourceSampler({"svc": parent.pid}, interval=3600).start()
    try:
        parent.stdin.write("go\n")
        parent.stdin.flush()
        assert parent.stdout.readline().strip() == "reaped"
        sampler.sample()
        assert sampler.cpu_seconds("svc") >= 0.35
    finally:
        sampler.stop()
        parent.kill()
        parent.wait()


def test_a_fixed_set_of_roots_reports_each_by_name_and_pid():
    proc = _spawn(BURN_THEN_WAIT)
    try:
        sampler = ResourceSampler({"svc": proc.pid}, interval=0.1).start()
        assert proc.stdout.readline().strip() == "burnt"
        wait_until(lambda: sampler.timeline, what="a first timeline row")
        result = sampler.stop()
        assert [(p["name"], p["pid"]) for p in result["processes"]] == [("svc", proc.pid)]
        assert result["processes"][0]["peak_rss_mb"] > 1
        assert result["timeline"][-1]["cpu_by_process_s"].keys() == {"svc"}
    finally:
        proc.kill()
        proc.wait()
