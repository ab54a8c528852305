"""The numbers of a comparison: what the report, the web UI's Comparison tab and /comparison show.

Pure functions over run summaries (``loadtests.summary.summarize``'s output, grouped by target:
``{"monolith": [run, ...], "microservices": [run, ...]}``), no HTML and no charts: the page is
``loadtests/report.py`` with its templates, the charts ``loadtests/report_charts.py``.

How two numbers are compared, everywhere (the headline table, the honest reading, the
Comparison tab):

- **ratio**: microservices / monolith on the medians, written ``2.10×``. When one side is 0 a
  ratio means nothing (1.05% against 0% is not "0.00×"), so the difference is written instead,
  in the number's own unit (``+1.05 points``, ``+12 ms``); 0 against 0 is "both 0".
- **better**: the same rule as the scenarios' verdicts (``verdict`` below, which they use): one
  side is better only when the difference is over 20% *and* over the measure's own noise floor
  (5 ms for latencies, 0.5 points for error rates, 2 s for recovery...); otherwise "neither
  (within noise)". Numbers that describe the load rather than a result (offered rate, peak
  users) are not judged.
"""
import math
import re
import statistics
from dataclasses import dataclass
from typing import Callable

NOISE_RATIO = 0.20          # differences under this are "within noise on a shared machine"
BASE, OTHER = "monolith", "microservices"
DASH = "—"                  # shown where there is no number
NOT_JUDGED = ""             # a number that describes the load, not a result
WITHIN_NOISE = "neither (within noise)"
UNITS = {"ms": " ms", "s": " s", "pct": " points", "rate": "/s", "count": "", "mb": " MB", "number": ""}

_ABSENT = object()


# -- picking numbers out of runs ----------------------------------------------------------------
def dig(data, *keys, default=None):
    """data[k1][k2]... or default when any level is missing (or not a dict)."""
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def normalise(runs: dict) -> dict[str, list[dict]]:
    """Targets -> list of run dicts (a lone dict counts as one run; None as no run)."""
    out = {}
    for target, value in (runs or {}).items():
        if isinstance(value, dict):
            value = [value]
        out[target] = [r for r in (value or []) if isinstance(r, dict)]
    return out


def ordered_targets(runs: dict) -> list[str]:
    """Targets that have at least one run: monolith, microservices, then any other, by name."""
    present = [t for t, rs in runs.items() if rs]
    known = [t for t in (BASE, OTHER) if t in present]
    return known + sorted(t for t in present if t not in known)


def missing_targets(runs: dict) -> list[str]:
    return [t for t in (BASE, OTHER) if not runs.get(t)]


def first_runs(runs: dict) -> dict[str, dict]:
    return {t: runs[t][0] for t in ordered_targets(runs)}


def can_compare(runs: dict) -> bool:
    return bool(runs.get(BASE)) and bool(runs.get(OTHER))


def has_spike(runs: dict) -> bool:
    return any(dig(r, "totals", "spike") for rs in runs.values() for r in rs or [])


def has_fault(runs: dict) -> bool:
    return any(dig(r, "totals", "fault") for rs in runs.values() for r in rs or [])


def is_open(run: dict) -> bool:
    return run.get("model") == "open" or any("offered" in row for row in run.get("timeline") or [])


def is_quick(environment: dict | None) -> bool:
    return bool((environment or {}).get("QUICK"))


# -- formatting ---------------------------------------------------------------------------------
def fmt_value(x, kind: str = "number") -> str:
    """How every page writes a number. kind: rate, ms, pct, count, s, mb or number."""
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x):
        return DASH if not isinstance(x, str) else x
    if kind == "count":
        return f"{x:,.0f}"
    if kind == "pct":
        return f"{x:.2f}"
    if kind in ("ms", "s", "mb"):
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


def fmt_difference(diff: float, kind: str) -> str:
    sign = "+" if diff > 0 else "−" if diff < 0 else "±"
    return f"{sign}{fmt_value(abs(diff), kind)}{UNITS.get(kind, '')}"


def ratio_text(base, other, kind: str = "number") -> str:
    """other / base as ``2.10×``; the difference when a side is 0; "both 0"; a dash otherwise."""
    if not _number(base) or not _number(other):
        return DASH
    if base == 0 and other == 0:
        return "both 0"
    if base == 0 or other == 0:
        return fmt_difference(other - base, kind)
    return f"{other / base:.2f}×"


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and not math.isnan(x)


