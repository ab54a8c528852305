"""loadtests.summary: raw samples (t, name, response_ms, failed) -> the numbers a run is judged by.

Pure functions, so every expected value below is worked out by hand from synthetic samples."""
import pytest

from loadtests import summary
from loadtests.summary import percentile, recovery_seconds, stats, summarize, timeline


# -- percentile ---------------------------------------------------------------------------------
@pytest.mark.parametrize("values, pct, expected", [
    ([1, 2, 3, 4, 5], 50, 3),      # rank ceil(2.5) = 3
    ([1, 2, 3, 4, 5], 95, 5),      # rank ceil(4.75) = 5
    ([1, 2, 3, 4, 5], 20, 1),      # rank exactly 1
    ([1, 2, 3, 4, 5], 21, 2),      # just over a rank boundary goes up
    ([1, 2, 3, 4, 5], 0, 1),       # never below the first value
    ([1, 2, 3, 4, 5], 100, 5),
    ([10, 20, 30, 40], 50, 20),    # nearest rank, not interpolated (would be 25)
    ([10, 20, 30, 40], 75, 30),
    ([10, 20, 30, 40], 76, 40),
    ([7.5], 99, 7.5),
    (list(range(1, 101)), 95, 95),
    (list(range(1, 101)), 99, 99),
    (list(range(1, 21)), 95, 19),
    (list(range(1, 1001)), 99, 990),
])
def test_percentile_is_nearest_rank(values, pct, expected):
    assert percentile(values, pct) == expected


def test_percentile_of_nothing_is_none():
    assert percentile([], 50) is None
    assert percentile([], 99) is None


# -- stats --------------------------------------------------------------------------------------
def test_stats_counts_failures_rate_and_percentiles():
    samples = [(0.1, "a", 10.0, False), (0.2, "a", 30.0, True), (0.3, "b", 20.0, False),
               (1.5, "b", 40.0, True)]
    s = stats(samples, 2.0)
    assert s == {"requests": 4, "failures": 2, "error_pct": 50.0, "rps": 2.0, "p50_ms": 20.0,
                 "p95_ms": 40.0, "p99_ms": 40.0, "avg_ms": 25.0, "max_ms": 40.0}


def test_stats_rounds_error_pct_and_rps():
    samples = [(0, "a", 1.0, i == 0) for i in range(3)]
    s = stats(samples, 7.0)
    assert s["error_pct"] == 33.333
    assert s["rps"] == 0.43


def test_stats_of_nothing():
    assert stats([], 10.0) == {"requests": 0, "failures": 0, "error_pct": 0.0, "rps": 0.0,
                               "p50_ms": None, "p95_ms": None, "p99_ms": None, "avg_ms": None,
                               "max_ms": None}


def test_stats_with_no_duration_has_zero_rps():
    assert stats([(0, "a", 5.0, False)], 0)["rps"] == 0.0
    assert stats([(0, "a", 5.0, False)], -3)["rps"] == 0.0


# -- timeline -----------------------------------------------------------------------------------
def test_timeline_buckets_per_second_and_carries_users_forward():
    samples = [(0.1, "a", 10.0, False), (0.9, "a", 30.0, True),
               (2.0, "a", 50.0, False), (2.99, "b", 70.0, False), (2.5, "b", 60.0, True)]
    users = [(0.0, 0), (1.0, 4), (2.3, 8)]
    rows = timeline(samples, users, 4.0)
    assert [r["t"] for r in rows] == [0, 1, 2, 3]
    assert [r["users"] for r in rows] == [0, 4, 8, 8]     # second 3 has no sample: carried
    assert [r["rps"] for r in rows] == [2, 0, 3, 0]
    assert [r["fails"] for r in rows] == [1, 0, 1, 0]
    assert rows[0]["p50_ms"] == 10.0 and rows[0]["p95_ms"] == 30.0
    assert rows[1]["p50_ms"] is None and rows[1]["p95_ms"] is None and rows[1]["p99_ms"] is None
    assert (rows[2]["p50_ms"], rows[2]["p95_ms"], rows[2]["p99_ms"]) == (60.0, 70.0, 70.0)


