"""What a run on the node in a box cost and bought (``make compare SCENARIO=autoscale``): pure
functions over a run summary that carries the node's report (``run["node"]``, written by
loadtests/autoscaler.py: Node.report) and its per-second timeline (loadtests/summary.py).

The node's timeline has one row per sync period and deployable, with ``t`` in seconds from
the node's start and ``epoch`` wall-clock seconds; the load's timeline counts from the load's
start (``run["started_epoch"]``). Both are lined up on the wall clock here."""
import statistics

HOT = {"gateway", "catalog"}       # what a browse spike needs in the microservices
RECOVERED_SHARE = 0.95             # goodput is back when it is this share of what was offered ...
RECOVERED_FOR_S = 5                # ... this many seconds in a row


def _rows(run: dict) -> list[dict]:
    node = run.get("node") or {}
    start = run.get("started_epoch") or node.get("started_epoch") or 0
    return [{**r, "load_t": r["epoch"] - start} for r in node.get("timeline") or [] if "epoch" in r]


def allocation(run: dict) -> list[dict]:
    """Per sync: the load's second, and per deployable the replicas, cores allocated and used."""
    out: dict[float, dict] = {}
    for r in _rows(run):
        key = round(r["load_t"], 1)
        row = out.setdefault(key, {"t": key, "deployables": {}})
        row["deployables"][r["deployable"]] = {k: r.get(k) for k in ("replicas", "cpu_allocated", "cpu_used",
                                                                    "utilization", "desired")}
    rows = sorted(out.values(), key=lambda r: r["t"])
    for row in rows:
        d = row["deployables"].values()
        row["cpu_allocated"] = round(sum(x.get("cpu_allocated") or 0 for x in d), 3)
        row["cpu_used"] = round(sum(x.get("cpu_used") or 0 for x in d), 3)
    return rows


def minimum_cores(run: dict) -> float | None:
    """CPU allocated at the start: every deployable at its minimum replicas."""
    deployables = (run.get("node") or {}).get("deployables") or {}
    if not deployables:
        return None
    return round(sum(d["start_replicas"] * d["cpu_request_cores"] for d in deployables.values()), 3)


def core_seconds(run: dict) -> float | None:
    """CPU core-seconds allocated over the run (the cost), all deployables."""
    deployables = (run.get("node") or {}).get("deployables") or {}
    if not deployables:
        return None
    return round(sum(d["core_seconds_allocated"] for d in deployables.values()), 1)


def hot_share(run: dict) -> float | None:
    """Percent of the core-seconds allocated that went to the hot services (gateway and
    catalog); for the monolith the whole app is the hot part: 100%."""
    deployables = (run.get("node") or {}).get("deployables") or {}
    total = sum(d["core_seconds_allocated"] for d in deployables.values())
    if not total:
        return None
    hot = sum(d["core_seconds_allocated"] for n, d in deployables.items() if n in HOT or n == "monolith")
    return round(100 * hot / total, 1)


def readiness_delays(run: dict) -> list[float]:
    return [e["readiness_delay_s"] for e in (run.get("node") or {}).get("events") or []
            if e.get("readiness_delay_s") is not None]


def median_readiness(run: dict) -> float | None:
    delays = readiness_delays(run)
    return round(statistics.median(delays), 2) if delays else None


def budget_hits(run: dict) -> int:
    return len((run.get("node") or {}).get("budget_hits") or [])


def goodput_recovery(run: dict) -> float | None:
    """Seconds from the spike's start until goodput was at least 95% of what was offered for
    5 seconds in a row, within the spike (None: not before the spike ended)."""
    spike = next((p for p in run.get("phases") or [] if p["name"] == "spike"), None)
    rows = run.get("timeline") or []
    if spike is None or not rows:
        return None
    start, end = int(spike["start"]), int(spike["end"])
    good = [r for r in rows if start <= r["t"] < end]
    for i in range(len(good) - RECOVERED_FOR_S + 1):
        window = good[i:i + RECOVERED_FOR_S]
        if all(r.get("offered") and r.get("good", 0) >= RECOVERED_SHARE * r["offered"] for r in window):
            return float(window[0]["t"] - start)
    return None


def spike_failed_pct(run: dict) -> float | None:
    """Percent of the requests that ended during the spike that failed (shed included)."""
    t = (run.get("totals") or {}).get("spike") or {}
    return round(100 * t["failures"] / t["requests"], 2) if t.get("requests") else None
