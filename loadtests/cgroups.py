"""CPU limits for a group of processes, enforced by the kernel: a cgroup CPU quota, the way
the kubelet enforces a pod's ``limits.cpu``.

A quota of ``cores`` lets the group's processes run ``cores x period`` microseconds of CPU
per period (100 ms by default, as the kubelet sets it) in all, however many processes or
threads they are; past it they wait for the rest of the period (they are *throttled*). A
bursty load is throttled even when its average is under the quota: with 0.5 core and a
100 ms period, a burst that uses 50 ms waits 50 ms. A shorter period smooths that out. Processes started by a member join the group,
so starting a deployment from inside ``group.entered()`` puts all of it under the limit.

Both cgroup layouts work:
- v1 (``/sys/fs/cgroup/cpu/<group>/cpu.cfs_quota_us``), with the usage read from the
  ``cpuacct`` controller's group of the same name;
- v2 (``/sys/fs/cgroup/<group>/cpu.max``), where the ``cpu`` controller must be enabled in
  the parent's ``cgroup.subtree_control``.

Creating groups needs root (or a delegated subtree). ``unavailable()`` says in one sentence
why limits cannot be used here, or returns None when they can."""
import contextlib
import os
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PARENT = "shop-bench"       # every group this project makes lives under this one
PERIOD_US = 100_000         # the kernel's (and the kubelet's) default CFS period: 100 ms


@contextlib.contextmanager
def pinned(cpus):
    """Run the block with this process pinned to ``cpus`` (None or empty: as it is); processes
    started inside inherit the pinning. The one place the load tools pin CPUs."""
    before = os.sched_getaffinity(0) if cpus else None
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        if before:
            os.sched_setaffinity(0, before)


def _layout(root: Path = ROOT) -> str | None:
    if (root / "cpu" / "cpu.cfs_quota_us").exists():
        return "v1"
    if (root / "cgroup.controllers").exists() and "cpu" in (root / "cgroup.controllers").read_text().split():
        return "v2"
    return None


def unavailable(root: Path = ROOT) -> str | None:
    """None if CPU limits can be set here, else one plain sentence saying why not."""
    layout = _layout(root)
    if layout is None:
        return f"no cgroup cpu controller is mounted under {root}, so CPU limits cannot be set"
    base = root / "cpu" if layout == "v1" else root
    if not os.access(base, os.W_OK):
        return (f"{base} is not writable (CPU limits need root, or a delegated cgroup): "
                "running without a CPU limit")
    return None


