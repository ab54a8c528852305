"""A node in a box: a running deployment (loadtests/sut.py) sized, limited and autoscaled the
way its Kubernetes manifests say, on this one machine.

    node = Node(sut, budget=1.0, sync_s=15).start()     # after sut.start(); returns at once
    ...                                                 # the caller's main thread runs the load
    report = node.stop()                                # {"timeline": [...], "events": [...], ...}

- **A replica is one gunicorn worker process** of the deployable's master (the monolith, the
  gateway, or a service). Scaling is gunicorn's TTIN/TTOU through ``sut.scale`` (loadtests/
  scale.py), which returns once the new workers serve (or the retired ones have exited).
- **Each deployable has its own cgroup** (loadtests/cgroups.py), holding its master and
  workers (the workers already running are moved in; those forked later are born there),
  with a CPU quota of replicas x the per-replica limit. The experiment runs every replica
  with limit = request, Kubernetes' Guaranteed QoS class: the per-replica CPU is the
  manifest's *request* (deploy/k8s, read by loadtests/manifests.py), whatever its limit.
  The quota period is the kubelet's, 100 ms, unless ``period_us`` says otherwise (a shorter
  one throttles bursts less: see compare.py's cap_note); it must give the smallest request
  the kernel's smallest quota, 1 ms (20 ms at least for a 50m replica).
- **The node has a CPU budget** (cores: the sum of limits it can hold). The deployables'
  minimum replicas must fit in it; a scale-up stops at it (partly, if some of it fits), and
  the runtime records when a deployable hit it.
- **Every sync period** (15 s, Kubernetes' default) it reads each deployable's CPU use from its
  cgroup, as utilisation = use over the period / (serving replicas x request), asks that
  deployable's HPA (loadtests/hpa.py) for the count, raises the quota before a scale-up
  and lowers it once a scale-down is done. A deployable without an HPA keeps its count.
  With ``autoscale=False`` nothing scales: the minimum replicas under the same quotas, the
  with/without comparison; the HPA's recommendation is still recorded (``desired``).

It runs in a background thread. Scaling runs in a short-lived thread per scale, so that a
slow scale-down (a retired worker finishes with its clients, up to gunicorn's 10 s graceful
timeout) does not hold the others' syncs: a scale only sends signals to a running master,
which forks its workers itself, so no process is started from that thread (a process
started from a short-lived thread would die with it: the launcher's PR_SET_PDEATHSIG).
While a deployable is being scaled its syncs are recorded without a decision.

What the timeline holds (times in seconds from ``start``, and ``epoch`` wall-clock times to
line it up with the load's own records):
- ``timeline``: a row per sync and deployable: replicas (serving, at the sync), utilization
  (percent of the request), desired (the HPA's count), proposed and limited_by (its
  reasoning), cpu_allocated (cores: the replicas' limits, booting ones included) and
  cpu_used (cores), both averaged over the period the sync closes, throttled_s (time the
  quota held the group back in it), note.
- ``events``: every scale: decided at t, from, to, reached, and readiness_delay_s (scale-up:
  from the decision until every new worker serves) or drain_s (scale-down: until the retired
  workers have exited and their CPU is released), error if it failed.
- ``budget_hits``: when a deployable wanted more than the node had left: wanted, got.
- per deployable: its sizes and policy, peak replicas, core-seconds allocated.

Approximations (the report should say so): a booting worker's CPU counts in its group's use
before it serves (Kubernetes sets an unready pod's CPU aside); the master's own CPU counts
against its workers' requests (in a pod it would too); a scale-up that does not fit waits,
where Kubernetes would leave a pod Pending and count it in the HPA's current replicas."""
import threading
import time
from dataclasses import dataclass

import psutil

from loadtests import cgroups, manifests
from loadtests.hpa import HPA
from loadtests.manifests import Deployable


def unavailable() -> str | None:
    """None if the node in a box can run here, else one plain sentence saying why not."""
    return cgroups.unavailable()


def start_env(deployables: dict[str, Deployable]) -> dict[str, str]:
    """The worker-count variables that start a deployment at its minimum replicas, so that
    ``Node.start`` has nothing to scale (e.g. {"CATALOG_WORKERS": "1", "GATEWAY_WORKERS": "2"})."""
    return {f"{name.upper()}_WORKERS": str(d.min_replicas) for name, d in deployables.items()}


class NodeBudgetError(ValueError):
    pass