def test_timeline_users_before_the_first_count_are_zero():
    rows = timeline([], [(1.2, 3), (1.8, 5)], 3.0)
    assert [r["users"] for r in rows] == [0, 5, 5]       # the last count within the second wins


def test_timeline_rounds_duration_up_and_drops_samples_outside():
    samples = [(0.5, "a", 1.0, False), (2.4, "a", 1.0, False), (3.0, "a", 1.0, False)]
    rows = timeline(samples, [], 2.2)
    assert len(rows) == 3                                # ceil(2.2)
    assert [r["rps"] for r in rows] == [1, 0, 1]         # t=3.0 is past the end


def test_timeline_has_at_least_one_row():
    rows = timeline([], [], 0)
    assert len(rows) == 1 and rows[0]["rps"] == 0 and rows[0]["users"] == 0


# -- recovery_seconds ---------------------------------------------------------------------------
def _rows(p95s, fails=None, start=0):
    fails = fails or [0] * len(p95s)
    return [{"t": start + i, "users": 1, "rps": 0 if p is None else 1, "fails": f,
             "p50_ms": p, "p95_ms": p, "p99_ms": p} for i, (p, f) in enumerate(zip(p95s, fails))]


def test_recovery_after_some_seconds():
    # baseline p95 10 ms: the limit is max(15, 30) = 30 ms
    rows = _rows([10] * 10 + [200, 200, 31, 30, 30, 30, 30, 30, 10])   # 31 ms is still too slow
    assert recovery_seconds(rows, 10.0, 10) == 3.0


def test_recovery_immediately_is_zero():
    rows = _rows([10] * 10 + [12] * 6)
    assert recovery_seconds(rows, 10.0, 10) == 0.0


def test_recovery_limit_is_one_and_a_half_times_a_large_baseline():
    rows = _rows([100] * 10 + [151] + [150] * 5)         # limit max(150, 120) = 150
    assert recovery_seconds(rows, 100.0, 10) == 1.0


def test_recovery_needs_five_good_seconds_in_a_row():
    assert summary.RECOVERY_WINDOW_S == 5
    rows = _rows([10] * 10 + [10, 10, 10, 10, 500, 10, 10, 10, 10])   # never 5 in a row
    assert recovery_seconds(rows, 10.0, 10) is None


def test_errors_block_recovery():
    rows = _rows([10] * 16, fails=[0] * 10 + [1, 0, 0, 0, 0, 0])
    assert recovery_seconds(rows, 10.0, 10) == 1.0
    rows = _rows([10] * 15, fails=[0] * 10 + [0, 0, 1, 0, 0])
    assert recovery_seconds(rows, 10.0, 10) is None


def test_never_recovers_is_none():
    rows = _rows([10] * 10 + [400] * 20)
    assert recovery_seconds(rows, 10.0, 10) is None


def test_no_baseline_means_no_recovery():
    assert recovery_seconds(_rows([10] * 30), None, 10) is None


def test_seconds_without_requests_are_not_judged():
    rows = _rows([10] * 10 + [500, None, None, 10, 10, 10, 10, 10])
    assert recovery_seconds(rows, 10.0, 10) == 3.0


# -- summarize: a spike run with known answers --------------------------------------------------
SPIKE_PHASES = [{"name": "baseline", "start": 0, "end": 10}, {"name": "spike", "start": 10, "end": 15},
                {"name": "after", "start": 15, "end": 30}]


def spike_samples(slow_after_until=20):
    """Two requests a second for 30 s: "A" at t+0.1, "B" at t+0.6.

    10 ms normally; 100 ms during the spike (where every "B" fails) and after it until
    `slow_after_until`."""
    out = []
    for t in range(30):
        slow = 10 <= t < slow_after_until
        out.append((t + 0.1, "A", 100.0 if slow else 10.0, False))
        out.append((t + 0.6, "B", 100.0 if slow else 10.0, 10 <= t < 15))
    return out


