"""From raw request samples to the numbers a run is judged by. Pure functions, no Locust.

Every request is kept as (seconds since start, endpoint name, response time ms, failed), so
any percentile can be computed exactly for any window (per second, per phase, per endpoint)
instead of being read off cumulative counters that hide a spike."""
import math

RECOVERY_WINDOW_S = 5     # seconds in a row that must look like the baseline again
WARMUP_SKIP_S = 5         # the first seconds (connections opening) do not define the baseline


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, -(-int(pct) * len(sorted_values) // 100)) if float(pct).is_integer() \
        else max(1, math.ceil(pct / 100 * len(sorted_values)))  # integer maths: no float rounding
    return sorted_values[rank - 1]


def stats(samples: list[tuple], duration_s: float) -> dict:
    times = sorted(s[2] for s in samples)
    failures = sum(1 for s in samples if s[3])
    n = len(times)
    return {
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


def endpoint_seconds(samples: list[tuple], duration_s: float) -> dict[str, list[list[int]]]:
    """Per endpoint, per second: [successes, failures]. Fault scenarios read recovery off it."""
    seconds = max(1, math.ceil(duration_s))
    out: dict[str, list[list[int]]] = {}
    for t, name, _ms, failed in samples:
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
              duration_s: float, meta: dict) -> dict:
    samples = sorted(samples)
    rows = timeline(samples, users, duration_s)
    names = sorted({s[1] for s in samples})
    windows = {"all": (0.0, duration_s)}
    for p in phases:
        windows[p["name"]] = (p["start"], min(p["end"] if p["end"] is not None else duration_s, duration_s))

    def windowed(name_filter=None):
        out = {}
        for label, (start, end) in windows.items():
            chosen = [s for s in _within(samples, start, end) if name_filter is None or s[1] == name_filter]
            out[label] = stats(chosen, end - start)
        spike = windows.get("spike")
        if spike:
            rest = [s for s in samples if not (spike[0] <= s[0] < spike[1])
                    and (name_filter is None or s[1] == name_filter)]
            out["outside_spike"] = stats(rest, duration_s - (spike[1] - spike[0]))
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
    steps = [p for p in phases if "users" in p]
    if steps:
        result["steps"] = _ramp_steps(samples, steps, meta)
    return result


def _ramp_steps(samples, steps, meta) -> list[dict]:
    """Each ramp step judged on its second half (after its users have all arrived)."""
    out = []
    for step in steps:
        if step["end"] is None:
            continue
        mid = step["start"] + (step["end"] - step["start"]) / 2
        s = stats(_within(samples, mid, step["end"]), step["end"] - mid)
        out.append({"users": step["users"], **s})
    return out
