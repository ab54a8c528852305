"""The comparison report: the same traffic on the monolith and on the microservices, side by side.

Input is what ``loadtests.summary.summarize`` writes for each run, grouped by target:
``{"monolith": [run, ...], "microservices": [run, ...]}`` (one or more repeats of one shape).
Output is one self-contained HTML page (inline CSS, charts as inline PNG, no JavaScript, nothing
fetched) and, for a README, the same charts as PNG files.

What the page shows, top to bottom, and how to read it:

- **Headline table**: one column per target, one row per number (requests/s, p50/p95/p99 latency
  and error % over the whole run and during the spike, peak users, recovery after the spike,
  and, for headless runs, CPU seconds, CPU ms per request and memory). With repeats, the big
  number is the median and the small grey range under it is min–max. The ratio column is
  microservices / monolith on the medians: above 1 means the microservices' number is higher
  (more throughput, but also more latency or errors).
- **Reading it honestly**: which differences are under 20% (within noise on a shared machine,
  so not evidence of anything) and which are larger, with warnings when the runs are not
  comparable (one run only, different shapes, different peak users, a missing target).
- **Charts**: the targets overlaid over time (seconds since each run started, spike shaded):
  users, requests/s, p95 latency, errors/s; CPU % and RSS when recorded; p95 per endpoint
  during the spike; for a ramp, requests/s and p95 per step. With repeats, the time charts
  draw each target's first run.
- **Per-endpoint tables** (during the spike and outside it), the **ramp steps and saturation
  point**, the **runs included**, the **environment** and the **notes**.

Missing data never stops the report: a target without runs is left out (and said so), empty
seconds and absent percentiles are gaps, absent resources simply drop their rows and chart.
"""
import base64
import html
import io
import json
import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from loadtests import insights

DPI = 110
NOISE_RATIO = 0.20          # differences under this are "within noise on a shared machine"
BASE, OTHER = "monolith", "microservices"
# Okabe-Ito palette: safe for the common colour-vision deficiencies
COLOURS = {BASE: "#0072B2", OTHER: "#E69F00"}
SPARE_COLOURS = ["#009E73", "#CC79A7", "#56B4E9", "#D55E00"]
DASHED = (0, (5, 2))        # microservices lines are dashed too, so overlapping lines stay visible
SPIKE_SHADE = "#BBBBBB"
DASH = "—"                  # shown where there is no number


# -- picking numbers out of runs ----------------------------------------------------------------
_ABSENT = object()


def dig(data, *keys, default=None):
    """data[k1][k2]... or default when any level is missing (or not a dict)."""
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def ordered_targets(runs: dict) -> list[str]:
    """Targets that have at least one run: monolith, microservices, then any other, by name."""
    present = [t for t, rs in runs.items() if rs]
    known = [t for t in (BASE, OTHER) if t in present]
    return known + sorted(t for t in present if t not in known)


def missing_targets(runs: dict) -> list[str]:
    return [t for t in (BASE, OTHER) if not runs.get(t)]


def first_runs(runs: dict) -> dict[str, dict]:
    return {t: runs[t][0] for t in ordered_targets(runs)}


def colour(target: str, targets: list[str]) -> str:
    if target in COLOURS:
        return COLOURS[target]
    others = [t for t in targets if t not in COLOURS]
    return SPARE_COLOURS[others.index(target) % len(SPARE_COLOURS)] if target in others else "#000000"


def line_style(target: str) -> dict:
    return {"ls": DASHED if target == OTHER else "-", "lw": 1.7}


def spike_window(run: dict) -> tuple[float, float] | None:
    """The shaded window of a run: its spike, or its fault (steady scenarios)."""
    for phase in run.get("phases") or []:
        if phase.get("name") in ("spike", "fault") and phase.get("start") is not None:
            end = phase.get("end")
            return float(phase["start"]), float(end if end is not None else run.get("duration_s") or 0)
    return None


def has_spike(runs: dict) -> bool:
    return any(dig(r, "totals", "spike") for rs in runs.values() for r in rs or [])


# -- formatting ---------------------------------------------------------------------------------
def fmt_value(x, kind: str = "number") -> str:
    """How the report writes a number. kind: rate, ms, pct, count, s, mb or number."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return DASH
    if kind == "count":
        return f"{x:,.0f}"
    if kind == "pct":
        return f"{x:.2f}"
    if kind in ("ms", "s", "mb"):
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


def fmt_ratio(ratio: float | None) -> str:
    return DASH if ratio is None else f"{ratio:.2f}×"


def ratio_of(base: float | None, other: float | None) -> float | None:
    """other / base; 1 when both are 0; None when it cannot be a ratio."""
    if base is None or other is None:
        return None
    if base == 0:
        return 1.0 if other == 0 else None
    return other / base


def esc(value) -> str:
    return html.escape(str(value))


# -- headline numbers ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    label: str
    path: tuple
    kind: str
    compared: bool = True           # listed in the honest reading
    none_means: str | None = None   # what an explicit null means (else: no number)
    getter: Callable | None = None  # run -> value, instead of following path


def saturation_users(run: dict):
    """Users of the step that saturated; None if a ramp never saturated; absent for a spike
    and for the open model's ramp (its capacity is a rate: capacity_rate)."""
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
    rates = [s.get("rps") for s in run.get("steps") or [] if isinstance(s.get("rps"), (int, float))]
    return max(rates) if rates else _ABSENT


