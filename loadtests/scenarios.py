"""The scenarios of `make compare SCENARIO=...`: one claim each, tested the same way on both
deployments, each ending with a verdict in numbers and an audit of the books.

| scenario      | load                     | what happens mid-run                                   |
|---------------|--------------------------|--------------------------------------------------------|
| spike         | 10x jump in users        | nothing: can each absorb the jump?                     |
| spike-scaled  | the same spike           | nothing, but both get the same worker budget: the      |
|               |                          | monolith all of it, the microservices most of it on    |
|               |                          | the hot path (gateway and catalog)                     |
| slow-payment  | steady shoppers+browsers | the payment provider answers in 2 s instead of at once |
| billing-down  | steady                   | billing dies (the service is killed; in the monolith   |
|               |                          | the billing code path crashes its worker) and returns  |
| redeploy      | steady                   | one service (the monolith: all of it) is restarted     |
|               |                          | gracefully, as a deploy of a new version would         |
| overload      | steady, then 2x capacity | each deployment gets twice its own measured capacity   |
|               |                          | for 30 s: does admission control keep goodput up?      |

In the open model (the default) the load is a rate: the spike's is sized from both
deployments' measured capacities (loadtests/compare.py: spike_schedule), the steady load is
25% of the lower capacity, and the overload is relative to each deployment's own capacity.

A scenario is data (shape, options, the environment of each deployment, timed actions) plus
a verdict function over the runs. ``loadtests/compare.py`` runs it; the report shows the
verdicts first. Faults are injected through the admin API (shop/billing/faults.py) and the
process controls of loadtests/sut.py, at the phase boundaries of the steady shape.
"""
import json
import statistics
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Callable

from loadtests import summary
from loadtests.report_numbers import NOISE_RATIO as NOISE, fmt_value, verdict  # noqa: F401  (the rule, written once)
from shop.web.health import answers_healthz


BROWSE = ["GET /api/categories", "GET /api/products?category", "GET /api/products?q", "GET /api/products/[id]"]
CHECKOUT = "POST /api/orders"
# Which services each public request needs in the microservices (from the hop counts of make bench).
NEEDS = {
    "GET /api/categories": {"gateway", "catalog"},
    "GET /api/products?category": {"gateway", "catalog"},
    "GET /api/products?q": {"gateway", "catalog"},
    "GET /api/products/[id]": {"gateway", "catalog"},
    "GET /api/shipping/options": {"gateway", "shipping"},
    "POST /api/auth/login": {"gateway", "accounts"},
    "GET /api/cart": {"gateway", "cart", "catalog"},
    "PUT /api/cart/items/[id]": {"gateway", "cart", "catalog"},
    "POST /api/checkout/quote": {"gateway", "orders", "cart", "catalog", "tax", "shipping"},
    "POST /api/orders": {"gateway", "orders", "cart", "catalog", "tax", "shipping", "billing"},
    "POST /api/orders/[id]/cancel": {"gateway", "orders", "catalog", "billing"},
}

STEADY = {"steady-users": 60, "steady-before": 30, "steady-fault": 30, "steady-after": 45}
STEADY_RPS = 60         # open model, when no capacity was measured
STEADY_RPS_QUICK = 15   # open model, quick runs (a smoke run: no capacity test)
OVERLOAD_BEFORE = 0.5   # overload: before and after, this share of the deployment's own capacity
OVERLOAD_FACTOR = 2.0   # ... and this many times it during the fault phase
OVERLOAD = {"steady-before": 20, "steady-fault": 30, "steady-after": 30}
OVERLOAD_QUICK = {"steady-before": 5, "steady-fault": 8, "steady-after": 10}
GOODPUT_GOAL = 0.8      # overload: goodput should stay at this share of capacity or more
NODE_BUDGET = 1.0       # autoscale: the node's CPU (cores) for the shop
NODE_SYNC_S = 15        # autoscale: the HPA's sync period (Kubernetes' default)
NODE_QUICK = {"sync_s": 3, "time_factor": 0.2}   # a quick run: every window and period x 0.2
# (the after phase is long enough for checkout's recovery rule: RECOVERY_CLEAN_S clean seconds)
STEADY_QUICK = {"steady-users": 8, "steady-before": 5, "steady-fault": 6, "steady-after": 15}
SPIKE = {"spike-users": 20, "spike-factor": 10, "spike-warmup": 30, "spike-rise": 5,
         "spike-hold": 60, "spike-cooldown": 60}