def plan(deployables: dict[str, Deployable], budget: float) -> dict:
    """What the deployables need of a node of ``budget`` cores, with limit = request: the CPU
    allocated at their minimum replicas and at their maximum, and whether each fits."""
    low = sum(d.min_replicas * d.resources.cpu_request_m for d in deployables.values())
    high = sum((d.autoscaler.max_replicas if d.autoscaler else d.replicas) * d.resources.cpu_request_m
               for d in deployables.values())
    return {"budget_cores": budget, "min_cores": low / 1000, "max_cores": high / 1000,
            "min_fits": low <= round(budget * 1000), "max_fits": high <= round(budget * 1000)}


@dataclass
class _Managed:
    """One deployable on the node: its limits, its HPA, and what it runs now."""
    spec: Deployable
    group: cgroups.CpuGroup
    hpa: HPA | None
    replicas: int                     # serving workers
    allocated: int                    # replicas whose CPU is reserved (serving + booting)
    last_t: float
    last_usage: float
    last_throttled: float = 0.0
    last_core_s: float = 0.0          # core_s at the last sync
    replica_s: float = 0.0            # serving replica-seconds since the last sync
    mark_t: float = 0.0               # when replica_s / core_s were last brought up to date
    core_s: float = 0.0               # CPU core-seconds allocated since start
    peak: int = 0
    scaling: threading.Thread | None = None

    @property
    def request_m(self) -> int:
        return self.spec.resources.cpu_request_m