HEADLINE = [
    Metric("Capacity (open-model step test), req/s", ("capacity_rps",), "rate", compared=False),
    Metric("Offered requests/s, during the spike", ("totals", "spike", "offered_rps"), "rate", compared=False),
    Metric("Goodput/s (ok within the SLO), during the spike", ("totals", "spike", "goodput_rps"), "rate"),
    Metric("Within the SLO, % of requests, during the spike", ("totals", "spike", "within_slo_pct"), "pct"),
    Metric("Offered requests/s, during the fault", ("totals", "fault", "offered_rps"), "rate", compared=False),
    Metric("Goodput/s (ok within the SLO), during the fault", ("totals", "fault", "goodput_rps"), "rate"),
    Metric("Seconds the SLO was broken", ("slo", "violation_seconds"), "s"),
    Metric("Shed at once (503 + Retry-After), whole run", ("totals", "all", "errors", "shed"), "count"),
    Metric("Timed out, whole run", ("totals", "all", "errors", "timeout"), "count"),
    Metric("Dropped by the load generator (in-flight limit), whole run", ("totals", "all", "dropped"), "count",
           compared=False),
    Metric("Peak requests in flight", ("totals", "all", "peak_in_flight"), "count", compared=False),
    Metric("Requests/s, whole run", ("totals", "all", "rps"), "rate"),
    Metric("Requests/s, during the spike", ("totals", "spike", "rps"), "rate"),
    Metric("p50 ms, whole run", ("totals", "all", "p50_ms"), "ms"),
    Metric("p95 ms, whole run", ("totals", "all", "p95_ms"), "ms"),
    Metric("p99 ms, whole run", ("totals", "all", "p99_ms"), "ms"),
    Metric("p50 ms, during the spike", ("totals", "spike", "p50_ms"), "ms"),
    Metric("p95 ms, during the spike", ("totals", "spike", "p95_ms"), "ms"),
    Metric("p99 ms, during the spike", ("totals", "spike", "p99_ms"), "ms"),
    Metric("Error %, whole run", ("totals", "all", "error_pct"), "pct"),
    Metric("Error %, during the spike", ("totals", "spike", "error_pct"), "pct"),
    Metric("p95 ms before the spike (baseline)", ("baseline_p95_ms",), "ms"),
    Metric("Peak users", ("peak_users",), "count", compared=False),
    Metric("Ramp: best requests/s of a step", (), "rate", getter=best_step_rps),
    Metric("Ramp: saturated at users", (), "count", none_means="did not saturate", getter=saturation_users),
    Metric("Ramp: capacity (highest step within the SLO), req/s", (), "rate", none_means="no step held",
           getter=capacity_rate),
    Metric("Recovery after the spike, s", ("recovery_s",), "s", none_means="did not recover"),
    Metric("CPU seconds", ("resources", "cpu_seconds"), "number"),
    Metric("CPU ms per request", ("resources", "cpu_ms_per_request"), "number"),
    Metric("Peak RSS MB", ("resources", "peak_rss_mb"), "mb"),
    Metric("Average RSS MB", ("resources", "avg_rss_mb"), "mb"),
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


def cell_for(target_runs: list[dict], metric: Metric) -> Cell:
    found = [metric.getter(r) if metric.getter else dig(r, *metric.path, default=_ABSENT)
             for r in target_runs]
    values = [v for v in found if isinstance(v, (int, float)) and not isinstance(v, bool)
              and not math.isnan(v)]
    nulls = sum(1 for v in found if v is None) if metric.none_means else 0
    return Cell(values, len(target_runs), nulls)


def cell_html(cell: Cell, metric: Metric) -> str:
    if cell.empty:
        return DASH
    if not cell.values:
        return esc(metric.none_means)
    text = esc(fmt_value(cell.median, metric.kind))
    if len(cell.values) > 1:
        spread = f"{fmt_value(cell.low, metric.kind)}–{fmt_value(cell.high, metric.kind)}"
        text += f'<span class="spread">{esc(spread)}</span>'
    if cell.n_null:
        text += f'<span class="spread">{cell.n_null} of {cell.n_runs} {esc(metric.none_means)}</span>'
    elif len(cell.values) < cell.n_runs:
        text += f'<span class="spread">from {len(cell.values)} of {cell.n_runs} runs</span>'
    return text


def headline_rows(runs: dict) -> list[tuple[Metric, dict[str, Cell]]]:
    """The metrics that at least one target has, with each target's cell."""
    targets = ordered_targets(runs)
    rows = []
    for metric in HEADLINE:
        cells = {t: cell_for(runs[t], metric) for t in targets}
        if any(not c.empty for c in cells.values()):
            rows.append((metric, cells))
    return rows


def can_compare(runs: dict) -> bool:
    return bool(runs.get(BASE)) and bool(runs.get(OTHER))


def headline_table(runs: dict) -> str:
    targets = ordered_targets(runs)
    compare = can_compare(runs)
    head = "".join(f'<th>{esc(t)}<span class="spread">{repeats_text(len(runs[t]))}</span></th>'
                   for t in targets)
    if compare:
        head += f"<th>ratio<span class=\"spread\">{esc(OTHER)} / {esc(BASE)}</span></th>"
    body = []
    for metric, cells in headline_rows(runs):
        tds = "".join(f'<td class="num">{cell_html(cells[t], metric)}</td>' for t in targets)
        if compare:
            tds += f'<td class="num">{esc(fmt_ratio(ratio_of(cells[BASE].median, cells[OTHER].median)))}</td>'
        body.append(f"<tr><th scope=\"row\">{esc(metric.label)}</th>{tds}</tr>")
    return (f'<table class="headline"><thead><tr><th>metric</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def repeats_text(n: int) -> str:
    return "1 run" if n == 1 else f"median of {n} runs, min–max below"


# -- the honest reading -------------------------------------------------------------------------
def comparison_lines(runs: dict) -> tuple[list[str], list[str]]:
    """(differences under 20%, differences of 20% or more), as plain sentences."""
    small, large = [], []
    for metric, cells in headline_rows(runs):
        base, other = cells[BASE], cells[OTHER]
        if not metric.compared or base.empty or other.empty:
            continue
        sentence, is_small = compare_sentence(metric, base, other)
        (small if is_small else large).append(sentence)
    return small, large


def compare_sentence(metric: Metric, base: Cell, other: Cell) -> tuple[str, bool]:
    b = fmt_value(base.median, metric.kind) if base.values else metric.none_means
    o = fmt_value(other.median, metric.kind) if other.values else metric.none_means
    stem = f"{metric.label}: {BASE} {b}, {OTHER} {o}"
    if base.n_null or other.n_null:      # "did not recover" is not a number to divide
        return f"{stem}.", base.n_null == other.n_null and base.n_null == base.n_runs
    ratio = ratio_of(base.median, other.median)
    if ratio is None:
        return f"{stem} (no ratio: the {BASE} number is 0).", False
    is_small = abs(ratio - 1) < NOISE_RATIO
    sentence = f"{stem} → {fmt_ratio(ratio)} ({(ratio - 1) * 100:+.0f}%)"
    if not is_small and spreads_overlap(base, other):
        sentence += "; the min–max spreads overlap, so even this may be noise"
    return sentence + ".", is_small


def spreads_overlap(a: Cell, b: Cell) -> bool:
    if len(a.values) < 2 or len(b.values) < 2:
        return False
    return a.low <= b.high and b.low <= a.high


def caveats(runs: dict) -> list[str]:
    out = []
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
    if "ramp" in shapes and len(shapes) == 1:
        out.append("A ramp's whole-run numbers mix every step's load, and each target stops at its "
                   "own saturation: compare the saturation point and the steps table instead.")
    peaks = {t: {r.get("peak_users") for r in runs[t] if r.get("shape") != "ramp"} for t in targets}
    peaks = {t: ps for t, ps in peaks.items() if ps}
    if len({p for ps in peaks.values() for p in ps}) > 1:
        text = "; ".join(f"{t}: {', '.join(map(str, sorted(ps, key=str)))}" for t, ps in peaks.items())
        out.append(f"Peak users differ between runs ({text}): the targets did not get the same load.")
    return out


def honest_box(runs: dict) -> str:
    parts = ['<div class="box"><h2>Reading it honestly</h2>']
    if can_compare(runs):
        small, large = comparison_lines(runs)
        parts.append(f"<p>Ratios are {esc(OTHER)} / {esc(BASE)} on the medians. On a shared machine "
                     f"a difference under {NOISE_RATIO:.0%} is within noise: it is no evidence "
                     "either way.</p>")
        parts.append(f"<h3>Within noise on a shared machine (under {NOISE_RATIO:.0%})</h3>")
        parts.append(bullet_list(small) if small else "<p>None.</p>")
        parts.append(f"<h3>Differences of {NOISE_RATIO:.0%} or more</h3>")
        parts.append(bullet_list(large) if large else "<p>None.</p>")
    else:
        parts.append("<p>Only one target has runs: there is nothing to compare.</p>")
    notes = caveats(runs)
    if notes:
        parts.append("<h3>Caveats</h3>" + bullet_list(notes))
    parts.append("</div>")
    return "".join(parts)


def bullet_list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"


# -- per-endpoint tables ------------------------------------------------------------------------
ENDPOINT_COLUMNS = [("req/s", "rps", "rate"), ("p50", "p50_ms", "ms"), ("p95", "p95_ms", "ms"),
                    ("p99", "p99_ms", "ms"), ("err %", "error_pct", "pct")]


def endpoint_windows(runs: dict) -> list[tuple[str, str]]:
    if any(dig(r, "totals", "fault") for rs in runs.values() for r in rs or []):
        return [("before", "Before the fault"), ("fault", "During the fault"), ("after", "After the fault")]
    if has_spike(runs):
        return [("spike", "During the spike"), ("outside_spike", "Outside the spike")]
    return [("all", "Whole run")]


def endpoint_names(runs: dict) -> list[str]:
    return sorted({name for rs in runs.values() for r in rs or [] for name in (r.get("endpoints") or {})})


def endpoint_median(target_runs: list[dict], name: str, window: str, key: str):
    return cell_for(target_runs, Metric("", ("endpoints", name, window, key), "number")).median


def endpoint_table(runs: dict, window: str) -> str:
    targets = ordered_targets(runs)
    compare = can_compare(runs)
    top = "".join(f'<th colspan="{len(ENDPOINT_COLUMNS)}">{esc(t)}</th>' for t in targets)
    sub = "".join(f"<th>{esc(label)}</th>" for _ in targets for label, _, _ in ENDPOINT_COLUMNS)
    if compare:
        top += '<th rowspan="2">p95 ratio</th>'
    body = []
    for name in endpoint_names(runs):
        tds, p95 = "", {}
        for t in targets:
            for _, key, kind in ENDPOINT_COLUMNS:
                value = endpoint_median(runs[t], name, window, key)
                tds += f'<td class="num">{esc(fmt_value(value, kind))}</td>'
            p95[t] = endpoint_median(runs[t], name, window, "p95_ms")
        if compare:
            tds += f'<td class="num">{esc(fmt_ratio(ratio_of(p95[BASE], p95[OTHER])))}</td>'
        body.append(f"<tr><th scope=\"row\">{esc(name)}</th>{tds}</tr>")
    return (f'<table class="endpoints" data-window="{esc(window)}"><thead>'
            f'<tr><th rowspan="2">endpoint</th>{top}</tr><tr>{sub}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def endpoints_section(runs: dict) -> str:
    if not endpoint_names(runs):
        return ""
    several = any(len(runs[t]) > 1 for t in ordered_targets(runs))
    intro = ("<p>Latencies in ms; with repeats each number is the median over the runs.</p>"
             if several else "<p>Latencies in ms.</p>")
    tables = "".join(f"<h3>{esc(label)}</h3>{endpoint_table(runs, window)}"
                     for window, label in endpoint_windows(runs))
    return f"<h2>Per endpoint</h2>{intro}{tables}"


# -- ramp steps and saturation ------------------------------------------------------------------
STEP_COLUMNS = [("req/s", "rps", "rate"), ("p50", "p50_ms", "ms"), ("p95", "p95_ms", "ms"),
                ("p99", "p99_ms", "ms"), ("err %", "error_pct", "pct")]


def has_steps(runs: dict) -> bool:
    return any(r.get("steps") for rs in runs.values() for r in rs or [])


def step_level(step: dict):
    """A step's load: its users (closed model) or its offered rate (open model)."""
    return step.get("users", step.get("target_rps"))


def step_median(target_runs: list[dict], users, key: str):
    values = [s.get(key) for r in target_runs for s in r.get("steps") or [] if step_level(s) == users]
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def steps_table(runs: dict) -> str:
    targets = ordered_targets(runs)
    levels = sorted({step_level(s) for t in targets for r in runs[t] for s in r.get("steps") or []
                     if isinstance(step_level(s), (int, float))})
    open_model = any("target_rps" in s for t in targets for r in runs[t] for s in r.get("steps") or [])
    top = "".join(f'<th colspan="{len(STEP_COLUMNS)}">{esc(t)}</th>' for t in targets)
    sub = "".join(f"<th>{esc(label)}</th>" for _ in targets for label, _, _ in STEP_COLUMNS)
    body = []
    for users in levels:
        tds = "".join(f'<td class="num">{esc(fmt_value(step_median(runs[t], users, key), kind))}</td>'
                      for t in targets for _, key, kind in STEP_COLUMNS)
        body.append(f'<tr><th scope="row">{users:,g}</th>{tds}</tr>')
    level = "offered req/s" if open_model else "users"
    return (f'<table class="steps"><thead><tr><th rowspan="2">{level}</th>{top}</tr><tr>{sub}</tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table>")


def saturation_lines(runs: dict) -> list[str]:
    lines = []
    for t in ordered_targets(runs):
        target_runs = runs[t]
        for i, r in enumerate(target_runs, 1):
            if r.get("shape") != "ramp" and not r.get("steps"):
                continue
            reason = r.get("stop_reason") or "no stop reason recorded (stopped by hand or by a time limit)"
            label = t if len(target_runs) == 1 else f"{t}, run {i}"
            lines.append(f"{label}: {reason}")
    return lines


def thresholds_text(runs: dict) -> str:
    options = next((r.get("shape_options") for rs in runs.values() for r in rs or []
                    if r.get("shape_options")), {}) or {}
    p95, err = options.get("ramp_max_p95_ms"), options.get("ramp_max_error_pct")
    if p95 is None and err is None:
        return ""
    return (f"<p>A step counts as saturated when p95 exceeds {esc(p95)} ms or errors exceed "
            f"{esc(err)}%. Each step is judged on its second half, after its users have arrived.</p>")


def steps_section(runs: dict) -> str:
    if not has_steps(runs):
        return ""
    lines = saturation_lines(runs)
    saturation = bullet_list(lines) if lines else "<p>No saturation recorded.</p>"
    return (f"<h2>Ramp steps</h2>{thresholds_text(runs)}<h3>Saturation point</h3>"
            f'<div class="saturation">{saturation}</div>{steps_table(runs)}')


# -- the capacity step test ------------------------------------------------------------------
def capacity_section(capacity_runs: dict | None, runs: dict) -> str:
    chosen = {t: r for t, r in (capacity_runs or {}).items() if r and r.get("steps")}
    if not chosen:
        return ""
    parts = ["<h2>Capacity (open-model step test)</h2>",
             "<p>Before the load below, each deployment got a rising rate in steps; each step is judged "
             "on its second half. Capacity is the highest step rate whose p95 (from the intended start) "
             "stayed under the SLO with errors under the limit and no arrival dropped.</p>"]
    peak_rates = {t: (r.get("shape_options") or {}).get("peak_rps") for t, rs in runs.items() for r in rs[:1]}
    lines = []
    for t in ordered_targets({k: [v] for k, v in chosen.items()}):
        cap = chosen[t].get("capacity") or {}
        text = f"{t}: {fmt_value(cap.get('rps'), 'rate')} req/s"
        if cap.get("first_failed_rps"):
            text += f" (the next step, {fmt_value(cap['first_failed_rps'], 'rate')} req/s, failed: {cap.get('why')})"
        else:
            text += f" ({chosen[t].get('stop_reason') or 'no stop reason'})"
        peak = peak_rates.get(t)
        if peak and cap.get("rps"):
            text += f"; the spike's peak, {fmt_value(peak, 'rate')} req/s, is {peak / cap['rps']:.1f}x this capacity"
        lines.append(text)
    parts.append(bullet_list(lines))
    head = "".join(f"<th>{h}</th>" for h in ("deployment", "offered req/s", "answered/s", "goodput/s",
                                             "p95 ms", "errors %", "held", "why not"))
    rows = []
    for t in ordered_targets({k: [v] for k, v in chosen.items()}):
        for step in chosen[t]["steps"]:
            cells = [t, fmt_value(step.get("target_rps"), "rate"), fmt_value(step.get("answered_rps"), "rate"),
                     fmt_value(step.get("goodput_rps"), "rate"), fmt_value(step.get("p95_ms"), "ms"),
                     fmt_value(step.get("error_pct"), "pct"), "yes" if step.get("held") else "no",
                     step.get("why") or ""]
            rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    parts.append(f'<table class="capacity"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return "".join(parts)


# -- runs, resources, environment, notes --------------------------------------------------------
def runs_section(runs: dict) -> str:
    rows = []
    for t in ordered_targets(runs):
        for i, r in enumerate(runs[t], 1):
            cells = [t, i, r.get("started_at") or DASH, r.get("url") or DASH, r.get("shape") or DASH,
                     fmt_value(r.get("duration_s"), "s"), fmt_value(dig(r, "totals", "all", "requests"), "count"),
                     r.get("stop_reason") or DASH]
            rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("target", "run", "started", "url", "shape", "seconds",
                                             "requests", "stop reason"))
    return (f'<h2>Runs included</h2><table class="runs"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def processes_section(runs: dict) -> str:
    rows = []
    for t, r in first_runs(runs).items():
        for p in dig(r, "resources", "processes") or []:
            cells = [t, p.get("name", DASH), p.get("pid", DASH), fmt_value(p.get("cpu_seconds")),
                     fmt_value(p.get("peak_rss_mb"), "mb")]
            rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    if not rows:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("target", "process", "pid", "CPU seconds", "peak RSS MB"))
    return (f"<h3>Processes (first run of each target)</h3><table class=\"processes\"><thead>"
            f"<tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def plain(value) -> str:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=isinstance(value, dict), default=str)
    return "" if value is None else str(value)


def key_value_table(data: dict, css_class: str) -> str:
    rows = "".join(f'<tr><th scope="row">{esc(k)}</th><td>{esc(plain(v))}</td></tr>' for k, v in data.items())
    return f'<table class="{css_class}"><tbody>{rows}</tbody></table>'


def environment_section(runs: dict, environment: dict | None) -> str:
    parts = ["<h2>Environment</h2>"]
    parts.append(key_value_table(environment, "environment") if environment
                 else "<p>No environment was recorded.</p>")
    options = shape_options(runs)
    if options:
        parts.append("<h3>Load shape options (from the runs)</h3>" + key_value_table(options, "shape-options"))
    return "".join(parts)


def shape_options(runs: dict) -> dict:
    """The first run's options for the shape(s) that ran (spike_* for a spike, ramp_* for a ramp)."""
    shapes = {r.get("shape") for rs in runs.values() for r in rs or []}
    options = next((r.get("shape_options") for rs in runs.values() for r in rs or []
                    if r.get("shape_options")), None) or {}
    wanted = tuple(f"{s}_" for s in shapes if isinstance(s, str)) or ("",)
    return {k: v for k, v in options.items() if k.startswith(wanted)} or options


def notes_section(notes: list[str] | None) -> str:
    return f"<h2>Notes</h2>{bullet_list(notes)}" if notes else ""


# -- charts -------------------------------------------------------------------------------------
class Chart(NamedTuple):
    filename: str
    title: str
    caption: str
    png: bytes


def new_figure(rows: int, width: float, height: float, sharex: bool = True):
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=sharex, squeeze=False)[:, 0]
    return fig, list(axes)


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def series(rows: list[dict], key: str) -> list[float]:
    return [float(r[key]) if isinstance(r.get(key), (int, float)) else math.nan for r in rows]


def wants_log(values: list[float]) -> bool:
    positive = [v for v in values if v > 0 and not math.isnan(v)]
    return len(positive) > 1 and max(positive) / min(positive) > 30


def shade_spikes(axes, windows: set) -> None:
    for ax in axes:
        for start, end in windows:
            ax.axvspan(start, end, color=SPIKE_SHADE, alpha=0.35, lw=0)


def spike_windows(chosen: dict[str, dict]) -> set:
    return {w for w in (spike_window(r) for r in chosen.values()) if w}


def finish_axes(axes, xlabel: str, log_axis=None) -> None:
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.margins(x=0)
    if log_axis is not None:
        log_axis.set_yscale("log")
    axes[-1].set_xlabel(xlabel)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(loc="best", fontsize=8)


def timeline_chart(runs: dict) -> Figure | None:
    chosen = {t: r for t, r in first_runs(runs).items() if r.get("timeline")}
    if not chosen:
        return None
    targets = list(chosen)
    fig, axes = new_figure(4, 9, 8.5)
    panels = [("users", "users"), ("rps", "requests/s"), ("p95_ms", "p95 ms"), ("fails", "errors/s")]
    p95_values = []
    for t, r in chosen.items():
        rows = r["timeline"]
        starts = series(rows, "t")
        middles = [x + 0.5 for x in starts]
        for ax, (key, _) in zip(axes, panels):
            stepped = key in ("users", "fails")
            ax.plot(starts if stepped else middles, series(rows, key), color=colour(t, targets),
                    label=t, drawstyle="steps-post" if stepped else "default", **line_style(t))
        p95_values += series(rows, "p95_ms")
    for ax, (_, label) in zip(axes, panels):
        ax.set_ylabel(label)
    shade_spikes(axes, spike_windows(chosen))
    finish_axes(axes, "seconds since start", axes[2] if wants_log(p95_values) else None)
    faulted = any(p.get("name") == "fault" for r in chosen.values() for p in r.get("phases") or [])
    fig.suptitle("Over time" + ((" (shaded: the fault)" if faulted else " (shaded: the spike)")
                                if spike_windows(chosen) else ""))
    return fig


def is_open(run: dict) -> bool:
    return any("offered" in row for row in run.get("timeline") or [])


ERROR_COLOURS = {"shed": "#E69F00", "unavailable": "#F0E442", "5xx": "#D55E00", "4xx": "#CC79A7", "timeout": "#000000",
                 "refused": "#56B4E9", "connection": "#009E73"}


def load_chart(runs: dict) -> Figure | None:
    """The open model, second by second: for each deployment, what was offered, answered and
    good (ok within the SLO), with its measured capacity; then both deployments' p95, errors
    by kind and requests in flight."""
    chosen = {t: r for t, r in first_runs(runs).items() if is_open(r)}
    if not chosen:
        return None
    targets = list(chosen)
    fig, axes = new_figure(len(targets) + 3, 9, 2.2 * (len(targets) + 3))
    for ax, (t, r) in zip(axes, chosen.items()):
        rows = r["timeline"]
        x = [v + 0.5 for v in series(rows, "t")]
        if any("scheduled" in row for row in rows):
            ax.plot(x, series(rows, "scheduled"), color="#777777", lw=1, ls=":", label="scheduled")
        ax.plot(x, series(rows, "offered"), color="#777777", lw=1.2, label="offered")
        ax.plot(x, series(rows, "rps"), color=colour(t, targets), lw=1.2, ls=DASHED, label="answered or failed")
        ax.plot(x, series(rows, "good"), color=colour(t, targets), lw=1.8, label="goodput (ok within SLO)")
        if r.get("capacity_rps"):
            ax.axhline(r["capacity_rps"], color="#333333", lw=0.8, ls="--")
            ax.annotate(f"capacity {r['capacity_rps']:g}/s", (0, r["capacity_rps"]), fontsize=7,
                        xytext=(2, 2), textcoords="offset points")
        ax.set_ylabel(f"{t}\nrequests/s")
        ax.legend(loc="upper right", fontsize=7)
    p95_ax, err_ax, flight_ax = axes[len(targets):]
    p95_values = []
    for t, r in chosen.items():
        rows = r["timeline"]
        x = [v + 0.5 for v in series(rows, "t")]
        p95_ax.plot(x, series(rows, "p95_ms"), color=colour(t, targets), label=t, **line_style(t))
        p95_values += series(rows, "p95_ms")
        flight_ax.plot(x, series(rows, "in_flight"), color=colour(t, targets), label=t, **line_style(t))
        for kind, c in ERROR_COLOURS.items():
            values = [float((row.get("errors") or {}).get(kind, 0)) for row in rows]
            if any(values):
                err_ax.plot(x, values, color=c, label=f"{t}: {kind}", **line_style(t))
    slo = next((r.get("slo", {}).get("latency_ms") for r in chosen.values() if r.get("slo")), None)
    if slo:
        p95_ax.axhline(slo, color="#333333", lw=0.8, ls="--")
        p95_ax.annotate(f"SLO {slo:g} ms", (0, slo), fontsize=7, xytext=(2, 2), textcoords="offset points")
    p95_ax.set_ylabel("p95 ms (from the\nintended start)")
    err_ax.set_ylabel("errors/s by kind")
    flight_ax.set_ylabel("requests in flight\n(load generator)")
    if not err_ax.get_lines():
        err_ax.text(0.5, 0.5, "no errors", ha="center", va="center", transform=err_ax.transAxes)
    else:
        err_ax.legend(loc="upper right", fontsize=7)
    shade_spikes(axes, spike_windows(chosen))
    finish_axes(axes, "seconds since start", p95_ax if wants_log(p95_values) else None)
    fig.suptitle("Offered, answered and good requests, per second")
    return fig


def capacity_chart(capacity_runs: dict) -> Figure | None:
    """The capacity step test: for each rate step, what was answered and good, and the p95."""
    chosen = {t: r for t, r in (capacity_runs or {}).items() if r and r.get("steps")}
    if not chosen:
        return None
    targets = ordered_targets({t: [r] for t, r in chosen.items()})
    fig, axes = new_figure(2, 9, 5, sharex=True)
    slo = None
    for t in targets:
        steps = chosen[t]["steps"]
        x = [s["target_rps"] for s in steps]
        style = dict(marker="o", color=colour(t, targets), **line_style(t))
        axes[0].plot(x, [s.get("goodput_rps") or 0 for s in steps], label=f"{t}: goodput", **style)
        axes[1].plot(x, [s.get("p95_ms") or math.nan for s in steps], label=t, **style)
        cap = (chosen[t].get("capacity") or {}).get("rps")
        if cap:
            for ax in axes:
                ax.axvline(cap, color=colour(t, targets), lw=0.8, ls=":")
        slo = (chosen[t].get("slo") or {}).get("latency_ms") or slo
    top = max(s["target_rps"] for r in chosen.values() for s in r["steps"])
    axes[0].plot([0, top], [0, top], color="#999999", lw=0.8, ls="--", label="offered")
    if slo:
        axes[1].axhline(slo, color="#333333", lw=0.8, ls="--", label=f"SLO {slo:g} ms")
    axes[0].set_ylabel("goodput/s")
    axes[1].set_ylabel("p95 ms")
    finish_axes(axes, "offered requests/s (step)", axes[1])
    fig.suptitle("Capacity step test (dotted: each deployment's capacity)")
    return fig


def resources_chart(runs: dict) -> Figure | None:
    chosen = {t: r for t, r in first_runs(runs).items() if dig(r, "resources", "timeline")}
    if not chosen:
        return None
    targets = list(ordered_targets(runs))
    fig, axes = new_figure(2, 9, 4.6)
    for t, r in chosen.items():
        rows = r["resources"]["timeline"]
        x = series(rows, "t")
        axes[0].plot(x, series(rows, "cpu_percent"), color=colour(t, targets), label=t, **line_style(t))
        axes[1].plot(x, series(rows, "rss_mb"), color=colour(t, targets), label=t, **line_style(t))
    axes[0].set_ylabel("CPU %")
    axes[1].set_ylabel("RSS MB")
    shade_spikes(axes, spike_windows(first_runs(runs)))
    finish_axes(axes, "seconds since start")
    fig.suptitle("Processes serving the shop: CPU and memory"
                 + (" (shaded: the spike)" if spike_windows(first_runs(runs)) else ""))
    return fig


def endpoints_chart(runs: dict) -> Figure | None:
    names = endpoint_names(runs)
    targets = ordered_targets(runs)
    window = "spike" if has_spike(runs) else "all"
    cells = {t: {n: cell_for(runs[t], Metric("", ("endpoints", n, window, "p95_ms"), "ms")) for n in names}
             for t in targets}
    if not any(c.values for per in cells.values() for c in per.values()):
        return None
    fig, (ax,) = new_figure(1, 9, 1.4 + 0.45 * len(names) * max(1, len(targets)) / 2, sharex=False)
    height = 0.8 / len(targets)
    all_values = []
    for i, t in enumerate(targets):
        ys = [k + (i - (len(targets) - 1) / 2) * height for k in range(len(names))]
        medians = [c.median if c.median is not None else math.nan for c in cells[t].values()]
        low = [m - c.low if c.values else 0 for m, c in zip(medians, cells[t].values())]
        high = [c.high - m if c.values else 0 for m, c in zip(medians, cells[t].values())]
        errors = [low, high] if any(len(c.values) > 1 for c in cells[t].values()) else None
        ax.barh(ys, medians, height=height, color=colour(t, targets), label=t, xerr=errors,
                error_kw={"lw": 1, "capsize": 2})
        all_values += medians
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    if wants_log(all_values):
        ax.set_xscale("log")
    ax.set_xlabel("p95 ms" + (" (log scale)" if wants_log(all_values) else ""))
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title("p95 per endpoint, " + ("during the spike" if window == "spike" else "whole run"))
    return fig


def steps_chart(runs: dict) -> Figure | None:
    if not has_steps(runs):
        return None
    targets = ordered_targets(runs)
    fig, axes = new_figure(2, 9, 5)
    p95_values = []
    for t in targets:
        levels = sorted({step_level(s) for r in runs[t] for s in r.get("steps") or [] if step_level(s) is not None})
        rps = [step_median(runs[t], u, "rps") for u in levels]
        p95 = [step_median(runs[t], u, "p95_ms") for u in levels]
        p95 = [math.nan if v is None else v for v in p95]
        style = dict(marker="o", color=colour(t, targets), label=t, **line_style(t))
        axes[0].plot(levels, [math.nan if v is None else v for v in rps], **style)
        axes[1].plot(levels, p95, **style)
        p95_values += p95
    axes[0].set_ylabel("requests/s")
    axes[1].set_ylabel("p95 ms")
    open_model = any("target_rps" in s for rs in runs.values() for r in rs for s in r.get("steps") or [])
    finish_axes(axes, "offered requests/s in the step" if open_model else "users in the step",
                axes[1] if wants_log(p95_values) else None)
    fig.suptitle("Ramp: each step judged on its second half")
    return fig


def render_charts(runs: dict, capacity_runs: dict | None = None) -> list[Chart]:
    """Every chart the runs have data for, as PNG bytes."""
    runs = normalise(runs)
    repeats = any(len(runs[t]) > 1 for t in ordered_targets(runs))
    first = " With repeats, each target's first run is drawn." if repeats else ""
    band = "; grey band: the spike" if has_spike(runs) else ""
    colours = ", ".join(f"{t} {name}" for t, name in ((BASE, "blue"), (OTHER, "orange dashed")) if runs.get(t))
    specs = [
        ("load.png", "Offered, answered and good requests per second", load_chart,
         "Open model. offered: what the load generator meant to send (each request at its intended start); "
         "answered or failed: what ended in that second; goodput: ok answers within the SLO. p95 counts from "
         f"the intended start, so waiting in a queue counts.{band}.{first}"),
        ("timeline.png", "Users, requests/s, p95 latency and errors over time", timeline_chart,
         f"x = seconds since each run started; {colours}{band}.{first}"),
        ("resources.png", "CPU and memory over time", resources_chart,
         f"CPU % (100% = one core) and resident memory of all processes serving the shop.{first}"),
        ("endpoints-p95.png", "p95 per endpoint", endpoints_chart,
         "Median over the runs; whiskers show min–max when there are repeats."),
        ("ramp-steps.png", "Requests/s and p95 per ramp step", steps_chart,
         "Median over the runs for each user level."),
    ]
    charts = []
    for filename, title, make, caption in specs:
        fig = make(runs)
        if fig is not None:
            charts.append(Chart(filename, title, caption, png_bytes(fig)))
    fig = capacity_chart(capacity_runs)
    if fig is not None:
        charts.append(Chart("capacity.png", "Capacity step test", "Each step's rate was held for a few seconds "
                            "and judged on its second half; capacity is the highest step that kept p95 under the "
                            "SLO with errors under 1% and nothing dropped.", png_bytes(fig)))
    return charts


def chart_html(chart: Chart) -> str:
    data = base64.b64encode(chart.png).decode("ascii")
    return (f'<figure><img alt="{esc(chart.title)}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>{esc(chart.title)}.</b> {esc(chart.caption)}</figcaption></figure>")


# -- the page -----------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1150px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}.subtitle{color:#555;margin-top:0}
table{border-collapse:collapse;margin:.6em 0 1.4em;font-size:.92em}
th,td{border:1px solid #ccc;padding:.3em .55em;vertical-align:top}
thead th{background:#f3f3f3}tbody th{text-align:left;font-weight:normal;background:#fafafa}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.spread{display:block;font-size:.8em;color:#777;font-weight:normal}
.box{border-left:5px solid #E69F00;background:#fff8e8;padding:.4em 1em;margin:1em 0}
.box h2{margin-top:.3em}.warning{color:#8a3b00}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.9em;color:#444}
"""


def normalise(runs: dict) -> dict[str, list[dict]]:
    """Targets -> list of run dicts (a lone dict counts as one run; None as no run)."""
    out = {}
    for target, value in (runs or {}).items():
        if isinstance(value, dict):
            value = [value]
        out[target] = [r for r in (value or []) if isinstance(r, dict)]
    return out


def subtitle(runs: dict) -> str:
    targets = ordered_targets(runs)
    if not targets:
        return "No runs to report."
    shapes = sorted({str(r.get("shape")) for t in targets for r in runs[t]})
    counts = ", ".join(f"{t}: {len(runs[t])} run{'s' if len(runs[t]) > 1 else ''}" for t in targets)
    started = sorted(str(r.get("started_at")) for t in targets for r in runs[t] if r.get("started_at"))
    when = f"; started {started[0]}" + (f" to {started[-1]}" if started[-1] != started[0] else "") if started else ""
    return f"Shape: {', '.join(shapes)}; {counts}{when}."


def page(runs: dict, charts: list[Chart], title: str, environment: dict | None,
         notes: list[str] | None, preface: str = "", capacity_runs: dict | None = None) -> str:
    body = [f"<h1>{esc(title)}</h1>", f'<p class="subtitle">{esc(subtitle(runs))}</p>', preface]
    if ordered_targets(runs):
        body += ["<h2>Headline</h2>", headline_table(runs), honest_box(runs)]
    else:
        body.append(honest_box(runs))
    if charts:
        body.append("<h2>Charts</h2>" + "".join(chart_html(c) for c in charts))
    if ordered_targets(runs):
        body += [capacity_section(capacity_runs, runs), processes_section(runs), insights.hops_section(runs),
                 insights.capacity_section(runs), endpoints_section(runs), steps_section(runs), runs_section(runs)]
    body += [environment_section(runs, environment), notes_section(notes)]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")


def render_html(runs: dict[str, list[dict]], *, title: str, environment: dict | None = None,
                notes: list[str] | None = None) -> str:
    """The whole report as one self-contained HTML page."""
    runs = normalise(runs)
    return page(runs, render_charts(runs), title, environment, notes)


def write_charts(runs: dict[str, list[dict]], out_dir: Path) -> list[Path]:
    """The report's charts as PNG files in out_dir (timeline.png, endpoints-p95.png, ...)."""
    return save_charts(render_charts(runs), Path(out_dir))


def save_charts(charts: list[Chart], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for chart in charts:
        path = out_dir / chart.filename
        path.write_bytes(chart.png)
        paths.append(path)
    return paths


def build(runs: dict[str, list[dict]], out_dir: Path, *, title: str, environment: dict | None = None,
          notes: list[str] | None = None, preface: str = "", capacity_runs: dict | None = None) -> Path:
    """out_dir/report.html plus the charts as PNGs under out_dir/charts/; returns the report path."""
    out_dir = Path(out_dir)
    runs = normalise(runs)
    charts = render_charts(runs, capacity_runs)
    save_charts(charts, out_dir / "charts")
    report = out_dir / "report.html"
    report.write_text(page(runs, charts, title, environment, notes, preface, capacity_runs), encoding="utf-8")
    return report