SPIKE_QUICK = {"spike-users": 4, "spike-factor": 10, "spike-warmup": 6, "spike-rise": 2,
               "spike-hold": 8, "spike-cooldown": 8}
PAYMENT_LATENCY_MS = 2000
REDEPLOYED_SERVICE = "orders"
# spike-scaled: the same number of worker processes for both (12): the monolith gets them all;
# the microservices need one per service (7) and give the rest to the hot path.
BUDGET = 12
SCALED_MICRO = {"GATEWAY_WORKERS": "3", "CATALOG_WORKERS": "3"}  # + 6 services x 1 = 12
# Checkout counts as recovered at its first success after the fault that no failure follows
# for this many seconds.
RECOVERY_CLEAN_S = 10
# What "p95" of a group of endpoints means in the verdicts (phase_stats).
P95_NOTE = "p95 of a group of endpoints: each endpoint's p95 in the phase, averaged weighted by its requests"


@dataclass
class Action:
    at: str                      # "fault" (start of the fault phase) or "after" (its end)
    label: str
    run: Callable                # run(sut) -> optional result, may block (a restart)


@dataclass
class Scenario:
    name: str
    claim: str
    shape: str
    options: dict
    quick_options: dict
    env: dict = field(default_factory=dict)          # target -> extra environment
    actions: dict = field(default_factory=dict)      # target -> [Action]
    verdicts: Callable = None                        # verdicts(runs) -> [dict]
    load: str = "steady"                             # spike | steady | overload: how the open model sizes it
    node: bool = False                               # run on the node in a box, with and without the HPA

    def opts(self, quick: bool) -> dict:
        """The closed model's options (users)."""
        return dict(self.quick_options if quick else self.options)

    def steady_times(self, quick: bool) -> dict:
        """The steady shape's phase lengths (the open model sizes the rate itself)."""
        return {k: v for k, v in self.opts(quick).items() if k in ("steady-before", "steady-fault", "steady-after")}

    def action_times(self, opts: dict) -> dict[str, float]:
        if self.shape != "steady":
            return {}
        return {"fault": opts["steady-before"], "after": opts["steady-before"] + opts["steady-fault"]}


# -- admin calls ------------------------------------------------------------------------------
def orders_url(sut) -> str:
    return sut.url if sut.name == "monolith" else sut.cluster.processes["orders"].url


