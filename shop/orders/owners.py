"""Which process runs a checkout, and whether it is still alive.

A checkout's journal entry names its process as ``host/pid/start-time``. When that process is
gone (a worker killed, or exited by the billing_crash fault: gunicorn starts another), nobody
will ever finish the checkout, so recovery need not wait ``checkout_recover_after`` for it.
The start time (from /proc) tells a reused pid from the original; a zombie (exited, not yet
reaped) counts as dead. Where this cannot be known (another host, no /proc), the answer is
None and only the age rule applies.
"""
import os
import socket

_HOST = socket.gethostname()
_cached: tuple[int, str] | None = None  # (pid, owner): recomputed after a fork


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process, None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    except OSError:
        return ("?", "?")
    fields = data.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return fields[0], fields[19]              # state (field 3), starttime (field 22)


def this_process() -> str:
    global _cached
    pid = os.getpid()
    if _cached is None or _cached[0] != pid:
        stat = _stat(pid) if os.path.isdir("/proc") else None
        _cached = (pid, f"{_HOST}/{pid}/{stat[1] if stat else '?'}")
    return _cached[1]


def alive(owner: str | None) -> bool | None:
    """False if the owner process is known to be gone, True if it runs, None if unknown."""
    try:
        host, pid, start = owner.rsplit("/", 2)
        pid = int(pid)
    except (AttributeError, ValueError):
        return None
    if host != _HOST or start == "?" or not os.path.isdir("/proc"):
        return None
    stat = _stat(pid)
    if stat is None:
        return False
    state, started = stat
    if state == "?":
        return None
    return state not in ("Z", "X") and started == start


class Processes:
    """This process's name for the journal, and whether another one still runs: the two
    functions above, as the one object the checkout, its recovery and its schedule share
    (a test gives them a fake)."""

    @staticmethod
    def me() -> str:
        return this_process()

    @staticmethod
    def alive(owner: str | None) -> bool | None:
        return alive(owner)


def dead_owners(journal, processes) -> set[str]:
    """The processes, other than this one, that ran a checkout still in the journal and are
    known to be gone."""
    me = processes.me()
    return {o for o in journal.owners() if o != me and processes.alive(o) is False}
