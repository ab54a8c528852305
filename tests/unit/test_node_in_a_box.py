"""The node in a box (loadtests/autoscaler.py) with a fake deployment and fake cgroups: the
order of quotas and scales, the node's budget, the timeline, the autoscaler switched off.
The real processes and the kernel's quotas are tests/load/test_autoscaler.py's."""
import threading
import time
from dataclasses import replace

import pytest

from loadtests import autoscaler, manifests
from loadtests.autoscaler import Node, NodeBudgetError, start_env
from tests.support.waiting import wait_until


class FakeGroup:
    """A cgroup whose processes want ``demand`` cores; they get at most the quota."""
    log: list

    def __init__(self, name: str, period_us: int = 100_000):
        self.name, self.limit, self.demand, self.period_us = name, None, 0.0, period_us
        self._used, self._at = 0.0, time.monotonic()
        self.closed = False
        self.lock = threading.Lock()

    def set_limit(self, cores):
        self._advance()
        self.limit = cores
        FakeGroup.log.append(("limit", self.name, cores))

    def _advance(self):
        with self.lock:
            now = time.monotonic()
            self._used += min(self.demand, self.limit or self.demand) * (now - self._at)
            self._at = now

    def usage_seconds(self):
        self._advance()
        return self._used

    def throttling(self):
        return {"periods": 0, "throttled_periods": 0, "throttled_s": 0.0}

    def pids(self):
        return []

    def add(self, pid):
        pass

    def close(self):
        self.closed = True


class FakeSUT:
    name = "microservices"
    processes = ["catalog", "gateway", "cart"]

    def __init__(self, workers=None):
        self.workers = dict(workers or {"catalog": 1, "gateway": 2, "cart": 1})
        self.scales = []

    def worker_count(self, process):
        return self.workers[process]

    def master_pid(self, process):
        return None

    def scale(self, process, n, timeout=60):
        FakeGroup.log.append(("scale", process, n))
        self.scales.append((process, n))
        self.workers[process] = n
        return type("Result", (), {"after": n})()


@pytest.fixture
def groups(monkeypatch):
    made = {}

    def make(name, **kwargs):
        made[name.rsplit("-", 1)[1]] = group = FakeGroup(name, **kwargs)
        return group
    FakeGroup.log = []
    monkeypatch.setattr(autoscaler.cgroups, "CpuGroup", make)
    monkeypatch.setattr(autoscaler, "unavailable", lambda: None)
    return made


def fast(d: manifests.Deployable, **changes) -> manifests.Deployable:
    """The manifest's policy on a clock 500 times faster (windows and periods), for quick tests."""
    return replace(d, autoscaler=replace(d.autoscaler.time_scaled(0.002), **changes))


def sized(d: manifests.Deployable, cpu_m: int, max_replicas: int | None = None) -> manifests.Deployable:
    d = replace(d, resources=replace(d.resources, cpu_request_m=cpu_m, cpu_limit_m=cpu_m))
    return replace(d, autoscaler=replace(d.autoscaler, max_replicas=max_replicas)) if max_replicas else d


# The real manifests' deployables and policies, at fixed sizes: the arithmetic below must not
# move when deploy/sizing.py re-derives the requests (tests/unit/test_manifests_reader.py reads
# the real sizes).
_REAL = manifests.read("microservices")
MICRO = {**_REAL, "catalog": sized(_REAL["catalog"], 200, 4), "gateway": sized(_REAL["gateway"], 250, 8),
         "cart": sized(_REAL["cart"], 50)}


def test_the_start_env_starts_each_deployable_at_its_minimum():
    env = start_env(manifests.read_all())
    assert env["CATALOG_WORKERS"] == str(MICRO["catalog"].autoscaler.min_replicas)
    assert env["GATEWAY_WORKERS"] == str(MICRO["gateway"].autoscaler.min_replicas)
    assert env["CART_WORKERS"] == "1" and "MONOLITH_WORKERS" in env


def test_the_plan_says_what_the_minimum_and_the_maximum_replicas_allocate():
    p = autoscaler.plan({"catalog": MICRO["catalog"], "gateway": MICRO["gateway"], "cart": MICRO["cart"]}, 1.0)
    c, g, cart = MICRO["catalog"], MICRO["gateway"], MICRO["cart"]
    low = c.autoscaler.min_replicas * 0.2 + g.autoscaler.min_replicas * 0.25 + 0.05
    high = c.autoscaler.max_replicas * 0.2 + g.autoscaler.max_replicas * 0.25 + 0.05
    assert (p["min_cores"], p["max_cores"]) == (pytest.approx(low), pytest.approx(high))
    assert p["min_fits"] == (low <= 1.0) and p["max_fits"] == (high <= 1.0)


def test_a_node_too_small_for_the_minimum_replicas_refuses_to_start(groups):
    node = Node(FakeSUT(), {"catalog": MICRO["catalog"], "gateway": MICRO["gateway"]}, budget=0.5)
    with pytest.raises(NodeBudgetError, match="more than the node's 500m"):
        node.start()
    assert groups == {}   # nothing was touched


def test_a_quota_period_too_short_for_the_smallest_request_is_refused(groups):
    # 50m of a 10 ms period is 0.5 ms, under the kernel's 1 ms minimum: it would become 100m.
    with pytest.raises(ValueError, match="at least 20 ms"):
        Node(FakeSUT(), {"cart": MICRO["cart"]}, period_us=10_000)
    node = Node(FakeSUT(), {"cart": MICRO["cart"]}, period_us=20_000, sync_s=0.05).start()
    node.stop()
    assert groups["cart"].period_us == 20_000


