"""loadtests.summary for the open model: offered, answered, goodput, errors by kind, drops,
the load generator's own readings, SLO seconds and the capacity step test. Samples are
(t ended, name, latency ms, failed, outcome, t intended, lag ms); worked out by hand."""
from loadtests import summary
from loadtests.summary import load_seconds, slo_seconds, summarize


def s(t, ms, outcome="ok", name="A", lag=0.0):
    return (t, name, float(ms), outcome != "ok", outcome, t - ms / 1000, lag)


def test_each_second_counts_offered_answered_good_and_errors_by_kind():
    samples = [s(0.2, 10), s(0.5, 300), s(0.9, 5, "shed"), s(1.5, 20, "timeout"), s(1.6, 20, "5xx")]
    arrivals = [(0.1, 3, None), (0.7, 4, "in-flight limit"), (1.2, 3, None)]
    ticks = {"p1": [(0.99, 7, 35.0), (1.99, 2, 50.0)], "p2": [(0.5, 1, 80.0)]}
    rows = load_seconds(samples, arrivals, ticks, 2.0, slo_ms=250)
    first, second = rows
    assert first["answered"] == 3 and first["good"] == 1              # 300 ms is ok but over the SLO
    assert first["errors"] == {"shed": 1}
    assert first["offered"] == 3 + 4 and first["dropped"] == 4        # a dropped arrival's requests count
    assert first["dropped_why"] == {"in-flight limit": 4}
    assert first["in_flight"] == 7 + 1 and first["gen_cpu"] == 80.0   # summed, and the busiest process
    assert second["answered"] == 1 and second["errors"] == {"timeout": 1, "5xx": 1}
    assert second["offered"] == 2 and second["dropped"] == 0 and second["arrivals"] == 1


def test_offered_counts_each_request_at_its_intended_start():
    # It ended in second 3 after 2.5 s: it was offered in second 0.
    rows = load_seconds([s(3.0, 2500)], [], {}, 4.0, slo_ms=250)
    assert [r["offered"] for r in rows] == [1, 0, 0, 0] and rows[3]["answered"] == 1


def test_the_scheduled_rate_is_read_at_each_seconds_middle():
    rows = load_seconds([], [], {}, 3.0, 250, schedule=[(0, 10), (2, 30)])
    assert [r["scheduled"] for r in rows] == [15.0, 25.0, 30.0]   # 10 -> 30 over 2 s, then 30


def test_slo_seconds_are_p95_over_errors_over_or_drops():
    rows = [{"t": 0, "rps": 10, "fails": 0, "p95_ms": 100, "offered": 10},
            {"t": 1, "rps": 10, "fails": 0, "p95_ms": 300, "offered": 10},     # slow
            {"t": 2, "rps": 100, "fails": 2, "p95_ms": 10, "offered": 100},    # 2% errors
            {"t": 3, "rps": 10, "fails": 0, "p95_ms": 10, "offered": 10, "dropped": 3},
            {"t": 4, "rps": 0, "fails": 0, "p95_ms": None, "offered": 5},      # a stall
            {"t": 5, "rps": 0, "fails": 0, "p95_ms": None, "offered": 0}]      # idle is fine
    assert slo_seconds(rows, 250, 1.0) == [1, 2, 3, 4]


def test_totals_of_an_open_run_have_goodput_and_offered():
    samples = [s(t + 0.5, 10) for t in range(10)] + [s(5.5, 400), s(6.5, 5, "shed")]
    arrivals = [(t + 0.4, 1, None) for t in range(10)] + [(5.4, 1, None), (6.4, 1, None), (7.0, 3, "in-flight limit")]
    phases = [{"name": "baseline", "start": 0, "end": 5}, {"name": "spike", "start": 5, "end": 8},
              {"name": "after", "start": 8, "end": 10}]
    r = summarize(samples, [], phases, 10.0, {"schedule": [[0, 1]]}, arrivals=arrivals, ticks={}, slo_ms=250)
    spike = r["totals"]["spike"]
    assert spike["requests"] == 5 and spike["good"] == 3 and spike["goodput_rps"] == 1.0
    assert spike["errors"] == {"shed": 1} and spike["offered"] == 5 + 3 and spike["dropped"] == 3
    assert r["slo"]["violation_seconds"] == 3       # second 5 (slow), 6 (an error), 7 (a drop)
    assert r["generator"]["saturated"] is False


def test_the_generator_is_called_the_limit_after_3_busy_or_late_seconds():
    rows = [{"gen_cpu": 95.0, "lag_p99_ms": 1.0}] * 3 + [{"gen_cpu": 10.0, "lag_p99_ms": None}]
    assert summary.generator_use(rows, {"p": []})["saturated"] is True
    rows = [{"gen_cpu": 10.0, "lag_p99_ms": 80.0}] * 2
    assert summary.generator_use(rows, {"p": []})["saturated"] is False


def test_capacity_is_the_last_step_that_held_before_the_first_that_did_not():
    phases = [{"name": f"{r} req/s", "start": i * 4, "end": (i + 1) * 4, "target_rps": r}
              for i, r in enumerate([50, 100, 200, 400])]
    samples = []
    for i, (ms, outcome) in enumerate([(10, "ok"), (20, "ok"), (300, "ok"), (10, "shed")]):
        samples += [s(i * 4 + 2.5 + k / 10, ms, outcome) for k in range(10)]
    meta = {"shape_options": {"ramp_max_error_pct": 1.0}, "stop_reason": "saturated"}
    r = summarize(samples, [], phases, 16.0, meta, arrivals=[], ticks={}, slo_ms=250)
    assert [st["held"] for st in r["steps"]] == [True, True, False, False]
    assert r["steps"][2]["why"] == "p95 300 ms > 250 ms"
    assert r["steps"][3]["why"].startswith("errors 100.0%")
    assert r["capacity"]["rps"] == 100 and r["capacity"]["first_failed_rps"] == 200


def test_a_step_with_dropped_arrivals_did_not_hold():
    phases = [{"name": "50 req/s", "start": 0, "end": 4, "target_rps": 50}]
    samples = [s(2.5 + k / 10, 10) for k in range(10)]
    r = summarize(samples, [], phases, 4.0, {}, arrivals=[(3.0, 3, "in-flight limit")], ticks={}, slo_ms=250)
    assert r["steps"][0]["held"] is False and "dropped" in r["steps"][0]["why"]
    assert r["capacity"]["rps"] is None