class CpuGroup:
    """One cgroup with a CPU quota. ``CpuGroup("monolith")`` creates (or reuses)
    ``shop-bench/monolith``; ``close()`` moves what is left back to the root and removes it."""

    def __init__(self, name: str, root: Path = ROOT, period_us: int = PERIOD_US):
        reason = unavailable(root)
        if reason:
            raise OSError(reason)
        self.name = name
        self.layout = _layout(root)
        if self.layout == "v1":
            self.cpu_dir = root / "cpu" / PARENT / name
            acct = root / "cpuacct"
            self.acct_dir = acct / PARENT / name if (acct / "cpuacct.usage").exists() else None
            self._root_procs = [root / "cpu" / "cgroup.procs"]
            if self.acct_dir:
                self._root_procs.append(acct / "cgroup.procs")
            for folder in filter(None, (self.cpu_dir, self.acct_dir)):
                folder.mkdir(parents=True, exist_ok=True)
        else:
            parent = root / PARENT
            parent.mkdir(exist_ok=True)
            _enable_cpu(root)
            _enable_cpu(parent)
            self.cpu_dir = parent / name
            self.cpu_dir.mkdir(exist_ok=True)
            self.acct_dir = None
            self._root_procs = [root / "cgroup.procs"]
        self.period_us = period_us
        self._limit: float | None = None
        self.set_limit(None)

    # -- the limit ---------------------------------------------------------------------
    @property
    def limit(self) -> float | None:
        """Cores the group may use (None: no limit)."""
        return self._limit

    def set_limit(self, cores: float | None) -> None:
        """Allow ``cores`` CPUs' worth of time per period (e.g. 0.5); None removes the limit."""
        if cores is not None and cores <= 0:
            raise ValueError(f"a CPU limit must be above 0 cores, got {cores}")
        quota = -1 if cores is None else max(1000, round(cores * self.period_us))  # the kernel's minimum: 1 ms
        if self.layout == "v1":
            (self.cpu_dir / "cpu.cfs_period_us").write_text(str(self.period_us))
            (self.cpu_dir / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (self.cpu_dir / "cpu.max").write_text(f"{'max' if quota < 0 else quota} {self.period_us}")
        self._limit = cores

    def set_weight(self, times: float) -> None:
        """How much CPU the group gets against others when the CPU is contended: ``times``
        the default share (v1 cpu.shares 1024, v2 cpu.weight 100). The quota still caps it."""
        if self.layout == "v1":
            (self.cpu_dir / "cpu.shares").write_text(str(max(2, round(1024 * times))))
        else:
            (self.cpu_dir / "cpu.weight").write_text(str(min(10000, max(1, round(100 * times)))))

    # -- members -----------------------------------------------------------------------
    def add(self, pid: int) -> None:
        """Move a process (all its threads) into the group; its future children are born in it."""
        for folder in filter(None, (self.cpu_dir, self.acct_dir)):
            (folder / "cgroup.procs").write_text(str(pid))

    def pids(self) -> list[int]:
        text = (self.cpu_dir / "cgroup.procs").read_text()
        return [int(x) for x in text.split()]

    @contextlib.contextmanager
    def entered(self):
        """Run the block with this process inside the group, so that every process it starts
        is born under the limit; then move this process back out."""
        self.add(os.getpid())
        try:
            yield self
        finally:
            self._leave(os.getpid())

    def _leave(self, pid: int) -> None:
        for procs in self._root_procs:
            try:
                procs.write_text(str(pid))
            except OSError:  # already gone
                pass

    # -- readings ----------------------------------------------------------------------
    def usage_seconds(self) -> float | None:
        """CPU time the group's processes used since it was created (None if not readable)."""
        try:
            if self.layout == "v1":
                if self.acct_dir is None:
                    return None
                return int((self.acct_dir / "cpuacct.usage").read_text()) / 1e9
            return self._stat().get("usage_usec", 0) / 1e6
        except (OSError, ValueError):
            return None

    def throttling(self) -> dict:
        """How often the limit held the group back: periods, throttled periods, seconds waited."""
        stat = self._stat()
        waited = stat.get("throttled_time", 0) / 1e9 if self.layout == "v1" else stat.get("throttled_usec", 0) / 1e6
        return {"periods": stat.get("nr_periods", 0), "throttled_periods": stat.get("nr_throttled", 0),
                "throttled_s": round(waited, 3)}

    def _stat(self) -> dict[str, int]:
        try:
            lines = (self.cpu_dir / "cpu.stat").read_text().splitlines()
        except OSError:
            return {}
        out = {}
        for line in lines:
            key, _, value = line.partition(" ")
            if value.strip().lstrip("-").isdigit():
                out[key] = int(value)
        return out

    # -- the end -------------------------------------------------------------------------
    def close(self) -> None:
        """Move any process still inside back to the root, and remove the group."""
        for folder in filter(None, (self.cpu_dir, self.acct_dir)):
            try:
                for pid in (folder / "cgroup.procs").read_text().split():
                    self._leave(int(pid))
                folder.rmdir()
            except OSError:
                pass

    def __repr__(self) -> str:
        limit = "no limit" if self._limit is None else f"{self._limit:g} cores"
        return f"CpuGroup({self.name!r}, {limit}, cgroup {self.layout})"


def _enable_cpu(folder: Path) -> None:
    control = folder / "cgroup.subtree_control"
    if "cpu" not in control.read_text().split():
        control.write_text("+cpu")
