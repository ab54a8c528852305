"""`python -m loadtests.restart_timing`: restarts a real process of each deployment with and
without an idle kept-alive connection held, and prints both times (not asserted: timings live
in the README, not in pass/fail tests)."""
import re

import pytest

from loadtests import restart_timing


@pytest.mark.parametrize("target, process", [("monolith", "monolith"), ("microservices", "orders")])
def test_prints_both_cases_for_each_deployment(target, process, capsys):
    assert restart_timing.main(["--target", target, "--process", process, "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for case in ("no connection held", "an idle kept-alive connection held"):
        assert re.search(rf"{target}/{process}, {case}: median \d+\.\d\d s", out), out


def test_an_unknown_process_is_refused(capsys):
    assert restart_timing.main(["--target", "monolith", "--process", "orders"]) == 2
    assert "no process 'orders' in the monolith" in capsys.readouterr().err