# -- judging a difference ------------------------------------------------------------------------
def verdict(claim: str, measure: str, values: dict[str, float | None], kind: str, lower_is_better: bool = True,
            abs_noise: float = 0.0, note: str = "", none_is_worst: bool = False) -> dict:
    """Which deployment did better on one number: the other one by more than NOISE_RATIO (relative)
    and abs_noise (absolute), else 'neither (within noise)'. With none_is_worst, a missing
    number (e.g. never recovered) loses to any number."""
    mono, micro = values.get("monolith"), values.get("microservices")
    better = "-"
    if none_is_worst and (mono is None) != (micro is None) and "monolith" in values and "microservices" in values:
        better = "monolith" if micro is None else "microservices"
    elif mono is not None and micro is not None:
        lo, hi = sorted([mono, micro])
        diff = hi - lo
        if diff <= abs_noise or (lo > 0 and diff / lo < NOISE_RATIO) or (lo == hi):
            better = "neither (within noise)"
        elif lower_is_better:
            better = "monolith" if mono < micro else "microservices"
        else:
            better = "monolith" if mono > micro else "microservices"
    return {"claim": claim, "measure": measure, "kind": kind,
            "values": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in values.items()},
            "better": better, "note": note}


def judge(base, other, kind: str, lower_is_better: bool = True, abs_noise: float = 0.0,
          none_is_worst: bool = False) -> str:
    """Which target did better on one number, by the scenarios' verdict rule (the same function,
    so the report, the UI and the verdicts never disagree)."""
    values = {BASE: base if _number(base) else None, OTHER: other if _number(other) else None}
    return verdict("", "", values, kind, lower_is_better=lower_is_better, abs_noise=abs_noise,
                   none_is_worst=none_is_worst)["better"]


# -- the headline numbers -----------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    label: str
    path: tuple
    kind: str
    judged: bool = True             # a result (judged better/worse), not a description of the load
    lower_is_better: bool = True
    abs_noise: float = 0.0          # the measure's noise floor, in its own unit
    none_means: str | None = None   # what an explicit null means (else: no number)
    getter: Callable | None = None  # run -> value, instead of following path
    none_is_worst: bool = False     # a null (e.g. never recovered) loses to any number


def saturation_users(run: dict):
    """Users of the step that saturated; None if a closed ramp never saturated; absent for the
    other shapes and for the open model's ramp (its capacity is a rate: capacity_rate)."""
    if run.get("shape") != "ramp" and not run.get("steps"):
        return _ABSENT
    if run.get("model") == "open":
        return _ABSENT
    found = re.search(r"saturated at (\d+) users", run.get("stop_reason") or "")
    return int(found.group(1)) if found else None


def capacity_rate(run: dict):
    """The open ramp's capacity (the last step that held the SLO); absent otherwise."""
    if "capacity" not in run:
        return _ABSENT
    return run["capacity"].get("rps")


def best_step_rps(run: dict):
    rates = [s.get("rps") for s in run.get("steps") or [] if _number(s.get("rps"))]
    return max(rates) if rates else _ABSENT


def recovery(run: dict):
    """Seconds to recover after the spike; None when it did not (absent without a spike)."""
    return run["recovery_s"] if "recovery_s" in run else _ABSENT


MEMORY_LABEL = "Peak memory MB (all processes together, during the load)"
MEMORY_NOTE = ("Peak memory: the highest sum of the resident memory (RSS) of every process of the "
               "deployment, sampled each second, during the load only.")

