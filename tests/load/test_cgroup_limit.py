"""A CPU limit set on a group is enforced by the kernel on real processes."""
import subprocess
import sys
import time

import pytest

from loadtests import cgroups

REASON = cgroups.unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def test_busy_processes_stay_under_the_quota():
    group = cgroups.CpuGroup("test-limit")
    group.set_limit(0.3)
    procs = []
    try:
        with group.entered():  # two busy children, born inside the group
            procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
        assert set(p.pid for p in procs) <= set(group.pids())
        used0, t0 = group.usage_seconds(), time.monotonic()
        while group.throttling()["throttled_periods"] < 10:   # the limit has held them back
            time.sleep(0.1)
        time.sleep(0.5)
        used, elapsed = group.usage_seconds() - used0, time.monotonic() - t0
        # Two busy loops would use 2 cores; the quota allows 0.3 (plus at most one period's slack).
        assert used <= 0.3 * elapsed + 0.1, (used, elapsed)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        group.close()