USERS = [(float(t), 4 if t < 10 or t >= 15 else 40) for t in range(30)]


def test_summarize_spike_run():
    meta = {"target": "monolith", "shape": "spike"}
    r = summarize(list(reversed(spike_samples())), USERS, SPIKE_PHASES, 30.0, meta)
    assert r["target"] == "monolith" and r["shape"] == "spike"
    assert r["duration_s"] == 30.0
    assert r["phases"] == SPIKE_PHASES
    assert r["peak_users"] == 40
    t = r["totals"]
    assert set(t) == {"all", "baseline", "spike", "after", "outside_spike"}
    assert t["all"] == {"requests": 60, "failures": 5, "error_pct": 8.333, "rps": 2.0, "p50_ms": 10.0,
                        "p95_ms": 100.0, "p99_ms": 100.0, "avg_ms": 40.0, "max_ms": 100.0}
    assert t["baseline"]["requests"] == 20 and t["baseline"]["rps"] == 2.0
    assert t["baseline"]["p95_ms"] == 10.0 and t["baseline"]["failures"] == 0
    assert t["spike"] == {"requests": 10, "failures": 5, "error_pct": 50.0, "rps": 2.0, "p50_ms": 100.0,
                          "p95_ms": 100.0, "p99_ms": 100.0, "avg_ms": 100.0, "max_ms": 100.0}
    assert t["after"]["requests"] == 30 and t["after"]["rps"] == 2.0 and t["after"]["failures"] == 0
    assert t["after"]["p50_ms"] == 10.0 and t["after"]["p95_ms"] == 100.0
    # everything but the spike: 50 requests over 25 s, none failed
    assert t["outside_spike"]["requests"] == 50
    assert t["outside_spike"]["rps"] == 2.0
    assert t["outside_spike"]["failures"] == 0
    assert set(r["endpoints"]) == {"A", "B"}
    assert r["endpoints"]["A"]["all"]["requests"] == 30 and r["endpoints"]["A"]["all"]["rps"] == 1.0
    assert r["endpoints"]["A"]["spike"]["failures"] == 0
    assert r["endpoints"]["B"]["spike"] == {**t["spike"], "requests": 5, "failures": 5, "error_pct": 100.0,
                                            "rps": 1.0}
    assert r["endpoints"]["B"]["outside_spike"]["requests"] == 25
    assert len(r["timeline"]) == 30
    assert r["timeline"][12] == {"t": 12, "users": 40, "rps": 2, "fails": 1, "p50_ms": 100.0,
                                 "p95_ms": 100.0, "p99_ms": 100.0}
    # baseline judged from WARMUP_SKIP_S (5) to the spike: 10 ms; slow until t=20 -> 5 s after
    assert r["baseline_p95_ms"] == 10.0
    assert r["recovery_s"] == 5.0
    assert "recovery_note" not in r
    assert "steps" not in r


def test_summarize_spike_that_never_recovers():
    r = summarize(spike_samples(slow_after_until=30), USERS, SPIKE_PHASES, 30.0, {})
    assert r["recovery_s"] is None
    assert r["recovery_note"] == "did not recover within the run"


def test_summarize_spike_with_too_short_a_baseline():
    phases = [{"name": "baseline", "start": 0, "end": 4}, {"name": "spike", "start": 4, "end": 8},
              {"name": "after", "start": 8, "end": 30}]
    assert phases[1]["start"] <= summary.WARMUP_SKIP_S
    r = summarize(spike_samples(), USERS, phases, 30.0, {})
    assert r["baseline_p95_ms"] is None
    assert r["recovery_s"] is None
    assert r["recovery_note"] == "baseline too short to measure"


def test_summarize_ignores_warmup_seconds_for_the_baseline():
    samples = [(t + 0.5, "A", 900.0 if t < summary.WARMUP_SKIP_S else 10.0, False) for t in range(30)]
    r = summarize(samples, [], SPIKE_PHASES, 30.0, {})
    assert r["baseline_p95_ms"] == 10.0
    assert r["totals"]["baseline"]["p95_ms"] == 900.0       # the phase itself keeps them
    assert r["recovery_s"] == 0.0