HEADLINE = [
    Metric("Capacity (open-model step test), req/s", ("capacity_rps",), "rate", lower_is_better=False, abs_noise=5),
    Metric("Offered requests/s, during the spike", ("totals", "spike", "offered_rps"), "rate", judged=False),
    Metric("Goodput/s (ok within the SLO), during the spike", ("totals", "spike", "goodput_rps"), "rate",
           lower_is_better=False, abs_noise=5),
    Metric("Within the SLO, % of requests, during the spike", ("totals", "spike", "within_slo_pct"), "pct",
           lower_is_better=False, abs_noise=0.5),
    Metric("Offered requests/s, during the fault", ("totals", "fault", "offered_rps"), "rate", judged=False),
    Metric("Goodput/s (ok within the SLO), during the fault", ("totals", "fault", "goodput_rps"), "rate",
           lower_is_better=False, abs_noise=5),
    Metric("Seconds the SLO was broken", ("slo", "violation_seconds"), "s", abs_noise=2),
    Metric("Shed at once (503 + Retry-After), whole run", ("totals", "all", "errors", "shed"), "count",
           judged=False),
    Metric("Timed out, whole run", ("totals", "all", "errors", "timeout"), "count", abs_noise=2),
    Metric("Dropped by the load generator (in-flight limit), whole run", ("totals", "all", "dropped"), "count",
           judged=False),
    Metric("Peak requests in flight", ("totals", "all", "peak_in_flight"), "count", judged=False),
    Metric("Requests/s, whole run", ("totals", "all", "rps"), "rate", lower_is_better=False, abs_noise=5),
    Metric("Requests/s, during the spike", ("totals", "spike", "rps"), "rate", lower_is_better=False, abs_noise=5),
    Metric("p50 ms, whole run", ("totals", "all", "p50_ms"), "ms", abs_noise=5),
    Metric("p95 ms, whole run", ("totals", "all", "p95_ms"), "ms", abs_noise=5),
    Metric("p99 ms, whole run", ("totals", "all", "p99_ms"), "ms", abs_noise=5),
    Metric("p50 ms, during the spike", ("totals", "spike", "p50_ms"), "ms", abs_noise=5),
    Metric("p95 ms, during the spike", ("totals", "spike", "p95_ms"), "ms", abs_noise=5),
    Metric("p99 ms, during the spike", ("totals", "spike", "p99_ms"), "ms", abs_noise=5),
    Metric("Error %, whole run", ("totals", "all", "error_pct"), "pct", abs_noise=0.5),
    Metric("Error %, during the spike", ("totals", "spike", "error_pct"), "pct", abs_noise=0.5),
    Metric("p95 ms before the spike (baseline)", ("baseline_p95_ms",), "ms", abs_noise=5),
    Metric("Peak users", (), "count", judged=False, getter=lambda r: _ABSENT if is_open(r) else r.get("peak_users", _ABSENT)),
    Metric("Ramp: best requests/s of a step", (), "rate", lower_is_better=False, abs_noise=5, getter=best_step_rps),
    Metric("Ramp: saturated at users", (), "count", lower_is_better=False, none_means="did not saturate",
           getter=saturation_users),
    Metric("Ramp: capacity (highest step within the SLO), req/s", (), "rate", lower_is_better=False, abs_noise=5,
           none_means="no step held", getter=capacity_rate),
    Metric("Recovery after the spike, s", (), "s", abs_noise=2, none_means="did not recover", getter=recovery,
           none_is_worst=True),
    Metric("CPU seconds", ("resources", "cpu_seconds"), "number"),
    Metric("CPU ms per request", ("resources", "cpu_ms_per_request"), "number"),
    Metric(MEMORY_LABEL, ("resources", "peak_rss_mb"), "mb"),
    Metric("Average memory MB (all processes together, during the load)", ("resources", "avg_rss_mb"), "mb"),
]


@dataclass
class Cell:
    """One metric over a target's repeats."""
    values: list
    n_runs: int
    n_null: int          # runs where the value is an explicit null

    @property
    def empty(self) -> bool:
        return not self.values and not self.n_null

    @property
    def median(self):
        return statistics.median(self.values) if self.values else None

    @property
    def low(self):
        return min(self.values) if self.values else None

    @property
    def high(self):
        return max(self.values) if self.values else None

    @property
    def spread(self) -> bool:
        return len(self.values) > 1


def cell_for(target_runs: list[dict], metric: Metric) -> Cell:
    found = [metric.getter(r) if metric.getter else dig(r, *metric.path, default=_ABSENT) for r in target_runs]
    values = [v for v in found if _number(v)]
    nulls = sum(1 for v in found if v is None) if metric.none_means else 0
    return Cell(values, len(target_runs), nulls)


