"""The headless comparison (`make compare QUICK=1`), run once in its quick form: each
deployment's capacity measured with the open-model step test, then the same spike on each
(sized from those capacities, so it overloads at least one of them), then report.html,
summary.json, the raw CSVs and a table in the terminal. It runs alongside the fault
scenarios (tests/load/conftest.py)."""
import json
import re
from pathlib import Path

import pytest

from loadtests import compare

TARGETS = ["monolith", "microservices"]


@pytest.fixture(scope="module")
def comparison(quick_comparisons):
    proc, out = quick_comparisons["spike"]
    return out, proc


def logs(out: Path) -> str:
    parts = []
    for log in sorted((out / "logs").glob("*.log")):
        parts.append(f"--- {log.name}\n{log.read_text()[-3000:]}")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def finished(comparison):
    out, proc = comparison
    assert proc.returncode == 0, (f"exit code {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\n"
                                  f"stderr:\n{proc.stderr[-6000:]}\n{logs(out)}")
    return out, proc


@pytest.fixture(scope="module")
def summary(finished) -> dict:
    out, _ = finished
    return json.loads((out / "summary.json").read_text())


def test_exits_cleanly(finished):
    out, proc = finished
    assert proc.returncode == 0


def test_report_mentions_both_targets(finished):
    out, _ = finished
    report = out / "report.html"
    assert report.is_file()
    html = report.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    lowered = html.lower()
    for target in TARGETS:
        assert target in lowered, f"report.html does not mention the {target}"


def test_summary_has_a_run_of_each_target(summary):
    assert set(summary) >= {"environment", "headline", "runs"}
    assert sorted(summary["runs"]) == sorted(TARGETS)
    for target in TARGETS:
        runs = summary["runs"][target]
        assert len(runs) == 1, f"{target}: one repeat expected, got {len(runs)}"
        run = runs[0]
        assert run["target"] == target
        assert run["shape"] == "spike"
        assert run["totals"]["all"]["requests"] > 0, f"{target}: no requests"
        assert run["totals"]["spike"]["requests"] > 0, f"{target}: no requests during the spike"
        assert run["peak_users"] > 0
        assert [p["name"] for p in run["phases"]] == ["baseline", "spike", "after"]
        assert run["timeline"], f"{target}: empty timeline"
        assert summary["headline"][target]["repeats"] == 1
        assert summary["headline"][target]["Requests/s, whole run"]["median"] > 0


def test_summary_has_resources_of_each_deployment(summary):
    for target in TARGETS:
        resources = summary["runs"][target][0]["resources"]
        assert resources["cpu_seconds"] > 0, f"{target}: {resources['cpu_seconds']} CPU seconds"
        assert resources["peak_rss_mb"] > 0, f"{target}: peak RSS {resources['peak_rss_mb']} MB"
        assert resources["cpu_ms_per_request"] > 0
        assert resources["processes"], f"{target}: no processes sampled"
        assert all(p["pid"] > 0 for p in resources["processes"])


def test_the_spike_was_sized_from_the_measured_capacities(summary):
    # On a busy machine a deployment may hold not even the first step: it then counts as the
    # step below it (compare.spike_schedule).
    below_first = compare.CAPACITY_QUICK["ramp-start-rps"] / compare.CAPACITY_QUICK["ramp-factor"]
    capacities = {t: summary["capacity_runs"][t]["capacity"]["rps"] or below_first for t in TARGETS}
    options = [summary["runs"][t][0]["shape_options"] for t in TARGETS]
    assert options[0]["baseline_rps"] == options[1]["baseline_rps"] == round(0.25 * min(capacities.values()), 1)
    assert options[0]["peak_rps"] == options[1]["peak_rps"] == round(
        min(10 * options[0]["baseline_rps"], 2 * max(capacities.values())), 1)
    for t in TARGETS:
        assert summary["runs"][t][0]["capacity_rps"] == summary["capacity_runs"][t]["capacity"]["rps"]


def test_overload_fails_only_the_graceful_way(summary):
    """The spike may overload a deployment; then what it cannot serve is shed, answered
    unavailable (a dependency shed it) or times out, but the journeys never make a client
    error, no connection is refused or reset, and nothing answers a 500."""
    for target in TARGETS:
        errors = summary["runs"][target][0]["totals"]["all"].get("errors") or {}
        assert not errors.get("4xx"), (target, errors)
        assert set(errors) <= {"shed", "unavailable", "timeout"}, (target, errors)
        per_endpoint = {n: e["all"].get("errors") for n, e in summary["runs"][target][0]["endpoints"].items()
                        if e["all"].get("errors")}
        assert all(set(e) <= {"shed", "unavailable", "timeout"} for e in per_endpoint.values()), json.dumps(per_endpoint)


def test_raw_csvs_are_kept(finished):
    out, _ = finished
    history = sorted(p.name for p in (out / "raw").glob("*_stats_history.csv"))
    assert history == sorted([f"{t}-1_stats_history.csv" for t in TARGETS]
                             + [f"{t}-capacity_stats_history.csv" for t in TARGETS])
    for target in TARGETS:
        lines = (out / "raw" / f"{target}-1_stats_history.csv").read_text().splitlines()
        assert lines[0].startswith("Timestamp,User Count,Type,Name"), lines[0]
        assert any(",Aggregated," in line for line in lines[1:]), f"{target}: no Aggregated rows"
        assert (out / "raw" / f"{target}-1_stats.csv").is_file()
        assert (out / "runs" / f"{target}-1.json").is_file()


def test_terminal_shows_progress_and_the_table(finished):
    out, proc = finished
    text = proc.stdout
    assert text.startswith("measuring each deployment's capacity"), text[:300]
    assert "comparing monolith, microservices: spike (open model, spike shape)" in text, text[:1500]
    for target in TARGETS:
        assert re.search(rf"^  {target}: capacity ([\d.]+|None) req/s", text, re.M), text[:2000]
        progress = [line for line in text.splitlines() if re.match(rf"\s+{target}-1\s+\[[# ]{{20}}\]", line)]
        assert progress, f"no progress lines for {target}:\n{text}"
        assert all("SUT CPU" in line for line in progress)
        assert any("offered" in line and "good" in line and "p95" in line for line in progress), progress
    # the report's headline table as text: a row per number, a column per deployment
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines)
                   if line.split()[:4] == ["monolith", "microservices", "ratio", "better"]), None)
    assert header is not None, f"no table header in:\n{text}"
    rows = lines[header + 1:]
    whole_run = next((line for line in rows if line.startswith("Requests/s, whole run")), None)
    assert whole_run, lines[header:header + 40]
    mono_rps, micro_rps = (float(v.replace(",", "")) for v in re.findall(r"\s([\d.,]+)(?=\s)", whole_run + " ")[:2])
    assert mono_rps > 0 and micro_rps > 0, whole_run
    assert any(line.startswith("p95 ms, whole run") for line in rows), rows
    assert any(line.startswith("CPU seconds") for line in rows), rows
    assert f"report: {out / 'report.html'}" in text
    assert f"summary: {out / 'summary.json'}" in text
