"""The README's verdict table (loadtests/verdicts.py): medians with the spread of the repeats,
and how many repeats agree with the verdict on the medians."""
import json

from loadtests import verdicts
from loadtests.scenarios import SCENARIOS


def _run(spike_p95: float, cpu_ms: float) -> dict:
    return {"totals": {"spike": {"p95_ms": spike_p95, "error_pct": 0.0}}, "recovery_s": 0.0,
            "resources": {"cpu_ms_per_request": cpu_ms, "peak_rss_mb": 100.0}}


def _summary(mono: list[tuple], micro: list[tuple]) -> dict:
    runs = {"monolith": [_run(*m) for m in mono], "microservices": [_run(*m) for m in micro]}
    return {"scenario": "spike-scaled", "runs": runs, "verdicts": SCENARIOS["spike-scaled"].verdicts(runs)}


def test_a_row_shows_the_median_and_the_spread_of_the_repeats():
    summary = _summary(mono=[(10, 1.0), (30, 1.1), (20, 0.9)], micro=[(50, 2.0), (70, 2.2), (60, 2.1)])
    p95 = next(r for r in verdicts.rows(summary) if r["measure"].startswith("p95"))
    assert p95["monolith"] == "20 (10–30)"
    assert p95["microservices"] == "60 (50–70)"
    assert p95["better"] == "monolith"
    assert p95["agreeing"] == "3 of 3"


def test_a_verdict_that_flips_between_repeats_says_so():
    # repeat 2 alone would favour the microservices; the medians still favour the monolith
    summary = _summary(mono=[(10, 1.0), (90, 1.0), (12, 1.0)], micro=[(50, 1.0), (40, 1.0), (60, 1.0)])
    p95 = next(r for r in verdicts.rows(summary) if r["measure"].startswith("p95"))
    assert p95["better"] == "monolith"
    assert p95["agreeing"] == "2 of 3"
    cpu = next(r for r in verdicts.rows(summary) if r["measure"].startswith("CPU"))
    assert cpu["monolith"] == "1" and cpu["better"] == "neither (within noise)"


def test_the_command_prints_one_markdown_row_per_verdict(tmp_path, capsys):
    path = tmp_path / "summary.json"
    summary = _summary(mono=[(10, 1.0)], micro=[(50, 2.0)])
    path.write_text(json.dumps(summary))
    assert verdicts.main([str(path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| scenario |")
    assert len(lines) == 2 + len(summary["verdicts"])
    assert all(line.startswith("| `spike-scaled` |") for line in lines[2:])


def test_a_missing_summary_is_an_error(tmp_path, capsys):
    assert verdicts.main([str(tmp_path / "nope.json")]) == 2
    assert "no such summary" in capsys.readouterr().err


def test_a_repeat_without_a_number_is_shown_and_counts_as_the_worst():
    # "seconds to recover" is missing (never recovered) in 2 of 3 microservices repeats: the
    # median is "none", not the one repeat that recovered.
    summary = _summary(mono=[(10, 1.0)] * 3, micro=[(50, 2.0)] * 3)
    for run, value in zip(summary["runs"]["microservices"], [5.0, None, None]):
        run["recovery_s"] = value
    recovery = next(r for r in verdicts.rows(summary) if r["measure"].startswith("seconds to recover"))
    assert recovery["microservices"] == "-, none in 2 of 3"
    assert recovery["better"] == "monolith"


def test_runs_without_verdicts_are_skipped(tmp_path, capsys):
    ramp = {"environment": {"shape": "ramp"}, "runs": {"monolith": [], "microservices": []}}
    assert verdicts.rows(ramp) == []
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(ramp))
    assert verdicts.main([str(path)]) == 0
    out = capsys.readouterr()
    assert "skipped" in out.err and out.out.count("\n") == 2  # the header only
