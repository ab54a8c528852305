"""The resource sampler counts all the CPU a deployment spends: that of a process restarted
during the run (a redeploy, a service brought back) from its start, and that of a worker that
lived and died between two samples (a crashing worker).

No test here depends on how fast this machine burns CPU: each process burns a CPU-time target
by its own accounting and then reports what it spent, and the sampler is asked to sample at
the moments the test chooses (``sample()``; its own thread waits an hour between samples).
The sampler's bookkeeping alone, on fake readings, is in tests/unit/test_sampler_logic.py."""
import subprocess
import sys

from loadtests.sampler import ResourceSampler
from tests.support.waiting import wait_until

NEVER = 3600  # the sampler's own interval: it samples only when a test asks
# Burns 0.2 s of CPU by its own clock, says how much CPU it has used in all, then waits.
BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.2: pass\n"
BURN_THEN_REPORT = BURN + "print('burnt', time.process_time(), flush=True)\ntime.sleep(60)"
# Waits for a line on stdin, then runs a child that burns 0.2 s and exits; reaps it, says how
# much CPU the child used (as the kernel accounted it to the parent), and waits.
PARENT_OF_A_SHORT_LIFE = ("import os, subprocess, sys, time\nsys.stdin.readline()\n"
                          f"subprocess.run([sys.executable, '-c', {BURN!r}])\n"
                          "t = os.times()\nprint('reaped', t.children_user + t.children_system, flush=True)\n"
                          "time.sleep(60)")
TICK = 0.05  # psutil reads the kernel's CPU counters in clock ticks (10 ms) per field


def _spawn(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, **kwargs)


def _report(proc, word: str) -> float:
    said, seconds = proc.stdout.readline().split()
    assert said == word
    return float(seconds)


def test_a_process_restarted_mid_run_is_counted_from_its_start():
    first = _spawn(BURN_THEN_REPORT)
    second = None
    try:
        _report(first, "burnt")
        current = {"svc": first.pid}
        sampler = ResourceSampler(lambda: current, interval=NEVER).start()   # first: counted from now
        assert sampler.cpu_seconds() < 0.1
        first.kill()
        first.wait()
        before = sampler.cpu_seconds()
        # The "restart": a new process the sampler only learns about after it has spent its
        # CPU. Counted from its start, all of it counts; from when it was first seen, none.
        second = _spawn(BURN_THEN_REPORT)
        spent = _report(second, "burnt")
        current["svc"] = second.pid
        sampler.sample()
        assert sampler.cpu_seconds() >= before + spent - TICK
        result = sampler.stop()
        assert result["processes"][0]["pid"] == second.pid
        assert result["cpu_seconds"] >= round(before + spent - TICK, 2)
    finally:
        for proc in (first, second):
            if proc:
                proc.kill()
                proc.wait()


def test_a_child_that_lives_and_dies_between_two_samples_is_counted():
    parent = _spawn(PARENT_OF_A_SHORT_LIFE, stdin=subprocess.PIPE)
    # One sample at the start, the next only when asked: the child is never seen alive.
    sampler = ResourceSampler({"svc": parent.pid}, interval=NEVER).start()
    try:
        parent.stdin.write("go\n")
        parent.stdin.flush()
        child_cpu = _report(parent, "reaped")
        assert child_cpu >= 0.2 - TICK
        sampler.sample()
        assert sampler.cpu_seconds("svc") >= child_cpu - TICK
    finally:
        sampler.stop()
        parent.kill()
        parent.wait()


def test_a_fixed_set_of_roots_reports_each_by_name_and_pid():
    proc = _spawn(BURN_THEN_REPORT)
    try:
        sampler = ResourceSampler({"svc": proc.pid}, interval=0.1).start()
        _report(proc, "burnt")
        wait_until(lambda: sampler.timeline, what="a first timeline row")
        result = sampler.stop()
        assert [(p["name"], p["pid"]) for p in result["processes"]] == [("svc", proc.pid)]
        assert result["processes"][0]["peak_rss_mb"] > 1
        assert result["timeline"][-1]["cpu_by_process_s"].keys() == {"svc"}
    finally:
        proc.kill()
        proc.wait()
