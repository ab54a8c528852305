"""Two readings of a comparison run that the headline numbers do not give:

- where a checkout's time goes in the microservices: per internal call, per service, read
  from the services' own metrics (``shop_internal_call_duration_seconds`` by the route that
  made the call);
- a capacity estimate: from the CPU each process spent per request in the run, the cores and
  memory each deployment would need for 10x and 100x the spike's traffic, and what scaling
  only the hot services saves against scaling every service alike.

Both are arithmetic on measured numbers; the caveats say where the arithmetic stops."""
import math
from html import escape

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


def hops_section(runs: dict) -> str:
    run = _first(runs, "microservices")
    if not run:
        return ""
    parts = []
    for route in CHECKOUT_ROUTES:
        b = checkout_breakdown(run, route)
        if not b:
            continue
        rows = "".join(
            f"<tr><td>{escape(c['callee'])}</td><td>{escape(c['operation'])}</td>"
            f"<td class=\"num\">{c['per_request']:g}</td><td class=\"num\">{c['avg_ms']:.2f}</td></tr>"
            for c in b["calls"])
        parts.append(
            f"<h3>{escape(route)} ({b['requests']:,} in the run)</h3>"
            f"<p>At the gateway {b['at_gateway_ms']} ms on average; inside the orders service "
            f"{b['in_orders_ms']} ms, of which its calls add up to {b['sum_of_calls_ms']} ms if made one "
            f"after the other (tax and shipping are asked at the same time, so the real wait is less).</p>"
            f"<table><thead><tr><th>service called</th><th>call</th><th>calls per request</th>"
            f"<th>average ms</th></tr></thead><tbody>{rows}</tbody></table>")
    if not parts:
        return ""
    return ("<h2>Where a checkout's time goes (microservices, first run)</h2>"
            "<p>From the services' own metrics: every internal call is timed by the caller and "
            "labelled with the public route that caused it.</p>" + "".join(parts))


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


def capacity(run: dict, factor: int) -> dict | None:
    """Cores and memory for ``factor`` times the spike's request rate, scaling each process
    group by whole replicas (a replica = one process group as measured)."""
    rate = (run.get("totals") or {}).get("spike", {}).get("rps") or (run.get("totals") or {}).get("all", {}).get("rps")
    costs = per_process_cost(run)
    if not rate or not costs:
        return None
    target_rps = rate * factor
    rows = []
    for c in costs:
        cores = target_rps * c["cpu_ms"] / 1000
        replicas = max(1, math.ceil(cores))
        rows.append({**c, "cores": cores, "replicas": replicas, "memory_mb": replicas * c["rss_mb"]})
    hot_only = {"cores": sum(r["replicas"] for r in rows), "memory_mb": sum(r["memory_mb"] for r in rows)}
    uniform_replicas = max(r["replicas"] for r in rows)
    uniform = {"cores": uniform_replicas * len(rows), "memory_mb": uniform_replicas * sum(r["rss_mb"] for r in rows)}
    return {"factor": factor, "target_rps": target_rps, "rows": rows, "needed_cores": sum(r["cores"] for r in rows),
            "scaled_as_needed": hot_only, "scaled_alike": uniform}


def capacity_section(runs: dict) -> str:
    blocks = []
    for target in ("monolith", "microservices"):
        run = _first(runs, target)
        if not run:
            continue
        for factor in FACTORS:
            est = capacity(run, factor)
            if not est:
                continue
            rows = "".join(
                f"<tr><td>{escape(r['name'])}</td><td class=\"num\">{r['cpu_ms']:.3f}</td>"
                f"<td class=\"num\">{r['cores']:.2f}</td><td class=\"num\">{r['replicas']}</td>"
                f"<td class=\"num\">{r['memory_mb']:,.0f}</td></tr>" for r in est["rows"])
            extra = ""
            if target == "microservices":
                a, b = est["scaled_as_needed"], est["scaled_alike"]
                extra = (f"<p>Scaling only what needs it: {a['cores']} cores, {a['memory_mb']:,.0f} MB; scaling "
                         f"every service alike: {b['cores']} cores, {b['memory_mb']:,.0f} MB "
                         f"(saves {b['cores'] - a['cores']} cores and {b['memory_mb'] - a['memory_mb']:,.0f} MB).</p>")
            blocks.append(
                f"<h3>{escape(target)}: {factor}x the spike ({est['target_rps']:,.0f} requests/s)</h3>"
                f"<table><thead><tr><th>process</th><th>CPU ms per request</th><th>cores needed</th>"
                f"<th>replicas</th><th>memory MB</th></tr></thead><tbody>{rows}</tbody></table>"
                f"<p>Total: {est['needed_cores']:.1f} cores of work, {est['scaled_as_needed']['cores']} "
                f"whole replicas, {est['scaled_as_needed']['memory_mb']:,.0f} MB.</p>{extra}")
    if not blocks:
        return ""
    return ("<h2>Capacity estimate</h2><p>Linear arithmetic on this run: CPU ms per request of each "
            "process group (its CPU seconds during the load / all requests served) times the target rate; "
            "one replica per started core, each with the memory the group used here. It ignores what does "
            "not scale linearly: SQLite takes one writer at a time (a real cluster needs a server database "
            "for cart, orders, billing and stock), network latency between machines, and the load balancer. "
            "Treat it as an order of magnitude.</p>" + "".join(blocks))