class Node:
    """The node in a box for one running deployment. ``deployables`` defaults to every one of
    the SUT's, as deploy/k8s sizes them; a subset leaves the others unmanaged (no cgroup)."""

    def __init__(self, sut, deployables: dict[str, Deployable] | None = None, *, budget: float = 1.0,
                 sync_s: float = 15.0, autoscale: bool = True, scale_timeout: float = 60.0, name: str = "",
                 period_us: int = cgroups.PERIOD_US):
        if deployables is None:
            deployables = {n: d for n, d in manifests.read(sut.name).items() if n in sut.processes}
        unknown = set(deployables) - set(sut.processes)
        if unknown:
            raise ValueError(f"no process {', '.join(sorted(unknown))} in the {sut.name}")
        if sync_s <= 0:
            raise ValueError("the sync period must be above 0 s")
        # The kernel's smallest quota is 1 ms a period: a smaller one would be rounded up to
        # it (cgroups.CpuGroup), and a 50m replica silently given 100m with a 10 ms period.
        smallest = min((d.resources.cpu_request_m for d in deployables.values()), default=1000)
        if smallest * period_us // 1000 < 1000:
            needed_ms = -(-(-(-1_000_000 // smallest)) // 1000)   # rounded up twice: us, then ms
            raise ValueError(f"a {smallest}m request needs a CPU quota period of at least "
                             f"{needed_ms} ms (the kernel's smallest quota is 1 ms), "
                             f"not {period_us / 1000:g} ms")
        self.period_us = period_us
        self.sut, self.deployables = sut, dict(deployables)
        self.budget, self.sync_s, self.autoscale, self.scale_timeout = budget, sync_s, autoscale, scale_timeout
        self.name = name or f"node{id(self):x}"   # cgroups: shop-bench/<name>-<deployable>
        self.timeline: list[dict] = []
        self.events: list[dict] = []
        self.budget_hits: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="node-in-a-box")
        self._managed: dict[str, _Managed] = {}
        self._peak_m = 0
        self.t0 = 0.0
        self.epoch0 = 0.0

    @property
    def groups(self) -> dict[str, cgroups.CpuGroup]:
        """Each managed deployable's cgroup (to read, not to change: the node sets the quotas)."""
        return {name: m.group for name, m in self._managed.items()}

    def replicas(self, name: str) -> int:
        """The serving replicas of a deployable, as the node counts them."""
        return self._managed[name].replicas

    # -- the budget ------------------------------------------------------------------------
    @property
    def budget_m(self) -> int:
        return round(self.budget * 1000)

    def _allocated_m(self) -> int:
        return sum(m.allocated * m.request_m for m in self._managed.values())

    # -- start and stop --------------------------------------------------------------------
    def start(self) -> "Node":
        """Put every deployable in its cgroup under its quota, at its minimum replicas, and
        start syncing. Call it from the thread that owns the deployment (the main thread)."""
        if not plan(self.deployables, self.budget)["min_fits"]:
            minimum = sum(d.min_replicas * d.resources.cpu_request_m for d in self.deployables.values())
            sizes = ", ".join(f"{n} {d.min_replicas} x {d.resources.cpu_request_m}m" for n, d in self.deployables.items())
            raise NodeBudgetError(f"the {self.sut.name}'s minimum replicas request {minimum}m of CPU, more than the "
                                  f"node's {self.budget_m}m ({sizes})")
        reason = unavailable()
        if reason:
            raise OSError(reason)
        now = time.monotonic()
        self.t0, self.epoch0 = now, time.time()
        try:
            for name, spec in self.deployables.items():
                self._managed[name] = self._place(name, spec)
            for name, m in self._managed.items():
                # Bring it to its minimum (start_env avoids this), then size its quota to it.
                if self.sut.worker_count(name) != m.replicas:
                    self.sut.scale(name, m.replicas, self.scale_timeout)
                m.group.set_limit(m.replicas * m.request_m / 1000)
                m.last_t = m.mark_t = time.monotonic()
                m.last_usage = m.group.usage_seconds() or 0.0
                m.last_throttled = m.group.throttling()["throttled_s"]
        except BaseException:
            self._close_groups()
            raise
        self._peak_m = self._allocated_m()
        self._thread.start()
        return self

    def _place(self, name: str, spec: Deployable) -> _Managed:
        group = cgroups.CpuGroup(f"{self.name}-{name}", period_us=self.period_us)
        start = spec.min_replicas
        try:
            running = self.sut.worker_count(name)
            # Until it is at its start size, let what runs now have its share.
            group.set_limit(max(running, start) * spec.resources.cpu_request_m / 1000)
            self._adopt(name, group)
        except BaseException:
            group.close()
            raise
        hpa = HPA(spec.autoscaler) if spec.autoscaler else None
        return _Managed(spec, group, hpa, start, start, 0.0, 0.0, peak=start)

    def _adopt(self, name: str, group: cgroups.CpuGroup) -> bool:
        """Move the master, then the workers it has, into the group, unless it is there
        already; True if it was moved. The master first: a worker it forks meanwhile is born
        in the group."""
        pid = self.sut.master_pid(name)
        if pid is None:
            return False
        try:
            if pid in set(group.pids()):
                return False
            group.add(pid)
            for child in psutil.Process(pid).children(recursive=True):
                try:
                    group.add(child.pid)
                except OSError:       # exited meanwhile
                    pass
        except (OSError, psutil.Error):
            return False
        return True

    def stop(self) -> dict:
        """Stop syncing, let scales in flight finish, release the processes from their
        cgroups (they keep running, without limits) and return the report."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.sync_s + self.scale_timeout)
        for m in list(self._managed.values()):
            if m.scaling:
                m.scaling.join(self.scale_timeout)
        with self._lock:
            now = time.monotonic()
            for m in self._managed.values():
                self._account(m, now)
        self._close_groups()
        return self.report()

    def _close_groups(self) -> None:
        for m in self._managed.values():
            m.group.close()

    # -- the loop --------------------------------------------------------------------------
    def _run(self) -> None:
        due = self.t0 + self.sync_s
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            now = time.monotonic()
            due = max(due + self.sync_s, now + self.sync_s / 2)   # a late sync does not bunch up the next
            for name, m in self._managed.items():
                try:
                    self._sync(name, m)
                except Exception as err:  # the run goes on; the timeline says what failed
                    self.timeline.append({"t": round(now - self.t0, 2), "deployable": name,
                                          "note": f"sync failed: {type(err).__name__}: {err}"})

    def _account(self, m: _Managed, now: float) -> None:
        """Bring the serving replica-seconds and the allocated core-seconds up to ``now``."""
        elapsed = max(0.0, now - m.mark_t)
        m.replica_s += m.replicas * elapsed
        m.core_s += m.allocated * m.request_m / 1000 * elapsed
        m.mark_t = now

    def _sync(self, name: str, m: _Managed) -> None:
        # A restarted master (a redeploy) is a new process: put it in its group, and count
        # the workers it started with (the HPA takes it from there).
        restarted = self._adopt(name, m.group) and m.scaling is None
        usage = m.group.usage_seconds()
        throttled = m.group.throttling()["throttled_s"]
        with self._lock:
            now = time.monotonic()
            self._account(m, now)
            period = now - m.last_t
            used = (usage - m.last_usage) / period if usage is not None and period > 0 else 0.0
            serving = m.replica_s / period if period > 0 else m.replicas   # time-weighted
            utilization = 100 * used / (serving * m.request_m / 1000) if serving > 0 else 0.0
            allocated = (m.core_s - m.last_core_s) / period if period > 0 else m.allocated * m.request_m / 1000
            row = {"t": round(now - self.t0, 2), "epoch": round(time.time(), 3), "deployable": name,
                   "replicas": m.replicas, "utilization": round(utilization, 1),
                   "cpu_allocated": round(allocated, 3), "cpu_used": round(used, 3),
                   "throttled_s": round(max(0.0, throttled - m.last_throttled), 3)}
            m.last_t, m.last_throttled = now, throttled
            m.last_usage = usage if usage is not None else m.last_usage
            m.replica_s, m.last_core_s = 0.0, m.core_s
            if restarted:
                self._recount(name, m, row)
            if m.scaling is not None:
                row.update(desired=None, note="scaling")
            elif m.hpa is None:
                row["desired"] = m.replicas
            else:
                r = m.hpa.recommend(m.replicas, utilization)
                row.update(desired=r.desired, proposed=r.proposed, limited_by=r.limited_by)
                if self.autoscale and r.desired != m.replicas:
                    self._decide(name, m, r.desired, now, row)
            self.timeline.append(row)

    def _recount(self, name: str, m: _Managed, row: dict) -> None:
        try:
            found = self.sut.worker_count(name)
        except Exception:
            return
        row["note"] = f"restarted with {found} workers"
        if found != m.replicas:
            m.allocated = found
            m.group.set_limit(found * m.request_m / 1000)
            m.replicas = found
            row["replicas"] = found

    def _decide(self, name: str, m: _Managed, target: int, now: float, row: dict) -> None:
        """Called with the lock held: reserve the CPU of a scale-up (within the budget),
        record the scale for the HPA's policies, and start it."""
        before = m.replicas
        if target > before:
            room = self.budget_m - self._allocated_m()
            fits = before + max(0, room // m.request_m)
            if target > fits:
                self.budget_hits.append({"t": row["t"], "epoch": row["epoch"], "deployable": name,
                                         "wanted": target, "got": fits,
                                         "allocated_cores": round(self._allocated_m() / 1000, 3)})
                row["note"] = f"node budget: wanted {target}, got {fits}"
                target = fits
            if target <= before:
                return
            m.allocated = target
            m.group.set_limit(target * m.request_m / 1000)   # before the new workers start
            self._peak_m = max(self._peak_m, self._allocated_m())
        m.hpa.scaled(before, target)   # as the controller stores its scale event at the decision
        m.scaling = threading.Thread(target=self._scale, args=(name, m, before, target, now), daemon=True,
                                     name=f"scale-{name}")
        m.scaling.start()

    def _scale(self, name: str, m: _Managed, before: int, target: int, decided: float) -> None:
        event = {"t": round(decided - self.t0, 2), "epoch": round(self.epoch0 + decided - self.t0, 3),
                 "deployable": name, "from": before, "to": target}
        try:
            reached = self.sut.scale(name, target, self.scale_timeout).after
        except Exception as err:
            event["error"] = f"{type(err).__name__}: {err}"
            try:
                reached = self.sut.worker_count(name)
            except Exception:
                reached = before
        done = time.monotonic()
        event["reached"] = reached
        event["readiness_delay_s" if target > before else "drain_s"] = round(done - decided, 3)
        with self._lock:
            self._account(m, done)
            if m.allocated != reached:   # after a scale-down, or a scale-up that fell short
                m.allocated = reached
                m.group.set_limit(reached * m.request_m / 1000)
            m.replicas = reached         # last: whoever reads the replicas finds the limit set
            m.peak = max(m.peak, reached)
            m.scaling = None
            self.events.append(event)

    # -- the report ------------------------------------------------------------------------
    def report(self) -> dict:
        deployables = {}
        for name, m in self._managed.items():
            a = m.spec.autoscaler
            deployables[name] = {
                "cpu_request_cores": m.request_m / 1000,
                "cpu_limit_per_replica_cores": m.request_m / 1000,   # limit = request (Guaranteed)
                "manifest_cpu_limit_cores": m.spec.resources.cpu_limit,
                "memory_request_mib": m.spec.resources.memory_request_mi,
                "autoscaler": None if a is None else {
                    "min": a.min_replicas, "max": a.max_replicas, "target_utilization": a.target_utilization,
                    "scale_up_window_s": a.scale_up.stabilization_window_s,
                    "scale_down_window_s": a.scale_down.stabilization_window_s},
                "start_replicas": m.spec.min_replicas,
                "replicas_at_end": m.replicas,
                "peak_replicas": m.peak,
                "core_seconds_allocated": round(m.core_s, 2),
            }
        return {"autoscale": self.autoscale, "budget_cores": self.budget, "sync_s": self.sync_s,
                "started_epoch": round(self.epoch0, 3), "deployables": deployables,
                "peak_cpu_allocated": self._peak_m / 1000,
                "timeline": list(self.timeline), "events": list(self.events), "budget_hits": list(self.budget_hits)}