def cell_text(cell: Cell, metric: Metric) -> dict:
    """How a cell reads: its main text and, with repeats, a smaller line under it."""
    if cell.empty:
        return {"main": DASH, "sub": ""}
    if not cell.values:
        return {"main": metric.none_means, "sub": ""}
    subs = []
    if cell.spread:
        subs.append(f"{fmt_value(cell.low, metric.kind)}–{fmt_value(cell.high, metric.kind)}")
    if cell.n_null:
        subs.append(f"{cell.n_null} of {cell.n_runs} {metric.none_means}")
    elif len(cell.values) < cell.n_runs:
        subs.append(f"from {len(cell.values)} of {cell.n_runs} runs")
    return {"main": fmt_value(cell.median, metric.kind), "sub": "; ".join(subs)}


@dataclass
class Row:
    metric: Metric
    cells: dict          # target -> Cell
    ratio: str           # microservices / monolith, or the difference (see ratio_text)
    better: str          # judge(), NOT_JUDGED for a number that describes the load, "" without both

    @property
    def label(self) -> str:
        return self.metric.label


def compare_cells(metric: Metric, base: Cell | None, other: Cell | None) -> tuple[str, str]:
    """(ratio text, better) of two cells; dashes and '' where a side is missing."""
    if base is None or other is None or base.empty or other.empty:
        return DASH, ""
    if base.n_null or other.n_null:        # "did not recover" is not a number to divide
        better = (judge(None if base.n_null > base.n_runs / 2 else base.median,
                        None if other.n_null > other.n_runs / 2 else other.median, metric.kind,
                        metric.lower_is_better, metric.abs_noise, none_is_worst=True)
                  if metric.judged and metric.none_is_worst else "")
        return DASH, "" if better == "-" else better
    ratio = ratio_text(base.median, other.median, metric.kind)
    better = (judge(base.median, other.median, metric.kind, metric.lower_is_better, metric.abs_noise)
              if metric.judged else NOT_JUDGED)
    return ratio, better


def headline_rows(runs: dict, metrics: list[Metric] = HEADLINE) -> list[Row]:
    """The metrics that at least one target has a number (or an explicit null) for."""
    targets = ordered_targets(runs)
    rows = []
    for metric in metrics:
        cells = {t: cell_for(runs[t], metric) for t in targets}
        if not any(not c.empty for c in cells.values()):
            continue
        ratio, better = compare_cells(metric, cells.get(BASE), cells.get(OTHER))
        rows.append(Row(metric, cells, ratio, better))
    return rows


def repeats_text(n: int) -> str:
    return "1 run" if n == 1 else f"median of {n} runs, min–max below"


# -- the honest reading -------------------------------------------------------------------------
def comparison_lines(runs: dict) -> tuple[list[str], list[str]]:
    """(within noise, real differences): one plain sentence per judged number both targets have."""
    small, large = [], []
    for row in headline_rows(runs):
        base, other = row.cells.get(BASE), row.cells.get(OTHER)
        if not row.metric.judged or base is None or other is None or base.empty or other.empty:
            continue
        sentence, is_small = compare_sentence(row)
        (small if is_small else large).append(sentence)
    return small, large


def compare_sentence(row: Row) -> tuple[str, bool]:
    metric, base, other = row.metric, row.cells[BASE], row.cells[OTHER]
    b = fmt_value(base.median, metric.kind) if base.values else metric.none_means
    o = fmt_value(other.median, metric.kind) if other.values else metric.none_means
    stem = f"{metric.label}: {BASE} {b}, {OTHER} {o}"
    if base.n_null or other.n_null:
        if row.better and row.better not in (WITHIN_NOISE, "-"):
            return f"{stem}; better: {row.better}.", False
        return f"{stem}.", True
    is_small = row.better in (WITHIN_NOISE, "-")
    sentence = f"{stem} → {row.ratio}"
    if "×" in row.ratio:
        sentence += f" ({(other.median / base.median - 1) * 100:+.0f}%)"
    if is_small:
        diff = abs(other.median - base.median)
        if metric.abs_noise and diff <= metric.abs_noise and base.median and other.median \
                and abs(other.median / base.median - 1) >= NOISE_RATIO:
            sentence += f"; a difference of {fmt_value(diff, metric.kind)}{UNITS.get(metric.kind, '')} is under " \
                        f"this measure's noise floor ({metric.abs_noise:g}{UNITS.get(metric.kind, '')})"
    else:
        sentence += f"; better: {row.better}"
        if spreads_overlap(base, other):
            sentence += "; the min–max spreads overlap, so even this may be noise"
    return sentence + ".", is_small


