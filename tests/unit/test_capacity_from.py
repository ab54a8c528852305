"""`make compare ... --capacity-from results/x/summary.json`: the capacities of an earlier run are
taken only if that run measured them the same way (same SLO, same CPU limit), and for every target."""
import json

import pytest

from loadtests.compare import earlier_capacities

pytestmark = pytest.mark.unit
TARGETS = ["monolith", "microservices"]


def summary(tmp_path, limit="0.5 core (cgroup quota, 10 ms period)", slo=250, targets=TARGETS):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({
        "environment": {"CPU limit of the system under test": limit},
        "capacity_runs": {t: {"capacity": {"rps": rps}, "slo": {"latency_ms": slo}}
                          for t, rps in zip(targets, (535.0, 215.0))}}))
    return path


def test_the_capacities_and_their_runs_are_taken(tmp_path):
    runs, capacities = earlier_capacities(summary(tmp_path), TARGETS, 250, 0.5)
    assert capacities == {"monolith": 535.0, "microservices": 215.0}
    assert set(runs) == set(TARGETS) and runs["monolith"]["capacity"]["rps"] == 535.0


def test_only_the_asked_targets(tmp_path):
    runs, capacities = earlier_capacities(summary(tmp_path), ["microservices"], 250, 0.5)
    assert capacities == {"microservices": 215.0} and list(runs) == ["microservices"]


@pytest.mark.parametrize("kwargs, args, says", [
    ({"limit": "1 core (cgroup quota, 10 ms period)"}, (250, 0.5), "CPU limit"),
    ({"limit": "none: not root"}, (250, 0.5), "CPU limit"),
    ({}, (250, None), "CPU limit"),
    ({"slo": 100}, (250, 0.5), "SLO of 100"),
    ({"targets": ["monolith"]}, (250, 0.5), "no capacity test of microservices"),
])
def test_a_capacity_measured_another_way_is_refused(tmp_path, kwargs, args, says):
    with pytest.raises(SystemExit, match=says):
        earlier_capacities(summary(tmp_path, **kwargs), TARGETS, *args)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="no such file"):
        earlier_capacities(tmp_path / "nope.json", TARGETS, 250, 0.5)