def recover_checkouts(sut) -> dict | None:
    """Ask the deployment to undo unfinished checkouts (workers that died mid-way). None if the
    deployment has no such endpoint."""
    req = urllib.request.Request(f"{orders_url(sut)}/admin/checkouts/recover", method="POST", data=b"{}",
                                 headers={"X-Admin-Token": sut.env["SHOP_ADMIN_TOKEN"],
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def health_after(sut, wait_s: float = 20) -> dict[str, bool]:
    """Every process of the deployment answers /healthz again (waiting up to ``wait_s`` for the
    slowest): a service that was brought back must be serving, not just started."""
    deadline = time.monotonic() + wait_s
    health = {}
    for name, url in sut.metrics_urls().items():
        while not (ok := answers_healthz(url, timeout=2)) and time.monotonic() < deadline:
            time.sleep(0.2)
        health[name] = ok
    return health


def settle_and_audit(sut, data_dir, kind: str, wait_s: float) -> dict:
    """After the load: faults off, everything up, unfinished checkouts undone, then the audit."""
    from loadtests import audit
    notes = []
    health = health_after(sut)
    try:
        sut.clear_faults()
    except OSError as err:
        notes.append(f"could not clear faults: {err}")
    deadline = time.monotonic() + wait_s
    recovered = None
    while True:
        try:
            recovered = recover_checkouts(sut)
        except OSError as err:
            notes.append(f"recovery call failed: {err}")
        result = audit.audit(audit.databases(kind, data_dir))
        if result["ok"] or time.monotonic() > deadline or recovered is None:
            break
        time.sleep(1)  # an unfinished checkout younger than the recovery threshold: wait for it
    result["recovery"] = recovered
    result["notes"] = notes
    result["health"] = health
    return result


# -- reading numbers out of runs ----------------------------------------------------------------
def _median(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def phase_stats(run: dict, names: list[str], phase: str) -> dict:
    """Requests, failures, error % and p95 of some endpoints in a phase. The p95 of a group is
    its endpoints' p95s averaged, weighted by their requests (see P95_NOTE)."""
    eps = [run.get("endpoints", {}).get(n, {}).get(phase) for n in names]
    eps = [e for e in eps if e]
    requests = sum(e["requests"] for e in eps)
    failures = sum(e["failures"] for e in eps)
    timed = [e for e in eps if e.get("p95_ms") is not None and e["requests"]]
    timed_requests = sum(e["requests"] for e in timed)
    weighted = sum(e["p95_ms"] * e["requests"] for e in timed) / timed_requests if timed_requests else None
    return {"requests": requests, "failures": failures,
            "error_pct": round(100 * failures / requests, 2) if requests else 0.0,
            "p95_ms": round(weighted, 1) if weighted is not None else None}


def recovery_seconds(run: dict, name: str, after_start: float) -> float | None:
    """Seconds from the end of the fault to the first second in which `name` succeeded, failed
    never, and no failure followed for RECOVERY_CLEAN_S seconds (None: not within the run).
    Checkouts are rare (one every 2-3 s at the scenarios' load), so a rule such as "three
    clean seconds in a row, each with a success" would measure the gaps in the traffic, not
    the recovery; with this one the resolution is the time to the next checkout attempt."""
    rows = run.get("endpoint_seconds", {}).get(name) or []
    start = int(after_start)
    for t in range(start, len(rows) - RECOVERY_CLEAN_S + 1):
        ok, failed = rows[t]
        if ok > 0 and all(f == 0 for _, f in rows[t:t + RECOVERY_CLEAN_S]):
            return float(t - start)
    return None


def fault_start(run: dict) -> float | None:
    return next((p["start"] for p in run.get("phases", []) if p["name"] == "fault"), None)


def fault_end(run: dict) -> float | None:
    return next((p["end"] for p in run.get("phases", []) if p["name"] == "fault"), None)


def checkout_recovery(run: dict) -> float | None:
    end = fault_end(run)
    return recovery_seconds(run, CHECKOUT, end) if end is not None else None


def _per_target(runs: dict, read, none_is_worst: bool = False) -> dict:
    """The median over the repeats of one number per deployment. With ``none_is_worst`` a
    repeat without a number (e.g. never recovered) counts as the worst value, not as absent:
    recovered in 1 of 3 repeats is "not recovered", not the one repeat that did."""
    if not none_is_worst:
        return {t: _median([read(r) for r in rs]) for t, rs in runs.items()}
    out = {}
    for t, rs in runs.items():
        values = [read(r) for r in rs]
        m = statistics.median([v if isinstance(v, (int, float)) else float("inf") for v in values]) if values else None
        out[t] = None if m is None or m == float("inf") else m
    return out


# -- the verdicts of each scenario --------------------------------------------------------------
def spike_verdicts(runs: dict, claim="absorbs a 10x traffic spike") -> list[dict]:
    open_model = any(r.get("model") == "open" for rs in runs.values() for r in rs)
    extra = [
        verdict(claim, "goodput during the spike (ok answers within the SLO, per second)",
                _per_target(runs, lambda r: r["totals"].get("spike", {}).get("goodput_rps")), "rate",
                lower_is_better=False, abs_noise=5,
                note="offered during the spike: " + ", ".join(
                    f"{t} {fmt_value(v, 'rate')}/s" for t, v in
                    _per_target(runs, lambda r: r["totals"].get("spike", {}).get("offered_rps")).items())),
        verdict(claim, "seconds in which the SLO was broken (p95 or errors over the limit)",
                _per_target(runs, lambda r: (r.get("slo") or {}).get("violation_seconds")), "s", abs_noise=2),
    ] if open_model else []
    return extra + [
        verdict(claim, "p95 latency during the spike (ms)",
                _per_target(runs, lambda r: r["totals"].get("spike", {}).get("p95_ms")), "ms", abs_noise=5),
        verdict(claim, "errors during the spike (%)",
                _per_target(runs, lambda r: r["totals"].get("spike", {}).get("error_pct")), "pct", abs_noise=0.5),
        verdict(claim, "seconds to recover after the spike (back to baseline p95, no errors: the drain time)",
                _per_target(runs, lambda r: r.get("recovery_s"), none_is_worst=True), "s", abs_noise=2,
                none_is_worst=True),
        verdict(claim, "CPU ms per request (the whole deployment)",
                _per_target(runs, lambda r: r.get("resources", {}).get("cpu_ms_per_request")), "number"),
        verdict(claim, "peak memory, all processes (MB)",
                _per_target(runs, lambda r: r.get("resources", {}).get("peak_rss_mb")), "mb"),
    ]


def scaled_verdicts(runs: dict) -> list[dict]:
    return spike_verdicts(runs, claim=f"only the hot service needs to scale ({BUDGET} workers each)")


def slow_payment_verdicts(runs: dict) -> list[dict]:
    claim = "a slow part does not slow the rest"
    during = _per_target(runs, lambda r: phase_stats(r, BROWSE, "fault")["p95_ms"])
    before = _per_target(runs, lambda r: phase_stats(r, BROWSE, "before")["p95_ms"])
    growth = {t: (during[t] / before[t] if during[t] is not None and before[t] else None) for t in runs}
    return [
        verdict(claim, "browsing p95 while payment is slow (ms)", during, "ms", abs_noise=5,
                note="before: " + ", ".join(f"{t} {fmt_value(v, 'ms')} ms" for t, v in before.items())),
        verdict(claim, "browsing p95, slow / before (x)", growth, "number", abs_noise=0.2),
        verdict(claim, "browsing errors while payment is slow (%)",
                _per_target(runs, lambda r: phase_stats(r, BROWSE, "fault")["error_pct"]), "pct", abs_noise=0.5),
        verdict(claim, "orders placed per second while payment is slow",
                # no checkout at all in the phase is 0 per second, not a missing number
                _per_target(runs, lambda r: r["endpoints"].get(CHECKOUT, {}).get("fault", {}).get("rps") or 0.0),
                "rate", lower_is_better=False, abs_noise=0.2),
    ]


def billing_down_verdicts(runs: dict) -> list[dict]:
    claim = "one failing part does not take the app down"
    others = [n for n, needs in NEEDS.items() if "billing" not in needs]
    return [
        verdict(claim, "errors on requests that do not need billing, while it is down (%)",
                _per_target(runs, lambda r: phase_stats(r, others, "fault")["error_pct"]), "pct", abs_noise=0.5),
        verdict(claim, "browsing p95 while billing is down (ms)",
                _per_target(runs, lambda r: phase_stats(r, BROWSE, "fault")["p95_ms"]), "ms", abs_noise=5,
                note=P95_NOTE),
        verdict(claim, "checkout errors while billing is down (%)",
                _per_target(runs, lambda r: phase_stats(r, [CHECKOUT], "fault")["error_pct"]), "pct", abs_noise=0.5),
        verdict(claim, "seconds until checkout works again after billing is back",
                _per_target(runs, checkout_recovery, none_is_worst=True), "s", abs_noise=2, none_is_worst=True,
                note="counted from the end of the fault, so for the microservices it includes starting the "
                     "billing service again; resolution: the time to the next checkout attempt "
                     "(one every 2-3 s); no number: not within the run"),
    ]


def redeploy_verdicts(runs: dict) -> list[dict]:
    claim = f"one part can be redeployed without disturbing the rest ({REDEPLOYED_SERVICE})"
    others = [n for n, needs in NEEDS.items() if REDEPLOYED_SERVICE not in needs]
    mine = [n for n, needs in NEEDS.items() if REDEPLOYED_SERVICE in needs]
    return [
        verdict(claim, f"errors on requests that do not need {REDEPLOYED_SERVICE}, during the redeploy (%)",
                _per_target(runs, lambda r: phase_stats(r, others, "fault")["error_pct"]), "pct", abs_noise=0.5),
        verdict(claim, f"p95 of requests that do not need {REDEPLOYED_SERVICE}, during it (ms)",
                _per_target(runs, lambda r: phase_stats(r, others, "fault")["p95_ms"]), "ms", abs_noise=5,
                note=P95_NOTE),
        verdict(claim, f"errors on requests that need {REDEPLOYED_SERVICE}, during it (%)",
                _per_target(runs, lambda r: phase_stats(r, mine, "fault")["error_pct"]), "pct", abs_noise=0.5),
        verdict(claim, "seconds from the stop signal until the restarted process served again",
                _per_target(runs, lambda r: next((e.get("result") for e in r.get("events", [])
                                                  if e["label"].startswith("restart")), None)), "s", abs_noise=0.5,
                note="not all of it is downtime: the old workers still answer on kept-alive connections for "
                     "up to gunicorn's 2 s linger; new connections are refused from when the old master "
                     "closes its socket until the new one listens"),
    ]


def overload_verdicts(runs: dict) -> list[dict]:
    claim = "past capacity, each deployment sheds what it cannot serve in time and keeps serving the rest"

    def share_of_capacity(r):
        good = r["totals"].get("fault", {}).get("goodput_rps")
        cap = r.get("capacity_rps")
        return 100 * good / cap if good is not None and cap else None

    def drain(r):
        before = r["totals"].get("before", {}).get("p95_ms")
        end = fault_end(r)
        if before is None or end is None:
            return None
        return summary.recovery_seconds(r.get("timeline") or [], before, end)

    def shed_pct(r):
        t = r["totals"].get("fault", {})
        return 100 * (t.get("errors") or {}).get("shed", 0) / t["requests"] if t.get("requests") else None

    return [
        verdict(claim, f"goodput at {OVERLOAD_FACTOR:g}x capacity, as % of the capacity (goal: {GOODPUT_GOAL:.0%} or more)",
                _per_target(runs, share_of_capacity), "pct", lower_is_better=False, abs_noise=5,
                note="capacity: " + ", ".join(f"{t} {fmt_value(v, 'rate')} req/s" for t, v in
                                              _per_target(runs, lambda r: r.get("capacity_rps")).items())),
        verdict(claim, "goodput during the overload (ok answers within the SLO, per second)",
                _per_target(runs, lambda r: r["totals"].get("fault", {}).get("goodput_rps")), "rate",
                lower_is_better=False, abs_noise=5),
        verdict(claim, "p95 latency during the overload (ms)",
                _per_target(runs, lambda r: r["totals"].get("fault", {}).get("p95_ms")), "ms", abs_noise=5),
        verdict(claim, "requests shed at once (503 with Retry-After) during the overload (%)",
                _per_target(runs, shed_pct), "pct", abs_noise=0.5, note="a fast 503 is the point: it is not "
                "judged better or worse by itself"),
        verdict(claim, "seconds after the overload until p95 is back to the baseline with no errors (drain time)",
                _per_target(runs, drain, none_is_worst=True), "s", abs_noise=2, none_is_worst=True),
    ]


def autoscale_verdicts(runs: dict) -> list[dict]:
    """The autoscaled runs (each with its fixed-replicas twin in run["fixed"])."""
    from loadtests import nodes
    claim = "in a spike, scaling only the hot services beats scaling the whole monolith"

    def fixed(read):
        return lambda r: read(r["fixed"]) if r.get("fixed") else None

    def saved(r):
        a, f = (r.get("slo") or {}).get("violation_seconds"), ((r.get("fixed") or {}).get("slo") or {}).get(
            "violation_seconds")
        return f - a if a is not None and f is not None else None

    slo = lambda r: (r.get("slo") or {}).get("violation_seconds")   # noqa: E731
    return [
        verdict(claim, "seconds the SLO was broken, autoscaled", _per_target(runs, slo), "s", abs_noise=2),
        verdict(claim, "seconds the SLO was broken, fixed at the minimum replicas",
                _per_target(runs, fixed(slo)), "s", abs_noise=2),
        verdict(claim, "SLO seconds the autoscaler saved (fixed - autoscaled)", _per_target(runs, saved), "s",
                lower_is_better=False, abs_noise=2),
        verdict(claim, "requests failed or shed during the spike, autoscaled (%)",
                _per_target(runs, nodes.spike_failed_pct), "pct", abs_noise=0.5),
        verdict(claim, "seconds from the spike's start until goodput was 95% of the offered load for 5 s",
                _per_target(runs, nodes.goodput_recovery, none_is_worst=True), "s", abs_noise=2,
                none_is_worst=True, note="no number: not before the spike ended"),
        verdict(claim, "CPU allocated at the minimum replicas (cores)", _per_target(runs, nodes.minimum_cores),
                "number", note="the manifests' requests, limit = request"),
        verdict(claim, "peak CPU allocated (cores)",
                _per_target(runs, lambda r: (r.get("node") or {}).get("peak_cpu_allocated")), "number",
                note=f"the node's budget: {NODE_BUDGET:g} core"),
        verdict(claim, "CPU core-seconds allocated over the run (the cost)", _per_target(runs, nodes.core_seconds),
                "number"),
        verdict(claim, "share of the allocation that went to the hot part (%)", _per_target(runs, nodes.hot_share),
                "pct", lower_is_better=False, abs_noise=5,
                note="microservices: gateway and catalog; monolith: the whole app"),
        verdict(claim, "times a scale-up met the node's budget", _per_target(runs, nodes.budget_hits), "count",
                abs_noise=0.5),
        verdict(claim, "median seconds from a scale decision until the new worker served",
                _per_target(runs, nodes.median_readiness), "s", abs_noise=0.5),
        verdict(claim, "peak memory, all processes (MB)",
                _per_target(runs, lambda r: r.get("resources", {}).get("peak_rss_mb")), "mb"),
    ]


# -- the scenarios ----------------------------------------------------------------------------
def _restart(process):
    return lambda sut: round(sut.restart(process), 2)


SCENARIOS = {
    "spike": Scenario("spike", "microservices absorb a traffic spike better", "spike", SPIKE, SPIKE_QUICK,
                      verdicts=spike_verdicts, load="spike"),
    "spike-scaled": Scenario(
        "spike-scaled", "only the hot function (browsing) needs to scale in a spike", "spike", SPIKE, SPIKE_QUICK,
        env={"monolith": {"MONOLITH_WORKERS": str(BUDGET)}, "microservices": dict(SCALED_MICRO)},
        verdicts=scaled_verdicts, load="spike"),
    "slow-payment": Scenario(
        "slow-payment", "a slow dependency (the payment provider) does not slow browsing", "steady",
        STEADY, STEADY_QUICK,
        actions={t: [Action("fault", f"payment provider latency {PAYMENT_LATENCY_MS} ms",
                            lambda sut: sut.set_faults(payment_latency_ms=PAYMENT_LATENCY_MS)),
                     Action("after", "payment provider back to normal", lambda sut: sut.clear_faults())]
                 for t in ("monolith", "microservices")},
        verdicts=slow_payment_verdicts),
    "billing-down": Scenario(
        "billing-down", "one failing part does not take the app down", "steady", STEADY, STEADY_QUICK,
        actions={"monolith": [Action("fault", "billing code path crashes its worker",
                                     lambda sut: sut.set_faults(billing_crash=True)),
                              Action("after", "billing code path fixed", lambda sut: sut.set_faults(billing_crash=False))],
                 "microservices": [Action("fault", "billing service killed", lambda sut: sut.stop_process("billing", kill=True)),
                                   Action("after", "billing service started", lambda sut: sut.start_process("billing"))]},
        verdicts=billing_down_verdicts),
    "redeploy": Scenario(
        "redeploy", "parts can be deployed independently", "steady", STEADY, STEADY_QUICK,
        actions={"monolith": [Action("fault", "restart monolith (graceful)", _restart("monolith"))],
                 "microservices": [Action("fault", f"restart {REDEPLOYED_SERVICE} (graceful)",
                                          _restart(REDEPLOYED_SERVICE))]},
        verdicts=redeploy_verdicts),
    "autoscale": Scenario(
        "autoscale", "in a spike, only the hot part needs to scale: scaling it alone beats scaling the monolith",
        "spike", SPIKE, SPIKE_QUICK, verdicts=autoscale_verdicts, load="spike", node=True),
    "overload": Scenario(
        "overload", "past capacity, a deployment sheds load and keeps its goodput near capacity", "steady",
        {**STEADY, **OVERLOAD}, {**STEADY_QUICK, **OVERLOAD_QUICK}, verdicts=overload_verdicts, load="overload"),
}


# -- the report's section -----------------------------------------------------------------------
def section(scenario: Scenario, verdicts: list[dict], runs: dict, quick: bool = False) -> str:
    """The report's verdict section (loadtests/templates/verdict.html.j2): the claim, the
    measured answer in one sentence, the numbers, what was done when and the audit. A smoke
    run (quick) gives no answer."""
    from loadtests import report, report_numbers
    return report.render("verdict.html.j2", scenario=scenario, verdicts=verdicts, quick=quick, noise=NOISE,
                         answer=report_numbers.verdict_answer(verdicts, quick),
                         events=_events(runs), audits=_audits(runs), resilience=_resilience(runs))


def verdict_table(verdicts: list[dict]) -> str:
    """The verdict rows alone (the section's table)."""
    from loadtests import report
    html = report.render("verdict.html.j2", scenario=Scenario("", "", "", {}, {}), verdicts=verdicts, quick=False,
                         noise=NOISE, answer="", events=[], audits=[], resilience=[])
    return html[html.index("<table"):html.index("</table>") + len("</table>")]


def _events(runs: dict) -> list[str]:
    events = []
    for target, rs in runs.items():
        for i, r in enumerate(rs, 1):
            for e in r.get("events", []):
                result = f" → {e['result']}" if e.get("result") not in (None, "") else ""
                error = f" (failed: {e['error']})" if e.get("error") else ""
                done = f", done at {e['done_t']:.1f} s" if isinstance(e.get("done_t"), (int, float)) else ""
                events.append(f"{target} run {i}: at {e['t']:.1f} s, {e['label']}{result}{error}{done}")
    return events


def _audits(runs: dict) -> list[str]:
    audits = []
    for target, rs in runs.items():
        for i, r in enumerate(rs, 1):
            a = r.get("audit")
            if not a:
                continue
            state = "consistent: nothing lost or doubled" if a["ok"] else f"{len(a['findings'])} finding(s)"
            down = [name for name, ok in (a.get("health") or {}).items() if not ok]
            health = (f"; NOT answering after the run: {', '.join(down)}" if down else
                      "; every process answering after the run" if a.get("health") else "")
            audits.append(f"{target} run {i}: {a['orders']} orders, {a['charges']} charges "
                          f"({a['refunded']} refunded): {state}{health}"
                          + "".join(f"; {f}" for f in a["findings"][:5]))
    return audits


def _resilience(runs: dict) -> list[str]:
    out = []
    for target, rs in runs.items():
        for i, r in enumerate(rs, 1):
            res = r.get("resilience") or {}
            calls = res.get("calls") or {}
            failed = {k: v for k, v in calls.items() if not k.endswith(" ok") and v}
            retries = sum(x["count"] for x in res.get("shop_internal_retries_total") or [])
            opened = sum(x["count"] for x in res.get("shop_circuit_opened_total") or [])
            if calls:
                out.append(f"{target} run {i}: {sum(calls.values())} internal calls, "
                           f"{retries} retries, circuit opened {opened} time(s); not ok: "
                           + (", ".join(f"{k} {v}" for k, v in sorted(failed.items())) or "none"))
    return out
