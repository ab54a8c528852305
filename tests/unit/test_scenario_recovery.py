"""When checkout counts as working again after a fault (loadtests/scenarios.py): its first
success after the fault that no failure follows for RECOVERY_CLEAN_S seconds."""
from loadtests.scenarios import CHECKOUT, RECOVERY_CLEAN_S, recovery_seconds


def _run(rows: list[tuple[int, int]]) -> dict:
    return {"endpoint_seconds": {CHECKOUT: [list(r) for r in rows]}}


def test_sparse_successes_after_the_fault_count_from_the_first_one():
    # one checkout every 2-3 s, as in the scenarios: recovered at the first success (t=62)
    rows = [(0, 1)] * 60 + [(0, 0), (0, 0), (1, 0), (0, 0), (0, 0), (1, 0), (0, 0), (1, 0)] + [(0, 0)] * 20
    assert recovery_seconds(_run(rows), CHECKOUT, 60.0) == 2.0


def test_a_success_followed_by_a_failure_is_not_yet_recovered():
    rows = [(0, 1)] * 60 + [(1, 0), (0, 0), (0, 1), (0, 0), (1, 0)] + [(0, 0)] * 20
    assert recovery_seconds(_run(rows), CHECKOUT, 60.0) == 4.0


def test_a_second_with_both_successes_and_failures_is_not_clean():
    rows = [(0, 1)] * 60 + [(2, 1), (1, 0)] + [(1, 0)] * 20
    assert recovery_seconds(_run(rows), CHECKOUT, 60.0) == 1.0


def test_no_clean_stretch_before_the_run_ends_is_no_number():
    rows = [(0, 1)] * 60 + [(0, 1)] * 10 + [(1, 0)] * (RECOVERY_CLEAN_S - 1)
    assert recovery_seconds(_run(rows), CHECKOUT, 60.0) is None


def test_failures_before_the_fault_ended_do_not_count():
    rows = [(1, 0)] * 30 + [(0, 5)] * 30 + [(1, 0)] * 30
    assert recovery_seconds(_run(rows), CHECKOUT, 60.0) == 0.0