def spreads_overlap(a: Cell, b: Cell) -> bool:
    if len(a.values) < 2 or len(b.values) < 2:
        return False
    return a.low <= b.high and b.low <= a.high


def caveats(runs: dict, environment: dict | None = None) -> list[str]:
    out = []
    if is_quick(environment):
        out.append("A smoke run (QUICK=1): a few seconds of a small load, to check that the pipeline works. "
                   "It is not a measurement: no number here says anything about either architecture.")
    for t in missing_targets(runs):
        out.append(f"No runs for {t}: it is left out of every table and chart.")
    targets = ordered_targets(runs)
    if targets and all(len(runs[t]) == 1 for t in targets):
        out.append("One run per target: run-to-run variation is unknown, so even the larger "
                   "differences could be noise. Repeat the runs to see the spread.")
    shapes = {r.get("shape") for t in targets for r in runs[t]}
    if len(shapes) > 1:
        out.append(f"The runs used different load shapes ({', '.join(sorted(map(str, shapes)))}): "
                   "their numbers are not comparable.")
    models = {r.get("model") or "closed" for t in targets for r in runs[t]}
    if len(models) > 1:
        out.append(f"The runs used different load models ({', '.join(sorted(models))}): their numbers are "
                   "not comparable.")
    if "ramp" in shapes and len(shapes) == 1:
        out.append("A ramp's whole-run numbers mix every step's load, and each target stops at its "
                   "own saturation: compare the saturation point and the steps table instead.")
    peaks = {t: {r.get("peak_users") for r in runs[t] if r.get("shape") != "ramp" and r.get("model") != "open"}
             for t in targets}
    peaks = {t: ps for t, ps in peaks.items() if ps}
    if len({p for ps in peaks.values() for p in ps}) > 1:
        text = "; ".join(f"{t}: {', '.join(map(str, sorted(ps, key=str)))}" for t, ps in peaks.items())
        out.append(f"Peak users differ between runs ({text}): the targets did not get the same load.")
    early = [f"{t} run {i}" for t in targets for i, r in enumerate(runs[t], 1) if r.get("stopped_early")]
    if early:
        out.append(f"Stopped early, before the shape ended: {', '.join(early)}. Its numbers cover only part "
                   "of the load.")
    return out


# -- verdicts, in words --------------------------------------------------------------------------
def verdict_answer(verdicts: list[dict], quick: bool = False) -> str:
    """One sentence: what the verdict rows measured, for the claim above them."""
    if quick:
        return ("No answer from a smoke run (QUICK=1): it is too short and too small to measure anything. "
                "The table only shows that every number could be computed; run without QUICK for a verdict.")
    judged = [v for v in verdicts if v.get("better") not in (None, "", "-")]
    if not judged:
        return "No answer: the runs did not give both deployments a number on any measure."
    wins = {t: [v["measure"] for v in judged if v["better"] == t] for t in (OTHER, BASE)}
    n, noise = len(judged), sum(1 for v in judged if v["better"] == WITHIN_NOISE)
    rest = f"; {noise} within noise" if noise else ""
    missing = len(verdicts) - n
    rest += f"; {missing} without a number for both" if missing else ""

    def listed(measures):
        return "; ".join(measures)

    if wins[OTHER] and not wins[BASE]:
        return (f"Yes, on this machine: the microservices did better on {len(wins[OTHER])} of {n} measures "
                f"({listed(wins[OTHER])}), the monolith on none{rest}.")
    if wins[BASE] and not wins[OTHER]:
        return (f"Not on this machine: the monolith did better on {len(wins[BASE])} of {n} measures "
                f"({listed(wins[BASE])}), the microservices on none{rest}.")
    if wins[BASE] and wins[OTHER]:
        return (f"Mixed, on this machine: the microservices did better on {len(wins[OTHER])} of {n} measures "
                f"({listed(wins[OTHER])}), the monolith on {len(wins[BASE])} ({listed(wins[BASE])}){rest}.")
    return f"No difference on this machine: all {n} measures were within noise{rest}."


# -- tables ---------------------------------------------------------------------------------------
ENDPOINT_COLUMNS = [("req/s", "rps", "rate"), ("p50", "p50_ms", "ms"), ("p95", "p95_ms", "ms"),
                    ("p99", "p99_ms", "ms"), ("err %", "error_pct", "pct")]
