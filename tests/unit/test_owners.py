"""shop/orders/owners.py: a checkout's process, and whether it is known to be gone."""
import os
import subprocess
import sys
import time

import pytest

from shop.orders import owners

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc (Linux)")


def test_this_process_is_alive():
    me = owners.this_process()
    assert me.split("/")[1] == str(os.getpid())
    assert owners.alive(me) is True


def test_an_exited_process_is_dead_even_before_it_is_reaped():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:   # its start time, read while it may still run
        stat = owners._stat(child.pid)
        if stat is None or stat[0] == "Z":
            break
        time.sleep(0.01)
    host = owners.this_process().rsplit("/", 2)[0]
    try:
        if stat is not None:
            assert stat[0] == "Z"        # exited, not reaped yet: a zombie
            assert owners.alive(f"{host}/{child.pid}/{stat[1]}") is False
    finally:
        child.wait()
    assert owners.alive(f"{host}/{child.pid}/{stat[1] if stat else '1'}") is False


def test_a_reused_pid_is_not_the_same_process():
    host, pid, start = owners.this_process().rsplit("/", 2)
    assert owners.alive(f"{host}/{pid}/{int(start) + 1}") is False


def test_unknown_is_none():
    _, pid, start = owners.this_process().rsplit("/", 2)
    assert owners.alive(f"another-host/{pid}/{start}") is None
    assert owners.alive(f"{owners._HOST}/{pid}/?") is None
    assert owners.alive(None) is None
    assert owners.alive("garbage") is None
