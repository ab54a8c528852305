"""Two readings of a comparison run that the headline numbers do not give:

- where a checkout's time goes in the microservices: per internal call, per service, read
  from the services' own metrics (``shop_internal_call_duration_seconds`` by the route that
  made the call);
- a capacity estimate: from the CPU each process spent per request in the run, the cores and
  memory each deployment would need for 10x and 100x its traffic (the spike's rate where there
  was a spike, else the fault phase's or the run's average), and what scaling
  only the hot services saves against scaling every service alike.

Both are arithmetic on measured numbers; the caveats say where the arithmetic stops. The
functions return data; the report's template (loadtests/templates/report.html.j2) writes it."""
import math

CHECKOUT_ROUTES = ["POST /api/orders", "POST /api/checkout/quote"]
FACTORS = (10, 100)


def _first(runs: dict, target: str) -> dict | None:
    return (runs.get(target) or [None])[0]


# -- where the time goes -------------------------------------------------------------------
def checkout_breakdown(run: dict, route: str) -> dict | None:
    timings = run.get("timings") or {}
    method, path = route.split(" ", 1)
    edge = [r for r in timings.get("routes", []) if r.get("service") == "gateway"
            and r.get("route") == path and r.get("method") == method]
    inner = [r for r in timings.get("routes", []) if r.get("service") == "orders"
             and r.get("route") == path and r.get("method") == method]
    calls = [c for c in timings.get("calls", []) if c.get("via") == route and c.get("caller") == "orders"]
    if not inner or not calls:
        return None
    served = sum(r["count"] for r in inner)
    rows = sorted(({"callee": c["callee"], "operation": c["operation"],
                    "per_request": round(c["count"] / served, 2), "avg_ms": c["avg_ms"]} for c in calls),
                  key=lambda c: -c["avg_ms"] * c["per_request"])
    return {"route": route, "requests": served,
            "at_gateway_ms": _avg(edge), "in_orders_ms": _avg(inner), "calls": rows,
            "sum_of_calls_ms": round(sum(c["avg_ms"] * c["per_request"] for c in rows), 2)}


def _avg(rows):
    n = sum(r["count"] for r in rows)
    return round(sum(r["avg_ms"] * r["count"] for r in rows) / n, 2) if n else None


def hops(runs: dict) -> list[dict]:
    """The checkout breakdowns of the microservices' first run (empty without its metrics)."""
    run = _first(runs, "microservices")
    if not run:
        return []
    return [b for b in (checkout_breakdown(run, route) for route in CHECKOUT_ROUTES) if b]


# -- capacity ----------------------------------------------------------------------------------
def per_process_cost(run: dict) -> list[dict]:
    """CPU ms per public request and peak memory of each process group, from the run."""
    requests = (run.get("totals") or {}).get("all", {}).get("requests") or 0
    out = []
    for p in (run.get("resources") or {}).get("processes") or []:
        if requests and p.get("cpu_seconds") is not None:
            out.append({"name": p["name"], "cpu_ms": 1000 * p["cpu_seconds"] / requests,
                        "rss_mb": p.get("peak_rss_mb") or 0.0})
    return out


def base_rate(run: dict) -> tuple[float, str] | None:
    """The rate the estimate multiplies, and what it is: the spike's rate where there was one,
    else the fault phase's (an overload), else the run's average."""
    totals = run.get("totals") or {}
    for window, name in (("spike", "the spike's rate"), ("fault", "the fault phase's rate"),
                         ("all", "this run's average rate")):
        rate = (totals.get(window) or {}).get("rps")
        if rate:
            return rate, name
    return None


def capacity(run: dict, factor: int) -> dict | None:
    """Cores and memory for ``factor`` times the run's base rate (base_rate), scaling each process
    group by whole replicas (a replica = one process group as measured)."""
    base = base_rate(run)
    costs = per_process_cost(run)
    if base is None or not costs:
        return None
    rate, rate_name = base
    target_rps = rate * factor
    rows = []
    for c in costs:
        cores = target_rps * c["cpu_ms"] / 1000
        replicas = max(1, math.ceil(cores))
        rows.append({**c, "cores": cores, "replicas": replicas, "memory_mb": replicas * c["rss_mb"]})
    hot_only = {"cores": sum(r["replicas"] for r in rows), "memory_mb": sum(r["memory_mb"] for r in rows)}
    uniform_replicas = max(r["replicas"] for r in rows)
    uniform = {"cores": uniform_replicas * len(rows), "memory_mb": uniform_replicas * sum(r["rss_mb"] for r in rows)}
    return {"factor": factor, "target_rps": target_rps, "base_rps": rate, "base_name": rate_name, "rows": rows,
            "needed_cores": sum(r["cores"] for r in rows), "scaled_as_needed": hot_only, "scaled_alike": uniform}


def estimates(runs: dict) -> list[dict]:
    """Each deployment's estimate at 10x and 100x its base rate (first run of each)."""
    out = []
    for target in ("monolith", "microservices"):
        run = _first(runs, target)
        if run:
            out += [{"target": target, **est} for est in (capacity(run, f) for f in FACTORS) if est]
    return out
