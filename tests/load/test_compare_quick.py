"""The headless comparison (`make compare QUICK=1`), run once in its quick form: both
deployments started fresh, the spike shape on each, then report.html, summary.json, the raw
CSVs and a table in the terminal. It runs alongside the fault scenarios (tests/load/conftest.py)."""
import json
import re
from pathlib import Path

import pytest

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
        assert summary["headline"][target]["rps"]["median"] > 0


def test_summary_has_resources_of_each_deployment(summary):
    for target in TARGETS:
        resources = summary["runs"][target][0]["resources"]
        assert resources["cpu_seconds"] > 0, f"{target}: {resources['cpu_seconds']} CPU seconds"
        assert resources["peak_rss_mb"] > 0, f"{target}: peak RSS {resources['peak_rss_mb']} MB"
        assert resources["cpu_ms_per_request"] > 0
        assert resources["processes"], f"{target}: no processes sampled"
        assert all(p["pid"] > 0 for p in resources["processes"])


def test_quick_run_has_no_failed_requests(summary):
    for target in TARGETS:
        totals = summary["runs"][target][0]["totals"]["all"]
        assert totals["failures"] == 0, (
            f"{target}: {totals['failures']} failed requests; per endpoint: "
            + json.dumps({n: e["all"]["failures"] for n, e in summary["runs"][target][0]["endpoints"].items()
                          if e["all"]["failures"]}))


def test_raw_csvs_are_kept(finished):
    out, _ = finished
    history = sorted(p.name for p in (out / "raw").glob("*_stats_history.csv"))
    assert history == sorted(f"{t}-1_stats_history.csv" for t in TARGETS)
    for target in TARGETS:
        lines = (out / "raw" / f"{target}-1_stats_history.csv").read_text().splitlines()
        assert lines[0].startswith("Timestamp,User Count,Type,Name"), lines[0]
        assert any(",Aggregated," in line for line in lines[1:]), f"{target}: no Aggregated rows"
        assert (out / "raw" / f"{target}-1_stats.csv").is_file()
        assert (out / "runs" / f"{target}-1.json").is_file()


def test_terminal_shows_progress_and_the_table(finished):
    out, proc = finished
    text = proc.stdout
    assert text.startswith("comparing monolith, microservices: spike (spike shape)"), text[:300]
    for target in TARGETS:
        progress = [line for line in text.splitlines() if re.match(rf"\s+{target}-1\s+\[[# ]{{20}}\]", line)]
        assert progress, f"no progress lines for {target}:\n{text}"
        assert all("req/s" in line and "p95" in line and "SUT CPU" in line for line in progress)
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if "req/s" in line and "peak RSS MB" in line
                   and "[" not in line), None)
    assert header is not None, f"no table header in:\n{text}"
    assert "p95 ms" in lines[header] and "CPU s" in lines[header]
    rows = {line.split()[0]: line.split()[1:] for line in lines[header + 1:header + 3]}
    assert sorted(rows) == sorted(TARGETS), lines[header:header + 3]
    for target, cells in rows.items():
        assert len(cells) == 10, f"{target}: {cells}"
        assert float(cells[0]) > 0, f"{target}: req/s {cells[0]}"
    assert f"report: {out / 'report.html'}" in text
    assert f"summary: {out / 'summary.json'}" in text
