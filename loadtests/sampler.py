"""CPU and memory of every process of the system under test, sampled once a second.

CPU is read as cumulative CPU time, so nothing between two samples is missed: for each root
process (a gunicorn master) it is the user + system time of the root and of every live
descendant, plus the time of the descendants that have exited (a process's children_user and
children_system: once a master has reaped a worker, the worker's time is its master's). A
worker that crashes between two samples is therefore counted in full. Memory is the resident
set size (RSS) of the same processes.

The roots can be a function, asked again at every sample: a process restarted during the
run (a redeploy, a service brought back) is followed, the CPU it spends from its start is
counted, and the last reading of the process it replaced is kept. Which is which needs no
clock: a root there at the first sample counts from that sample, a root first seen later
(a new pid for a name) was started during the run and counts all its CPU time. (Comparing
psutil's create_time with the start time did not work: create_time is computed from the
boot time, which Linux gives in whole seconds, so a process started within a second of the
sampler could look older than it and count nothing.)"""
import threading
import time

import psutil


def read_tree(pid: int) -> tuple[float, float] | None:
    """(CPU seconds, RSS MB) of a process and its descendants, the exited ones' CPU included
    (children_user/system); None if the process is gone."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:  # stopped (billing-down) or between states
        return None
    cpu = rss = 0.0
    for proc in tree:
        try:
            times = proc.cpu_times()
            rss += proc.memory_info().rss / 2**20
        except psutil.Error:  # exited meanwhile: its parent will account for it
            continue
        cpu += times.user + times.system + times.children_user + times.children_system
    return cpu, rss


class ResourceSampler:
    def __init__(self, roots, interval: float = 1.0, read=read_tree):
        # name -> pid of a root process (e.g. a gunicorn master), or a function returning that
        self._roots = roots if callable(roots) else (lambda: roots)
        self.roots = dict(self._roots())
        self.interval = interval
        self.read = read                         # pid -> (cpu s, rss MB) or None (tests fake it)
        self.timeline: list[dict] = []
        self._root_pid: dict[str, int] = {}      # name -> the root being followed
        self._base: dict[str, float | None] = {}  # its CPU time when first seen (0 if born later)
        self._last: dict[str, float] = {}         # its CPU time at the latest sample
        self._carried: dict[str, float] = {}      # CPU time of the roots it replaced
        self._peak_rss: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="resource-sampler")
        self.t0 = 0.0
        self._baseline_taken = False  # the first sample: the roots there count from it

    def sample(self) -> dict:
        self.roots = {name: pid for name, pid in self._roots().items() if pid}
        rss_by_name: dict[str, float] = {}
        for name, pid in self.roots.items():
            if self._root_pid.get(name) != pid:  # first seen, or restarted
                self._carried[name] = self.cpu_seconds(name) if name in self._root_pid else 0.0
                self._root_pid[name], self._base[name], self._last[name] = pid, None, 0.0
            reading = self.read(pid)
            if reading is None:
                continue
            cpu, rss = reading
            if self._base[name] is None:
                # There at the first sample: counted from then. Seen first later: born during the run.
                self._base[name] = cpu if not self._baseline_taken else 0.0
            # A worker that exited but is not reaped yet is missing for one sample: never go back.
            self._last[name] = max(self._last[name], cpu)
            rss_by_name[name] = rss
        for name, rss in rss_by_name.items():
            self._peak_rss[name] = max(self._peak_rss.get(name, 0.0), rss)
        return {"cpu_seconds": self.cpu_seconds(), "rss_mb": sum(rss_by_name.values())}

    def cpu_seconds(self, name: str | None = None) -> float:
        names = [name] if name is not None else list(self._root_pid)
        return sum(self._carried.get(n, 0.0) + self._last.get(n, 0.0) - (self._base.get(n) or 0.0)
                   for n in names if n in self._root_pid)

    def _run(self):
        last_t, last_cpu = time.monotonic(), self.cpu_seconds()
        while not self._stop.wait(self.interval):
            now = time.monotonic()
            s = self.sample()
            cpu_pct = 100 * (s["cpu_seconds"] - last_cpu) / (now - last_t) if now > last_t else 0.0
            self.timeline.append({"t": round(now - self.t0, 1), "epoch": time.time(),
                                  "cpu_percent": round(cpu_pct, 1), "rss_mb": round(s["rss_mb"], 1),
                                  "cpu_total_s": round(s["cpu_seconds"], 3),
                                  "cpu_by_process_s": {n: round(self.cpu_seconds(n), 3) for n in self.roots}})
            last_t, last_cpu = now, s["cpu_seconds"]

    def start(self) -> "ResourceSampler":
        self.t0 = time.monotonic()
        self.sample()  # baseline CPU counters
        self._baseline_taken = True
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(5)
        self.sample()
        rss = [row["rss_mb"] for row in self.timeline] or [0.0]
        return {
            "cpu_seconds": round(self.cpu_seconds(), 2),
            "peak_rss_mb": round(max(rss), 1),
            "avg_rss_mb": round(sum(rss) / len(rss), 1),
            "processes": [{"name": name, "pid": self.roots[name],
                           "cpu_seconds": round(self.cpu_seconds(name), 2),
                           "peak_rss_mb": round(self._peak_rss.get(name, 0.0), 1)}
                          for name in self.roots],
            "timeline": self.timeline,
        }


def window(resources: dict, start_epoch: float, duration_s: float) -> dict:
    """The resources of the load window only (not startup, not the logins prepared before the
    run), with the timeline's clock moved to the load's: t=0 is when the load started."""
    rows = [r for r in resources["timeline"] if start_epoch <= r["epoch"] <= start_epoch + duration_s + 1]
    if len(rows) < 2:
        return resources
    before = [r for r in resources["timeline"] if r["epoch"] < start_epoch]
    first_total = before[-1]["cpu_total_s"] if before else rows[0]["cpu_total_s"]
    rss = [r["rss_mb"] for r in rows]
    first_by = before[-1]["cpu_by_process_s"] if before else rows[0]["cpu_by_process_s"]
    processes = [{**p, "cpu_seconds": round(rows[-1]["cpu_by_process_s"].get(p["name"], 0.0)
                                            - first_by.get(p["name"], 0.0), 2)}
                 for p in resources["processes"]]
    return {
        **resources,
        "processes": processes,
        "cpu_seconds": round(rows[-1]["cpu_total_s"] - first_total, 2),
        "peak_rss_mb": round(max(rss), 1),
        "avg_rss_mb": round(sum(rss) / len(rss), 1),
        "timeline": [{**r, "t": round(r["epoch"] - start_epoch, 1)} for r in rows],
        "window": "load only (startup and prepared logins excluded)",
    }
