"""`make compare SCENARIO=autoscale QUICK=1`, end to end: each deployment on the node in a box
(each deployable in its own cgroup, sized by deploy/k8s, limit = request), the same spike with
the replicas fixed at their minimum and with the HPA, the verdicts, the report's node section
and the audit. It runs alongside the other quick comparisons (tests/load/conftest.py), so no
number is asserted."""
import json

import pytest

from loadtests import cgroups, manifests

REASON = cgroups.unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"the node in a box needs cgroups: {REASON}")
TARGETS = ("monolith", "microservices")


@pytest.fixture(scope="module")
def result(quick_comparisons):
    proc, out = quick_comparisons["autoscale"]
    assert proc.returncode == 0, f"exited with {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return json.loads((out / "summary.json").read_text()), out


@pytest.mark.parametrize("target", TARGETS)
def test_each_deployable_ran_in_its_own_group_sized_by_the_manifests(result, target):
    summary, _ = result
    deployables = manifests.read(target)
    for mode, run in (("autoscaled", summary["runs"][target][0]), ("fixed", summary["fixed_runs"][target][0])):
        node = run["node"]
        assert node["autoscale"] is (mode == "autoscaled")
        assert set(node["deployables"]) == set(deployables), mode
        for name, d in node["deployables"].items():
            assert d["cpu_request_cores"] == deployables[name].resources.cpu_request_m / 1000
            assert d["start_replicas"] == deployables[name].min_replicas
        if mode == "fixed":
            assert all(d["peak_replicas"] == d["start_replicas"] for d in node["deployables"].values())
            assert node["events"] == []
        assert node["timeline"] and all("cpu_allocated" in row for row in node["timeline"])


def test_the_verdicts_compare_both_and_the_report_shows_the_node(result):
    summary, out = result
    values = {v["measure"]: v["values"] for v in summary["verdicts"]}
    for measure in ("CPU allocated at the minimum replicas (cores)", "CPU core-seconds allocated over the run (the cost)",
                    "seconds the SLO was broken, autoscaled", "seconds the SLO was broken, fixed at the minimum replicas"):
        assert all(isinstance(values[measure][t], (int, float)) for t in TARGETS), (measure, values[measure])
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "The node in a box" in html and "data:image/png;base64," in html


@pytest.mark.parametrize("target", TARGETS)
def test_the_books_are_consistent_after_every_run(result, target):
    summary, _ = result
    for run in (summary["runs"][target][0], summary["fixed_runs"][target][0]):
        assert run["audit"]["ok"], run["audit"]["findings"]
        assert all(run["audit"]["health"].values()), run["audit"]["health"]