def test_a_deployable_the_deployment_does_not_have_is_refused():
    with pytest.raises(ValueError, match="monolith"):
        Node(FakeSUT(), {"monolith": manifests.read("monolith")["monolith"]})


def test_quotas_are_raised_before_a_scale_up_and_lowered_after_a_scale_down(groups):
    sut = FakeSUT({"catalog": 2, "gateway": 2, "cart": 1})
    spec = fast(MICRO["catalog"])
    node = Node(sut, {"catalog": spec}, budget=4, sync_s=0.05).start()
    try:
        assert sut.workers["catalog"] == spec.min_replicas == 1    # brought to its minimum at start
        assert groups["catalog"].limit == pytest.approx(0.2)
        groups["catalog"].demand = 10.0                            # far more than any quota
        wait_until(lambda: node.replicas("catalog") == spec.autoscaler.max_replicas, 10, "a scale-up to the max")
        groups["catalog"].demand = 0.0
        wait_until(lambda: node.replicas("catalog") == 1, 20, "a scale-down to the min")
    finally:
        report = node.stop()
    steps = [e for e in FakeGroup.log if e[1] in ("catalog", groups["catalog"].name)]
    workers = 2
    for i, (kind, _, n) in enumerate(steps):
        if kind != "scale":
            continue
        quota_before = [v for k, _, v in steps[:i] if k == "limit"][-1]
        quota_after = [v for k, _, v in steps[i + 1:] if k == "limit"]
        if n > workers:   # the quota for the new workers first
            assert quota_before == pytest.approx(n * 0.2), steps
        else:             # the old quota until the retired workers are gone
            assert quota_before == pytest.approx(workers * 0.2) and quota_after[0] == pytest.approx(n * 0.2), steps
        workers = n
    # With limit = request, utilisation cannot pass 100%: at a 70% target a sync asks for at
    # most ceil(n x 100/70), so 1 -> 2 -> 3 -> 4 however much more the load wants.
    assert [e["to"] for e in report["events"]][:3] == [2, 3, 4]
    assert report["deployables"]["catalog"]["peak_replicas"] == 4
    assert report["peak_cpu_allocated"] == pytest.approx(0.8)
    assert all(e.get("readiness_delay_s", e.get("drain_s")) >= 0 for e in report["events"])
    assert groups["catalog"].closed


def test_every_sync_is_a_row_with_what_the_hpa_saw_and_did(groups):
    node = Node(FakeSUT(), {"catalog": fast(MICRO["catalog"]), "cart": MICRO["cart"]}, budget=4, sync_s=0.05).start()
    try:
        groups["catalog"].demand = 0.1                              # half its 200m request
        wait_until(lambda: len(node.timeline) >= 6, 10, "a few syncs")
    finally:
        report = node.stop()
    rows = [r for r in report["timeline"] if r["deployable"] == "catalog"]
    for row in rows:
        assert {"t", "epoch", "replicas", "utilization", "desired", "cpu_allocated", "cpu_used"} <= set(row)
    assert 30 < rows[-1]["utilization"] < 70 and rows[-1]["desired"] == 1   # ~50%: below the 70% target
    assert rows[-1]["cpu_allocated"] == pytest.approx(0.2) and rows[-1]["cpu_used"] == pytest.approx(0.1, abs=0.03)
    cart = [r for r in report["timeline"] if r["deployable"] == "cart"]
    assert cart and all(r["desired"] == 1 and "proposed" not in r for r in cart)   # no HPA: a fixed count


def test_scaling_stops_at_the_node_budget_and_says_when(groups):
    # catalog 200m a replica: with 0.5 cores left after the gateway's 2 x 250m, two fit.
    sut = FakeSUT()
    node = Node(sut, {"catalog": fast(MICRO["catalog"]), "gateway": MICRO["gateway"]}, budget=1.0, sync_s=0.05).start()
    try:
        groups["catalog"].demand = 10.0
        wait_until(lambda: node.budget_hits, 10, "the budget to be hit")
        wait_until(lambda: node.replicas("catalog") == 2, 10, "what fits")
        rows = len(node.timeline)
        wait_until(lambda: len(node.timeline) >= rows + 8, 10, "a few more syncs (it must stay there)")
    finally:
        report = node.stop()
    assert max(n for p, n in sut.scales if p == "catalog") == 2
    hit = report["budget_hits"][0]
    assert hit["deployable"] == "catalog" and hit["got"] < hit["wanted"]
    assert report["peak_cpu_allocated"] <= 1.0


def test_with_the_autoscaler_off_nothing_scales_but_the_hpa_still_says_what_it_would_do(groups):
    sut = FakeSUT()
    node = Node(sut, {"catalog": fast(MICRO["catalog"])}, budget=4, sync_s=0.05, autoscale=False).start()
    try:
        groups["catalog"].demand = 10.0
        wait_until(lambda: any((r.get("desired") or 0) > 1 for r in node.timeline), 10, "a recommendation")
    finally:
        report = node.stop()
    assert sut.scales == [] and report["events"] == [] and report["autoscale"] is False
    assert groups["catalog"].limit == pytest.approx(0.2)
    assert report["deployables"]["catalog"]["core_seconds_allocated"] > 0
