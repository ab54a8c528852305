"""How two numbers are compared (loadtests/report_numbers.py): ratios, differences when a side
is 0, the verdicts' noise rule, and the one-sentence answer under a claim."""
import itertools

import pytest

from loadtests import report_numbers as n
from loadtests.scenarios import verdict


@pytest.mark.parametrize("base, other, kind, text", [
    (10.0, 21.0, "ms", "2.10×"),
    (0.0, 1.05, "pct", "+1.05 points"),          # not "0.00× (-100%)" the other way round
    (1.05, 0.0, "pct", "−1.05 points"),
    (0.0, 0.0, "pct", "both 0"),                 # not "1.00×"
    (0, 12, "ms", "+12.0 ms"),
    (0, 3, "count", "+3"),
    (None, 5.0, "ms", n.DASH),
    (5.0, float("nan"), "ms", n.DASH),
])
def test_ratio_text(base, other, kind, text):
    assert n.ratio_text(base, other, kind) == text


@pytest.mark.parametrize("base, other, kind, lower, floor", [
    (a, b, "ms", lower, floor) for a, b in itertools.product([0.0, 3.8, 8.4, 10.0, 11.9, 30.0, None], repeat=2)
    for lower in (True, False) for floor in (0.0, 5.0)])
def test_judge_is_the_verdicts_rule(base, other, kind, lower, floor):
    expected = verdict("", "", {"monolith": base, "microservices": other}, kind, lower_is_better=lower,
                       abs_noise=floor)["better"]
    assert n.judge(base, other, kind, lower, floor) == expected


def test_a_difference_under_the_floor_is_within_noise_even_when_the_ratio_is_large():
    row = n.Row(n.Metric("p95 ms", (), "ms", abs_noise=5), {"monolith": n.Cell([3.8], 1, 0),
                                                            "microservices": n.Cell([8.4], 1, 0)}, "2.21×",
                n.judge(3.8, 8.4, "ms", True, 5))
    sentence, small = n.compare_sentence(row)
    assert small and row.better == n.WITHIN_NOISE
    assert "under this measure's noise floor (5 ms)" in sentence


@pytest.mark.parametrize("wins, expected", [
    (["monolith", "neither (within noise)", "monolith"], "Not on this machine: the monolith did better on 2 of 3"),
    (["microservices", "neither (within noise)"], "Yes, on this machine: the microservices did better on 1 of 2"),
    (["microservices", "monolith"], "Mixed, on this machine"),
    (["neither (within noise)"] * 2, "No difference on this machine: all 2 measures were within noise"),
    (["-", "-"], "No answer"),
])
def test_the_answer_to_a_claim_says_what_was_measured(wins, expected):
    verdicts = [{"measure": f"measure {i}", "better": b} for i, b in enumerate(wins)]
    answer = n.verdict_answer(verdicts)
    assert answer.startswith(expected)
    for v in verdicts:
        if v["better"] in ("monolith", "microservices"):
            assert v["measure"] in answer


def test_a_smoke_run_gives_no_answer():
    answer = n.verdict_answer([{"measure": "m", "better": "monolith"}], quick=True)
    assert "No answer from a smoke run" in answer and "monolith" not in answer


def test_a_stopped_early_run_is_a_caveat():
    runs = {"monolith": [{"shape": "spike", "stopped_early": True}], "microservices": [{"shape": "spike"}]}
    assert any("Stopped early" in c and "monolith run 1" in c for c in n.caveats(runs))