def test_summarize_clamps_phases_to_the_run():
    # The run stopped at 12 s, in the middle of the spike.
    samples = [(t + 0.5, "A", 10.0, False) for t in range(12)]
    r = summarize(samples, [(0.0, 2)], SPIKE_PHASES, 12.0, {})
    assert r["totals"]["spike"]["requests"] == 2 and r["totals"]["spike"]["rps"] == 1.0
    assert r["totals"]["after"]["requests"] == 0 and r["totals"]["after"]["rps"] == 0.0
    assert r["totals"]["outside_spike"]["requests"] == 10 and r["totals"]["outside_spike"]["rps"] == 1.0


def test_summarize_without_phases():
    samples = [(0.5, "A", 5.0, False), (1.5, "B", 15.0, True)]
    r = summarize(samples, [], [], 2.0, {"shape": "manual"})
    assert set(r["totals"]) == {"all"}
    assert r["totals"]["all"]["requests"] == 2 and r["totals"]["all"]["failures"] == 1
    assert r["peak_users"] == 0
    assert "recovery_s" not in r and "baseline_p95_ms" not in r and "steps" not in r


def test_summarize_empty_run():
    r = summarize([], [], SPIKE_PHASES, 30.0, {})
    assert r["totals"]["all"]["requests"] == 0
    assert r["endpoints"] == {}
    assert r["recovery_s"] is None
    assert r["recovery_note"] == "baseline too short to measure"


# -- summarize: ramp steps, judged on their second half -----------------------------------------
RAMP_PHASES = [{"name": "5 users", "start": 0, "end": 10, "users": 5},
               {"name": "20 users", "start": 10, "end": 20, "users": 20},
               {"name": "35 users", "start": 20, "end": None, "users": 35}]


def test_ramp_steps_are_judged_on_their_second_half():
    samples = []
    for t in range(25):
        first_half = (t % 10) < 5
        # Slow and failing while users arrive; fast once they have all arrived.
        samples.append((t + 0.5, "A", 500.0 if first_half else 10.0 * (1 + t // 10), first_half))
        if not first_half and t < 20:
            samples.append((t + 0.7, "B", 10.0 * (1 + t // 10), False))
    r = summarize(samples, [(0.0, 5), (10.0, 20), (20.0, 35)], RAMP_PHASES, 25.0, {"shape": "ramp"})
    steps = r["steps"]
    assert [s["users"] for s in steps] == [5, 20]        # the unfinished last step is left out
    assert steps[0] == {"users": 5, "requests": 10, "failures": 0, "error_pct": 0.0, "rps": 2.0,
                        "p50_ms": 10.0, "p95_ms": 10.0, "p99_ms": 10.0, "avg_ms": 10.0, "max_ms": 10.0}
    assert steps[1]["requests"] == 10 and steps[1]["failures"] == 0 and steps[1]["p95_ms"] == 20.0
    # the phases themselves cover whole steps (and the open one runs to the end of the run)
    assert r["totals"]["5 users"]["requests"] == 15 and r["totals"]["5 users"]["failures"] == 5
    assert r["totals"]["35 users"]["requests"] == 5 and r["totals"]["35 users"]["rps"] == 1.0
    assert r["peak_users"] == 35
    assert "recovery_s" not in r and "outside_spike" not in r["totals"]


def test_ramp_step_with_odd_bounds_uses_its_midpoint():
    phases = [{"name": "3 users", "start": 1.0, "end": 4.0, "users": 3}]
    samples = [(2.4, "A", 99.0, False), (2.5, "A", 1.0, False), (3.9, "A", 2.0, False),
               (4.0, "A", 3.0, False)]
    r = summarize(samples, [], phases, 5.0, {})
    assert r["steps"] == [{"users": 3, "requests": 2, "failures": 0, "error_pct": 0.0, "rps": 1.33,
                           "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 2.0, "avg_ms": 1.5, "max_ms": 2.0}]
