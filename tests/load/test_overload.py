"""Graceful overload, end to end (`make compare SCENARIO=overload QUICK=1` with explicit rates):
both deployments under a tenth of a core, offered 600 requests/s for a few seconds, with
admission control on and then off. They run alongside the other quick comparisons
(tests/load/conftest.py), so no number is asserted: what is checked is what each answer was.

With admission control on, what a deployment cannot serve in time is answered at once with
503 and Retry-After (the recorder names those "shed"), goodput is reported second by second,
and the books are consistent after the overload; with it off, nothing is ever shed."""
import json

import pytest

from loadtests import cgroups

REASON = cgroups.unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"overload needs a CPU limit: {REASON}")
TARGETS = ("monolith", "microservices")


def summary(quick_comparisons, name: str) -> dict:
    proc, out = quick_comparisons[name]
    assert proc.returncode == 0, f"{name} exited with {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def on(quick_comparisons):
    return summary(quick_comparisons, "overload")


@pytest.fixture(scope="module")
def off(quick_comparisons):
    return summary(quick_comparisons, "overload-off")


@pytest.mark.parametrize("target", TARGETS)
def test_past_capacity_requests_are_shed_at_once_with_503_and_retry_after(on, target):
    run = on["runs"][target][0]
    assert run["cpu_limit"]["cores"] == 0.1
    fault = run["totals"]["fault"]
    assert fault["offered_rps"] > 100                     # the load really was offered
    assert fault["errors"].get("shed", 0) > 0, fault["errors"]
    assert run["timings"] is not None
    shed_metric = sum(v for k, v in (run.get("resilience") or {}).get("admission_shed", {}).items())
    assert shed_metric > 0                                # the deployment counted them too


@pytest.mark.parametrize("target", TARGETS)
def test_goodput_is_reported_second_by_second_and_per_phase(on, target):
    run = on["runs"][target][0]
    assert all(isinstance(row.get("good"), int) and "offered" in row for row in run["timeline"])
    for phase in ("before", "fault", "after"):
        assert isinstance(run["totals"][phase]["goodput_rps"], float)
    assert sum(row["good"] for row in run["timeline"]) == run["totals"]["all"]["good"]


@pytest.mark.parametrize("target", TARGETS)
def test_the_books_are_consistent_after_the_overload(on, off, target):
    for result in (on, off):
        audit = result["runs"][target][0]["audit"]
        assert audit["ok"], audit["findings"]
        assert all(audit["health"].values()), audit["health"]


@pytest.mark.parametrize("target", TARGETS)
def test_without_admission_control_nothing_is_shed(off, target):
    run = off["runs"][target][0]
    assert run["totals"]["fault"]["offered_rps"] > 100
    assert run["totals"]["all"].get("errors", {}).get("shed", 0) == 0
    assert off["environment"]["admission control"] == "off"
