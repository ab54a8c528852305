"""Every fault scenario of `make compare SCENARIO=... QUICK=1`, end to end: both deployments
started fresh, the fault injected mid-run, the verdicts computed, the books audited. (The
plain spike runs in test_compare_quick.py.)

They run at the same time as the spike's quick comparison (tests/load/conftest.py): they
share the CPUs, so their numbers mean nothing here, and none is asserted. What is checked is that
each scenario does what it says: its actions fired at the fault's start and end without
failing, every verdict has a number for both deployments, and the audit found the books
consistent after the faults."""
import json
import shutil

import pytest

from loadtests import compare
from loadtests.scenarios import SCENARIOS
from loadtests.sut import SUTS

NAMES = ["spike-scaled", "slow-payment", "billing-down", "redeploy"]
# Measures that may honestly have no number in a quick run (nothing to recover from in time).
MAY_BE_EMPTY = {"seconds until checkout works again after billing is back", "seconds to recover after the spike (back to baseline p95, no errors: the drain time)",
                "seconds after the overload until p95 is back to the baseline with no errors (drain time)"}


def finished(quick_comparisons, name: str) -> tuple[str, dict, object]:
    proc, out = quick_comparisons[name]
    assert proc.returncode == 0, (f"{name} exited with {proc.returncode}:\n{proc.stdout[-4000:]}\n"
                                  f"{proc.stderr[-4000:]}")
    return name, json.loads((out / "summary.json").read_text()), out


@pytest.fixture(params=NAMES)
def scenario(request, quick_comparisons):
    return finished(quick_comparisons, request.param)


def test_report_leads_with_the_verdict(scenario):
    name, summary, out = scenario
    html = (out / "report.html").read_text(encoding="utf-8")
    assert f"Claim: {SCENARIOS[name].claim}" in html
    # a QUICK run is a smoke run: marked so at the top, and its verdict gives no answer
    assert html.index('id="smoke"') < html.index('id="verdict"') < html.index('id="headline"')
    assert "No answer from a smoke run" in html
    assert summary["scenario"] == name


def test_every_verdict_has_numbers_for_both(scenario):
    name, summary, _ = scenario
    assert summary["verdicts"], f"{name} has no verdicts"
    for v in summary["verdicts"]:
        if v["measure"] in MAY_BE_EMPTY:
            continue
        for target in ("monolith", "microservices"):
            assert isinstance(v["values"].get(target), (int, float)), (name, v)
        assert v["better"] in ("monolith", "microservices", "neither (within noise)"), v


def test_the_faults_fired_on_time_and_did_not_fail(scenario):
    name, summary, _ = scenario
    wanted = SCENARIOS[name].actions
    for target, runs in summary["runs"].items():
        events = runs[0]["events"]
        assert [e["label"] for e in events] == [a.label for a in wanted.get(target, [])], (target, events)
        for event in events:
            assert "error" not in event, (target, event)
        phases = {p["name"]: p for p in runs[0]["phases"]}
        for event, action in zip(events, wanted.get(target, [])):
            # fired at its phase boundary (polled every 0.25 s; a loaded machine may lag a little)
            assert phases[action.at]["start"] <= event["t"] <= phases[action.at]["start"] + 3, (target, event)


def test_the_books_are_consistent_after_the_faults(scenario):
    name, summary, _ = scenario
    for target, runs in summary["runs"].items():
        audit = runs[0]["audit"]
        assert audit["ok"], (name, target, audit["findings"])


def test_every_process_answers_after_the_run(scenario):
    # A service that was stopped and started again (billing-down, redeploy) must be serving
    # again at the end, not merely started: once, a restarted service died at once unseen.
    name, summary, _ = scenario
    for target, runs in summary["runs"].items():
        health = runs[0]["audit"]["health"]
        assert set(health) == set(SUTS[target].processes), (name, target, health)
        assert all(health.values()), (name, target, health)


def test_a_report_can_be_rebuilt_from_its_summary(quick_comparisons, tmp_path):
    # `compare --rebuild`: the verdicts recomputed and the report rewritten, no load run
    name, summary, out = finished(quick_comparisons, "billing-down")
    copy = tmp_path / name
    shutil.copytree(out, copy)
    (copy / "report.html").unlink()
    (copy / "summary.json").write_text(json.dumps({**summary, "verdicts": []}))
    assert compare.main(["--rebuild", str(copy)]) == 0
    rebuilt = json.loads((copy / "summary.json").read_text())
    assert rebuilt["verdicts"] == summary["verdicts"]
    assert "Claim: " in (copy / "report.html").read_text(encoding="utf-8")


def test_scaled_budget_is_the_same_for_both(quick_comparisons):
    _, summary, _ = finished(quick_comparisons, "spike-scaled")
    env = summary["environment"]
    mono = int(env["workers: monolith/monolith"].split()[0])
    micro = sum(int(v.split()[0]) for k, v in env.items() if k.startswith("workers: microservices/"))
    assert mono == micro == 12