STEP_COLUMNS = ENDPOINT_COLUMNS


def endpoint_windows(runs: dict) -> list[tuple[str, str]]:
    if has_fault(runs):
        return [("before", "Before the fault"), ("fault", "During the fault"), ("after", "After the fault")]
    if has_spike(runs):
        return [("spike", "During the spike"), ("outside_spike", "Outside the spike")]
    return [("all", "Whole run")]


def endpoint_names(runs: dict) -> list[str]:
    return sorted({name for rs in runs.values() for r in rs or [] for name in (r.get("endpoints") or {})})


def endpoint_median(target_runs: list[dict], name: str, window: str, key: str):
    return cell_for(target_runs, Metric("", ("endpoints", name, window, key), "number")).median


def endpoint_table(runs: dict, window: str) -> dict:
    targets = ordered_targets(runs)
    rows = []
    for name in endpoint_names(runs):
        values = {t: [fmt_value(endpoint_median(runs[t], name, window, key), kind)
                      for _, key, kind in ENDPOINT_COLUMNS] for t in targets}
        p95 = {t: endpoint_median(runs[t], name, window, "p95_ms") for t in targets}
        rows.append({"name": name, "values": values,
                     "ratio": ratio_text(p95.get(BASE), p95.get(OTHER), "ms") if can_compare(runs) else None})
    return {"window": window, "targets": targets, "columns": [c[0] for c in ENDPOINT_COLUMNS], "rows": rows,
            "compare": can_compare(runs)}


def has_steps(runs: dict) -> bool:
    return any(r.get("steps") for rs in runs.values() for r in rs or [])


def step_level(step: dict):
    """A step's load: its users (closed model) or its offered rate (open model)."""
    return step.get("users", step.get("target_rps"))


def step_median(target_runs: list[dict], level, key: str):
    values = [s.get(key) for r in target_runs for s in r.get("steps") or [] if step_level(s) == level]
    values = [v for v in values if _number(v)]
    return statistics.median(values) if values else None


def steps_table(runs: dict) -> dict:
    targets = ordered_targets(runs)
    levels = sorted({step_level(s) for t in targets for r in runs[t] for s in r.get("steps") or []
                     if _number(step_level(s))})
    open_model = any("target_rps" in s for t in targets for r in runs[t] for s in r.get("steps") or [])
    rows = [{"level": f"{level:,g}",
             "values": {t: [fmt_value(step_median(runs[t], level, key), kind) for _, key, kind in STEP_COLUMNS]
                        for t in targets}} for level in levels]
    return {"level": "offered req/s" if open_model else "users", "targets": targets,
            "columns": [c[0] for c in STEP_COLUMNS], "rows": rows}


def saturation_lines(runs: dict) -> list[str]:
    lines = []
    for t in ordered_targets(runs):
        for i, r in enumerate(runs[t], 1):
            if r.get("shape") != "ramp" and not r.get("steps"):
                continue
            reason = r.get("stop_reason") or "no stop reason recorded (stopped by hand or by a time limit)"
            lines.append(f"{t if len(runs[t]) == 1 else f'{t}, run {i}'}: {reason}")
    return lines


def thresholds_text(runs: dict) -> str:
    options = next((r.get("shape_options") for rs in runs.values() for r in rs or [] if r.get("shape_options")),
                   {}) or {}
    err = options.get("ramp_max_error_pct")
    if any(r.get("model") == "open" for rs in runs.values() for r in rs):
        slo = options.get("slo_ms")
        return (f"A step holds when its p95 stays within the SLO ({slo:g} ms), its errors under {err:g}% and no "
                "arrival is dropped. Each step is judged on its second half." if slo and err is not None else "")
    p95 = options.get("ramp_max_p95_ms")
    if p95 is None and err is None:
        return ""
    return (f"A step counts as saturated when p95 exceeds {p95} ms or errors exceed {err}%. Each step is "
            "judged on its second half, after its users have arrived.")


