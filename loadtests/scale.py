"""`make scale`: change how many workers a running gunicorn master has, while it serves.

    python -m loadtests.scale PROCESS WORKERS [--data-dir DIR] [--timeout SECONDS]

PROCESS is ``monolith``, ``gateway`` or a service name (catalog, cart, ...). The master is found
by its pid file, ``<data dir>/run/<process>.pid`` (shop/web/worker_files.py). gunicorn adds a worker
for every SIGTTIN and retires its oldest worker gracefully for every SIGTTOU. Signals of one kind
sent before the master has handled the previous one are merged into one, so they are sent one
at a time: the master writes how many workers it wants to ``<process>.nworkers`` when it acts on
one (shop/web/worker_files.py), and the next is sent once that number has moved.

Then it waits until the master has exactly WORKERS live workers, each of them has loaded the
app and entered its accept loop (``<process>.ready/<pid>``, written by the worker itself; a
gevent worker imports the app only after the fork, so this takes a moment) and the process
answers /healthz. A retired worker finishes what it is serving first, so scaling down returns
when it has exited. Exit code 1 if the process is not running or this does not happen in time.
"""
import argparse
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from microservices.config import SERVICE_PORTS
from shop.web.health import answers_healthz
from shop.web.worker_files import master, nworkers_file, pid_file, ready_dir
from shop.web.settings import data_dir as default_data_dir

PROCESSES = ["monolith", "gateway", *SERVICE_PORTS]


class ScaleError(RuntimeError):
    pass


class NotRunning(ScaleError):
    pass


@dataclass
class Result:
    process: str
    before: int
    after: int
    seconds: float
    pids: list[int]

    def __str__(self) -> str:
        return (f"{self.process}: {self.before} -> {self.after} workers in {self.seconds:.1f}s "
                f"(pids {' '.join(map(str, self.pids))})")


def find_master(pid: Path, process: str) -> psutil.Process:
    found = master(pid)
    if found is None:
        why = "no pid file" if not pid.exists() else "its pid file is stale"
        raise NotRunning(f"'{process}' is not running ({why}: {pid}); start it first "
                         f"(make run-monolith / make run-micro) with the same data directory")
    return found


def workers(boss: psutil.Process) -> list[psutil.Process]:
    """The master's live worker processes (a worker still finishing its requests counts)."""
    alive = []
    for child in boss.children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.NoSuchProcess:
            pass
    return alive


def worker_count(pid: Path, process: str = "") -> int:
    return len(workers(find_master(pid, process or pid.stem)))


def _wanted(pid: Path) -> int | None:
    try:
        return int(nworkers_file(pid).read_text().strip())
    except (OSError, ValueError):
        return None


def _listening_url(boss: psutil.Process) -> str | None:
    for conn in boss.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN:
            host = "127.0.0.1" if conn.laddr.ip in ("0.0.0.0", "::", "") else conn.laddr.ip
            return f"http://{host}:{conn.laddr.port}"
    return None


def _answers(url: str | None) -> bool:
    return answers_healthz(url, timeout=2)


def _wait(what, condition, deadline: float, boss: psutil.Process, process: str) -> None:
    """Poll ``condition`` until it holds; ``what`` (a string, or a function giving one at the
    moment of failure) says what was awaited."""
    while not condition():
        try:
            gone = not boss.is_running() or boss.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            gone = True
        if gone:
            raise NotRunning(f"'{process}' exited while waiting {what() if callable(what) else what}")
        if time.monotonic() > deadline:
            raise ScaleError(f"'{process}': timed out waiting {what() if callable(what) else what}")
        time.sleep(0.05)


def scale(pid: Path, target: int, timeout: float = 60, process: str = "") -> Result:
    """Bring the master that wrote ``pid`` to ``target`` serving workers; returns when done."""
    process = process or pid.stem
    if target < 1:
        raise ScaleError("a process needs at least one worker")
    started = time.monotonic()
    deadline = started + timeout
    boss = find_master(pid, process)
    before = len(workers(boss))
    wanted = _wanted(pid)
    if wanted is None:
        raise ScaleError(f"'{process}': no {nworkers_file(pid).name} next to its pid file "
                         f"(was it started before this version of shop/web/worker_files.py?)")
    while wanted != target:
        step = 1 if target > wanted else -1
        os.kill(boss.pid, signal.SIGTTIN if step > 0 else signal.SIGTTOU)
        wanted += step
        _wait(f"for the master to act on {'TTIN' if step > 0 else 'TTOU'}",
              lambda: _wanted(pid) == wanted, deadline, boss, process)

    settle(pid, deadline - time.monotonic(), process, boss)
    live = workers(boss)
    return Result(process, before, len(live), time.monotonic() - started, sorted(w.pid for w in live))


def settle(pid: Path, timeout: float = 60, process: str = "", boss: psutil.Process | None = None) -> None:
    """Wait until the master has as many live workers as it wants, each of them serving,
    and the process answers /healthz (after a start, a scale, a worker that died)."""
    process = process or pid.stem
    deadline = time.monotonic() + timeout
    boss = boss or find_master(pid, process)
    ready = ready_dir(pid)

    def settled() -> bool:
        live, wanted = workers(boss), _wanted(pid)
        return len(live) == wanted and all((ready / str(w.pid)).exists() for w in live)

    _wait(lambda: f"for its workers to serve (it wants {_wanted(pid)}, has {len(workers(boss))}, "
                  f"{sum((ready / str(w.pid)).exists() for w in workers(boss))} of them serving)",
          settled, deadline, boss, process)
    url = _listening_url(boss)
    _wait("for /healthz to answer", lambda: _answers(url), deadline, boss, process)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("process", choices=PROCESSES)
    parser.add_argument("workers", type=int)
    parser.add_argument("--data-dir", default=None, help="default: SHOP_DATA_DIR or ./data")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait (default 60)")
    args = parser.parse_args(argv)
    data = Path(args.data_dir).resolve() if args.data_dir else default_data_dir()
    if args.process == "gateway" and not pid_file(data, "gateway").exists() and (data / "run" / "envoy.json").exists():
        print("scale: the gateway is Envoy here: its worker threads are fixed when it starts (GATEWAY_WORKERS); "
              "run the shop with GATEWAY=python for a gateway that scales live", file=sys.stderr, flush=True)
        return 1
    try:
        print(scale(pid_file(data, args.process), args.workers, args.timeout, args.process), flush=True)
    except ScaleError as err:
        print(f"scale: {err}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
