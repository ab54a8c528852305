"""From raw request samples to the numbers a run is judged by. Pure functions, no Locust.

Every request is kept as (seconds since start when it ended, endpoint name, latency ms,
failed) and, since the open model, also (outcome, intended start, send lag ms): see
loadtests/outcomes.py for the outcomes and loadtests/funnel.py for the latency, measured
from the intended start. So any percentile can be computed exactly for any window (per
second, per phase, per endpoint) instead of being read off cumulative counters that hide a
spike. Arrivals (when, requests planned, dropped or not) give the offered load, and the load
generator's own ticks (requests in flight, its CPU) say whether it kept up.

Words used below: *offered* requests are those the load generator meant to send (each at its
intended start, plus those of dropped arrivals); *answered* ones got an HTTP answer (ok, shed,
5xx, 4xx); *goodput* counts ok answers within the SLO latency."""
import math

from loadtests.outcomes import ANSWERED, ERRORS

RECOVERY_WINDOW_S = 5     # seconds in a row that must look like the baseline again
GENERATOR_BUSY_PCT = 90   # a load-generator process this busy may not be sending on time
GENERATOR_LATE_MS = 50    # requests sent this late (p99 of a second) mean it fell behind
GENERATOR_SATURATED_S = 3 # seconds of either, and the run says the generator was the limit
WARMUP_SKIP_S = 5         # the first seconds (connections opening) do not define the baseline


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, -(-int(pct) * len(sorted_values) // 100)) if float(pct).is_integer() \
        else max(1, math.ceil(pct / 100 * len(sorted_values)))  # integer maths: no float rounding
    return sorted_values[rank - 1]


def stats(samples: list[tuple], duration_s: float, slo_ms: float | None = None) -> dict:
    times = sorted(s[2] for s in samples)
    failures = sum(1 for s in samples if s[3])
    n = len(times)
    out = {
        "requests": n,
        "failures": failures,
        "error_pct": round(100 * failures / n, 3) if n else 0.0,
        "rps": round(n / duration_s, 2) if duration_s > 0 else 0.0,
        "p50_ms": _r(percentile(times, 50)),
        "p95_ms": _r(percentile(times, 95)),
        "p99_ms": _r(percentile(times, 99)),
        "avg_ms": _r(sum(times) / n) if n else None,
        "max_ms": _r(times[-1]) if n else None,
    }
    if slo_ms is not None and samples and len(samples[0]) > 4:
        out.update(outcome_stats(samples, duration_s, slo_ms))
    return out


def outcome_stats(samples: list[tuple], duration_s: float, slo_ms: float) -> dict:
    """Answered, ok, goodput and the errors by kind, of samples that carry their outcome."""
    counts = {}
    good = 0
    for s in samples:
        counts[s[4]] = counts.get(s[4], 0) + 1
        if s[4] == "ok" and s[2] <= slo_ms:
            good += 1
    answered = sum(v for k, v in counts.items() if k in ANSWERED)
    per_s = (lambda x: round(x / duration_s, 2)) if duration_s > 0 else (lambda x: 0.0)
    return {"answered": answered, "answered_rps": per_s(answered), "ok": counts.get("ok", 0),
            "good": good, "goodput_rps": per_s(good),
            "within_slo_pct": round(100 * good / len(samples), 2) if samples else 0.0,
            "errors": {k: counts[k] for k in ERRORS if counts.get(k)}}


def _r(x):
    return None if x is None else round(float(x), 1)


def timeline(samples: list[tuple], users: list[tuple[float, int]], duration_s: float) -> list[dict]:
    seconds = max(1, math.ceil(duration_s))
    buckets: list[list[tuple]] = [[] for _ in range(seconds)]
    for s in samples:
        i = int(s[0])
        if 0 <= i < seconds:
            buckets[i].append(s)
    rows, u, j = [], 0, 0
    for i, bucket in enumerate(buckets):
        while j < len(users) and users[j][0] < i + 1:
            u = users[j][1]
            j += 1
        times = sorted(b[2] for b in bucket)
        rows.append({"t": i, "users": u, "rps": len(bucket), "fails": sum(1 for b in bucket if b[3]),
                     "p50_ms": _r(percentile(times, 50)), "p95_ms": _r(percentile(times, 95)),
                     "p99_ms": _r(percentile(times, 99))})
    return rows


def load_seconds(samples: list[tuple], arrivals: list[tuple], ticks: dict, duration_s: float,
                 slo_ms: float, schedule: list | None = None) -> list[dict]:
    """Per second: what was offered, answered, good, failed (by kind) and dropped, the send lag,
    and what the load generator did (requests in flight, its busiest process's CPU).

    ``arrivals``: (t, requests planned, dropped reason or None); ``ticks``: per load-generator
    process, (t, requests in flight, CPU %); ``schedule``: the shape's (t, rate) points."""
    seconds = max(1, math.ceil(duration_s))
    rows = [{"offered": 0, "answered": 0, "good": 0, "dropped": 0, "arrivals": 0, "errors": {},
             "in_flight": 0, "gen_cpu": None, "lag_p99_ms": None} for _ in range(seconds)]
    lags: list[list[float]] = [[] for _ in range(seconds)]
    for s in samples:
        i = int(s[0])
        if 0 <= i < seconds:
            row = rows[i]
            if s[4] in ANSWERED:
                row["answered"] += 1
            if s[4] == "ok":
                row["good"] += s[2] <= slo_ms
            else:
                row["errors"][s[4]] = row["errors"].get(s[4], 0) + 1
        j = int(s[5])
        if 0 <= j < seconds:
            rows[j]["offered"] += 1
            lags[j].append(s[6])
    for t, planned, dropped in arrivals:
        i = int(t)
        if 0 <= i < seconds:
            rows[i]["arrivals"] += 1
            if dropped:
                rows[i]["dropped"] += planned
                rows[i]["offered"] += planned
                why = rows[i].setdefault("dropped_why", {})
                why[dropped] = why.get(dropped, 0) + planned
    for process_ticks in (ticks or {}).values():
        last: dict[int, tuple] = {}
        for t, n, cpu in process_ticks:
            i = int(t)
            if 0 <= i < seconds:
                last[i] = (n, cpu)
        for i, (n, cpu) in last.items():
            rows[i]["in_flight"] += n
            rows[i]["gen_cpu"] = max(rows[i]["gen_cpu"] or 0.0, round(cpu, 1))
    rate = _rate_function(schedule)
    for i, row in enumerate(rows):
        row["lag_p99_ms"] = _r(percentile(sorted(lags[i]), 99))
        if rate is not None:
            row["scheduled"] = round(rate(i + 0.5), 1)
    return rows


def _rate_function(points):
    if not points:
        return None
    from loadtests.arrivals import Schedule
    points = tuple((float(t), float(r)) for t, r in points)
    return Schedule(points, float("inf")).rate


def slo_seconds(rows: list[dict], slo_ms: float, max_error_pct: float = 1.0) -> list[int]:
    """The seconds in which the SLO was broken: p95 above it, errors above ``max_error_pct``
    of what ended, or arrivals dropped by the load generator. A second in which nothing
    ended while requests were offered (a stall) breaks it too."""
    bad = []
    for row in rows:
        ended = row["rps"]
        errors = row.get("fails", 0)
        if row.get("dropped") or (ended == 0 and row.get("offered")):
            bad.append(row["t"])
        elif ended and ((row["p95_ms"] or 0) > slo_ms or 100 * errors / ended > max_error_pct):
            bad.append(row["t"])
    return bad


def endpoint_seconds(samples: list[tuple], duration_s: float) -> dict[str, list[list[int]]]:
    """Per endpoint, per second: [successes, failures]. Fault scenarios read recovery off it."""
    seconds = max(1, math.ceil(duration_s))
    out: dict[str, list[list[int]]] = {}
    for t, name, _ms, failed, *_ in samples:
        i = int(t)
        if 0 <= i < seconds:
            row = out.setdefault(name, [[0, 0] for _ in range(seconds)])
            row[i][1 if failed else 0] += 1
    return out


def _within(samples, start, end):
    return [s for s in samples if start <= s[0] < end]


def recovery_seconds(rows: list[dict], baseline_p95: float | None, spike_end: float) -> float | None:
    """Seconds after the spike until latency is back near the baseline (and no errors) for
    RECOVERY_WINDOW_S seconds in a row. None if that never happens within the run."""
    if baseline_p95 is None:
        return None
    limit = max(1.5 * baseline_p95, baseline_p95 + 20)
    after = [r for r in rows if r["t"] >= spike_end]
    for k in range(len(after) - RECOVERY_WINDOW_S + 1):
        window = after[k:k + RECOVERY_WINDOW_S]
        # A second in which nothing completed is a stall, not a recovery.
        if all(r["rps"] > 0 and r["p95_ms"] <= limit and r["fails"] == 0 for r in window):
            return max(0.0, window[0]["t"] - spike_end)
    return None


def summarize(samples: list[tuple], users: list[tuple[float, int]], phases: list[dict],
              duration_s: float, meta: dict, arrivals: list[tuple] | None = None,
              ticks: dict | None = None, slo_ms: float | None = None) -> dict:
    samples = sorted(samples)
    rows = timeline(samples, users, duration_s)
    with_outcomes = slo_ms is not None and bool(samples) and len(samples[0]) > 4
    if with_outcomes or arrivals:
        for row, extra in zip(rows, load_seconds(samples if with_outcomes else [], arrivals or [], ticks or {},
                                                 duration_s, slo_ms or 0, meta.get("schedule"))):
            row.update(extra)
    names = sorted({s[1] for s in samples})
    windows = {"all": (0.0, duration_s)}
    for p in phases:
        windows[p["name"]] = (p["start"], min(p["end"] if p["end"] is not None else duration_s, duration_s))

    def windowed(name_filter=None):
        out = {}
        for label, (start, end) in windows.items():
            chosen = [s for s in _within(samples, start, end) if name_filter is None or s[1] == name_filter]
            out[label] = stats(chosen, end - start, slo_ms)
            if name_filter is None and arrivals is not None:
                out[label].update(offered_stats(rows, start, end))
        spike = windows.get("spike")
        if spike:
            rest = [s for s in samples if not (spike[0] <= s[0] < spike[1])
                    and (name_filter is None or s[1] == name_filter)]
            out["outside_spike"] = stats(rest, duration_s - (spike[1] - spike[0]), slo_ms)
        return out

    result = {
        **meta,
        "duration_s": round(duration_s, 1),
        "phases": phases,
        "peak_users": max((u for _, u in users), default=0),
        "totals": windowed(),
        "endpoints": {name: windowed(name) for name in names},
        "timeline": rows,
        "endpoint_seconds": endpoint_seconds(samples, duration_s),
    }
    spike = next((p for p in phases if p["name"] == "spike"), None)
    if spike:
        baseline = [s for s in samples if WARMUP_SKIP_S <= s[0] < spike["start"]]
        base_p95 = percentile(sorted(s[2] for s in baseline), 95)
        result["baseline_p95_ms"] = _r(base_p95)
        result["recovery_s"] = recovery_seconds(rows, base_p95, spike["end"])
        if result["recovery_s"] is None:
            result["recovery_note"] = ("baseline too short to measure" if base_p95 is None
                                       else "did not recover within the run")
    steps = [p for p in phases if "users" in p or "target_rps" in p]
    if steps:
        result["steps"] = _ramp_steps(samples, steps, meta, slo_ms, arrivals or [])
        if any("target_rps" in p for p in steps):
            result["capacity"] = capacity(result["steps"], meta)
    if with_outcomes:
        limit = (meta.get("shape_options") or {}).get("ramp_max_error_pct", 1.0)
        bad = slo_seconds(rows, slo_ms, limit)
        result["slo"] = {"latency_ms": slo_ms, "max_error_pct": limit, "violation_seconds": len(bad),
                         "violations": bad}
        result["generator"] = generator_use(rows, ticks or {})
    return result


def offered_stats(rows: list[dict], start: float, end: float) -> dict:
    """The offered load and what the load generator did, over the seconds of a window."""
    chosen = [r for r in rows if start <= r["t"] < end and "offered" in r]
    seconds = max(1e-9, min(end, len(rows)) - start)
    if not chosen:
        return {}
    offered = sum(r["offered"] for r in chosen)
    why: dict[str, int] = {}
    for r in chosen:
        for k, v in (r.get("dropped_why") or {}).items():
            why[k] = why.get(k, 0) + v
    return {"offered": offered, "offered_rps": round(offered / seconds, 2),
            "dropped": sum(r["dropped"] for r in chosen), "dropped_why": why,
            "peak_in_flight": max(r["in_flight"] for r in chosen),
            "scheduled_rps": round(sum(r.get("scheduled", 0) for r in chosen) / len(chosen), 2)
            if any("scheduled" in r for r in chosen) else None}


def generator_use(rows: list[dict], ticks: dict) -> dict:
    """Was the load generator the limit? Its busiest process's CPU, and how late it sent."""
    cpus = [r["gen_cpu"] for r in rows if r.get("gen_cpu") is not None]
    lags = [r["lag_p99_ms"] for r in rows if r.get("lag_p99_ms") is not None]
    busy = sum(1 for c in cpus if c >= GENERATOR_BUSY_PCT)
    late = sum(1 for x in lags if x > GENERATOR_LATE_MS)
    return {"processes": len(ticks), "peak_cpu_percent": max(cpus, default=None),
            "seconds_cpu_over_90pct": busy, "peak_lag_p99_ms": max(lags, default=None),
            "seconds_late": late,
            "saturated": busy >= GENERATOR_SATURATED_S or late >= GENERATOR_SATURATED_S}


def capacity(steps: list[dict], meta: dict) -> dict:
    """The highest step rate that held the SLO (p95 within it, errors under the limit, nothing
    dropped), stopping at the first step that did not: the deployment's capacity."""
    best = None
    failed = None
    for step in steps:
        if step.get("held"):
            best = step
        else:
            failed = step
            break
    return {"rps": best["target_rps"] if best else None,
            "answered_rps": best.get("answered_rps") if best else None,
            "goodput_rps": best.get("goodput_rps") if best else None,
            "p95_ms": best.get("p95_ms") if best else None,
            "first_failed_rps": failed["target_rps"] if failed else None,
            "why": failed.get("why") if failed else meta.get("stop_reason")}


def _ramp_steps(samples, steps, meta, slo_ms=None, arrivals=()) -> list[dict]:
    """Each ramp step judged on its second half (after its users have all arrived, or its
    rate has held for a while). An open-model step (with a rate) also says whether it held
    the SLO, and why not: the same rule as the shape's (loadtests/shapes.py)."""
    options = meta.get("shape_options") or {}
    out = []
    for step in steps:
        if step["end"] is None:
            continue
        mid = step["start"] + (step["end"] - step["start"]) / 2
        chosen = _within(samples, mid, step["end"])
        s = stats(chosen, step["end"] - mid, slo_ms)
        if "target_rps" not in step:
            out.append({"users": step["users"], **s})
            continue
        row = {"target_rps": step["target_rps"], **s}
        limit = options.get("ramp_max_error_pct", 1.0)
        errors = sum(1 for x in chosen if len(x) > 4 and x[4] != "ok")
        error_pct = 100 * errors / len(chosen) if chosen else 0.0
        dropped = sum(1 for a in arrivals if mid <= a[0] < step["end"] and a[2])
        why = ""
        if dropped:
            why = f"{dropped} arrivals dropped by the load generator"
        elif not chosen:
            why = "no request completed"
        elif error_pct > limit:
            why = f"errors {error_pct:.1f}% > {limit:g}%"
        elif slo_ms is not None and (s["p95_ms"] or 0) > slo_ms:
            why = f"p95 {s['p95_ms']:.0f} ms > {slo_ms:g} ms"
        row["held"], row["why"] = not why, why
        out.append(row)
    return out