def capacity_lines(capacity_runs: dict, runs: dict) -> list[str]:
    """One sentence per deployment's capacity step test, and where the load that followed fell."""
    chosen = {t: r for t, r in (capacity_runs or {}).items() if r and r.get("steps")}
    lines = []
    for t in ordered_targets({k: [v] for k, v in chosen.items()}):
        cap = chosen[t].get("capacity") or {}
        text = f"{t}: {fmt_value(cap.get('rps'), 'rate')} req/s"
        if cap.get("first_failed_rps"):
            text += f" (the next step, {fmt_value(cap['first_failed_rps'], 'rate')} req/s, failed: {cap.get('why')})"
        else:
            text += f" ({chosen[t].get('stop_reason') or 'no stop reason'})"
        first = (runs.get(t) or [None])[0]
        options = (first or {}).get("shape_options") or {}
        if cap.get("rps"):
            if has_spike({t: [first] if first else []}) and options.get("peak_rps"):
                peak = options["peak_rps"]
                text += f"; the spike's peak, {fmt_value(peak, 'rate')} req/s, is {peak / cap['rps']:.1f}x this capacity"
            elif options.get("fault_rps"):
                text += (f"; the fault phase's {fmt_value(options['fault_rps'], 'rate')} req/s is "
                         f"{options['fault_rps'] / cap['rps']:.1f}x this capacity")
            elif options.get("steady_rps"):
                text += (f"; the steady load, {fmt_value(options['steady_rps'], 'rate')} req/s, is "
                         f"{options['steady_rps'] / cap['rps']:.0%} of this capacity")
        lines.append(text)
    return lines


def capacity_steps(capacity_runs: dict) -> list[list[str]]:
    chosen = {t: r for t, r in (capacity_runs or {}).items() if r and r.get("steps")}
    rows = []
    for t in ordered_targets({k: [v] for k, v in chosen.items()}):
        for step in chosen[t]["steps"]:
            rows.append([t, fmt_value(step.get("target_rps"), "rate"), fmt_value(step.get("answered_rps"), "rate"),
                         fmt_value(step.get("goodput_rps"), "rate"), fmt_value(step.get("p95_ms"), "ms"),
                         fmt_value(step.get("error_pct"), "pct"), "yes" if step.get("held") else "no",
                         step.get("why") or ""])
    return rows


def runs_rows(runs: dict) -> list[list[str]]:
    rows = []
    for t in ordered_targets(runs):
        for i, r in enumerate(runs[t], 1):
            state = "stopped early" if r.get("stopped_early") else "complete" if r.get("complete") else ""
            rows.append([t, str(i), r.get("started_at") or DASH, r.get("url") or DASH, r.get("shape") or DASH,
                         r.get("model") or "closed", fmt_value(r.get("duration_s"), "s"),
                         fmt_value(dig(r, "totals", "all", "requests"), "count"),
                         "; ".join(x for x in (state, r.get("stop_reason") or "") if x) or DASH])
    return rows


def process_rows(runs: dict) -> list[list[str]]:
    rows = []
    for t, r in first_runs(runs).items():
        for p in dig(r, "resources", "processes") or []:
            rows.append([t, p.get("name", DASH), str(p.get("pid", DASH)), fmt_value(p.get("cpu_seconds")),
                         fmt_value(p.get("peak_rss_mb"), "mb")])
    return rows


def shape_options(runs: dict) -> dict:
    """The first run's options for the shape(s) that ran (spike_* for a spike, ramp_* for a ramp)."""
    shapes = {r.get("shape") for rs in runs.values() for r in rs or []}
    options = next((r.get("shape_options") for rs in runs.values() for r in rs or [] if r.get("shape_options")),
                   None) or {}
    wanted = tuple(f"{s}_" for s in shapes if isinstance(s, str)) or ("",)
    return {k: v for k, v in options.items() if k.startswith(wanted)} or options


def subtitle(runs: dict) -> str:
    targets = ordered_targets(runs)
    if not targets:
        return "No runs to report."
    shapes = sorted({str(r.get("shape")) for t in targets for r in runs[t]})
    models = sorted({str(r.get("model") or "closed") for t in targets for r in runs[t]})
    counts = ", ".join(f"{t}: {len(runs[t])} run{'s' if len(runs[t]) > 1 else ''}" for t in targets)
    started = sorted(str(r.get("started_at")) for t in targets for r in runs[t] if r.get("started_at"))
    when = (f"; started {started[0]}" + (f" to {started[-1]}" if started[-1] != started[0] else "")) if started else ""
    return f"Shape: {', '.join(shapes)} ({', '.join(models)} model); {counts}{when}."
