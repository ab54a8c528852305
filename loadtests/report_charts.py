"""The report's charts (matplotlib, rendered to PNG): the numbers are loadtests/report_numbers.py,
the page loadtests/report.py.

Every chart function takes the runs (``{target: [run, ...]}``) and returns a matplotlib Figure, or
None when the runs have no data for it; ``render_charts`` turns them into PNGs. Conventions:

- **Time charts line up**: every chart over time has the same width, the same margins and the
  same x axis (0 to the longest run, in seconds since the load started), so a moment is at the
  same place in each.
- **Repeats**: the line is the median of the repeats at each second, the band their min–max; a
  single run is its own line.
- **What is shaded**: the spike (the shape's phase), or in a scenario the fault as it happened:
  from the first action (a kill, a restart) to the end of the last one (a restart of about 3 s
  is a 3 s band, not the 30 s phase), and a line at each action.
- **Latency axes** read in plain milliseconds (1, 2, 5, 10, 20, 50 ... ms), also on a log scale;
  latencies per endpoint are dots with min–max whiskers (bar lengths on a log axis mislead),
  and an endpoint without a number says "n/a".
- **An empty panel says so** ("no errors"), instead of an axis around zero."""
import io
import math
import statistics
from typing import NamedTuple

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from loadtests.report_numbers import (BASE, OTHER, Metric, cell_for, dig, endpoint_names, first_runs,
                                      has_spike, has_steps, is_open, normalise, ordered_targets, step_level,
                                      step_median)

DPI = 110
WIDTH = 9.0
LEFT, RIGHT = 0.12, 0.975   # the same margins on every time chart, so their x axes line up
# Okabe-Ito palette: safe for the common colour-vision deficiencies
COLOURS = {BASE: "#0072B2", OTHER: "#E69F00"}
SPARE_COLOURS = ["#009E73", "#CC79A7", "#56B4E9", "#D55E00"]
DASHED = (0, (5, 2))        # microservices lines are dashed too, so overlapping lines stay visible
SHADE = "#BBBBBB"
ERROR_COLOURS = {"shed": "#E69F00", "unavailable": "#F0E442", "5xx": "#D55E00", "4xx": "#CC79A7",
                 "timeout": "#000000", "refused": "#56B4E9", "connection": "#009E73"}


class Chart(NamedTuple):
    filename: str
    title: str
    caption: str
    png: bytes


# -- shared helpers ------------------------------------------------------------------------------
def colour(target: str, targets: list[str]) -> str:
    if target in COLOURS:
        return COLOURS[target]
    others = [t for t in targets if t not in COLOURS]
    return SPARE_COLOURS[others.index(target) % len(SPARE_COLOURS)] if target in others else "#000000"


def line_style(target: str) -> dict:
    return {"ls": DASHED if target == OTHER else "-", "lw": 1.7}


def ms_label(value, _pos=None) -> str:
    """A latency tick in plain milliseconds: 0.5, 1, 20, 1,000 (never 10^3)."""
    if value <= 0:
        return "0"
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def ms_axis(axis, log: bool) -> None:
    """A latency axis (matplotlib's xaxis or yaxis) that reads in plain ms."""
    if log:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_minor_formatter(NullFormatter())
    axis.set_major_formatter(FuncFormatter(ms_label))


def wants_log(values) -> bool:
    positive = [v for v in values if isinstance(v, (int, float)) and v > 0 and not math.isnan(v)]
    return len(positive) > 1 and max(positive) / min(positive) > 30


def new_figure(rows: int, height: float, sharex: bool = True):
    """A figure of ``rows`` panels with the fixed margins of the time charts."""
    fig = Figure(figsize=(WIDTH, height))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=sharex, squeeze=False)[:, 0]
    fig.subplots_adjust(left=LEFT, right=RIGHT, top=1 - 0.55 / height, bottom=0.55 / height, hspace=0.18)
    return fig, list(axes)


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def number(x) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else math.nan


def per_second(target_runs: list[dict], rows_of, key) -> tuple[list[float], list[float], list[float], list[float]]:
    """(x, median, low, high) of one series over a target's repeats, second by second. ``rows_of``
    gives a run's rows (each with "t"); ``key`` is a row's key or a function of the row."""
    read = key if callable(key) else (lambda row: row.get(key))
    buckets: dict[int, list[float]] = {}
    for run in target_runs:
        for row in rows_of(run) or []:
            t = row.get("t")
            if isinstance(t, (int, float)):
                buckets.setdefault(int(math.floor(t)), []).append(number(read(row)))
    xs, med, low, high = [], [], [], []
    for t in sorted(buckets):
        values = [v for v in buckets[t] if not math.isnan(v)]
        xs.append(t + 0.5)
        med.append(statistics.median(values) if values else math.nan)
        low.append(min(values) if values else math.nan)
        high.append(max(values) if values else math.nan)
    return xs, med, low, high


def draw(ax, target_runs, rows_of, key, *, label=None, color, band=True, **style) -> list[float]:
    """The median line (and, with repeats, the min–max band) of one series; returns its values."""
    xs, med, low, high = per_second(target_runs, rows_of, key)
    ax.plot(xs, med, color=color, label=label, **style)
    if band and len(target_runs) > 1:
        ax.fill_between(xs, low, high, color=color, alpha=0.18, lw=0)
    return med + high


def timeline_rows(run: dict) -> list[dict]:
    return run.get("timeline") or []


def resource_rows(run: dict) -> list[dict]:
    return dig(run, "resources", "timeline") or []


def time_extent(runs: dict) -> float:
    """The x axis of every time chart: 0 to the longest run."""
    ends = [number(r.get("duration_s")) for rs in runs.values() for r in rs]
    ends += [len(r.get("timeline") or []) for rs in runs.values() for r in rs]
    ends = [e for e in ends if not math.isnan(e) and e > 0]
    return max(ends) if ends else 1.0


# -- what is shaded ------------------------------------------------------------------------------
class Window(NamedTuple):
    start: float
    end: float
    label: str              # "the spike", "the restart of orders", ...
    events: tuple           # (t, label) of each action, drawn as lines


def shaded_window(run: dict) -> Window | None:
    """The spike, or the fault as it happened (its actions' times), or the fault phase."""
    phases = {p.get("name"): p for p in run.get("phases") or [] if p.get("start") is not None}
    events = [e for e in run.get("events") or [] if isinstance(e.get("t"), (int, float))]
    if events:
        start = min(e["t"] for e in events)
        end = max(number(e.get("done_t")) if isinstance(e.get("done_t"), (int, float)) else e["t"] for e in events)
        labels = [e.get("label", "") for e in events]
        text = (f"{labels[0]}, {start:.1f}–{end:.1f} s" if len(events) == 1
                else f"from \u201c{labels[0]}\u201d at {start:.1f} s to \u201c{labels[-1]}\u201d done at {end:.1f} s")
        return Window(start, end, text, tuple((e["t"], e.get("label", "")) for e in events))
    for name, label in (("spike", "the spike"), ("fault", "the fault phase")):
        if name in phases:
            p = phases[name]
            end = p.get("end") if p.get("end") is not None else run.get("duration_s") or 0
            return Window(float(p["start"]), float(end), label, ())
    return None


def windows_of(runs: dict) -> dict[str, Window]:
    out = {}
    for t, rs in runs.items():
        for r in rs[:1]:
            w = shaded_window(r)
            if w:
                out[t] = w
    return out


def shade(axes, windows: dict[str, Window], targets: list[str]) -> None:
    seen = set()
    for t, w in windows.items():
        key = (round(w.start, 1), round(w.end, 1))
        for ax in axes:
            if key not in seen:
                if w.end - w.start >= 0.3:
                    ax.axvspan(w.start, w.end, color=SHADE, alpha=0.35, lw=0)
            for at, _ in w.events:
                ax.axvline(at, color=colour(t, targets), lw=0.9, ls=":")
        seen.add(key)


def shade_caption(runs: dict) -> str:
    """What the grey band and the dotted lines of the time charts are, for their captions."""
    windows = windows_of(runs)
    plain = sorted({w.label for w in windows.values() if not w.events})
    acted = [f"{t}: {w.label}" for t, w in windows.items() if w.events]
    text = "; grey band: " + ", ".join(plain) if plain else ""
    if acted:
        text += "; grey band and dotted lines: the fault as it happened (" + "; ".join(acted) + ")"
    return text


def finish(axes, xlabel: str, xmax: float | None = None) -> None:
    for ax in axes:
        ax.grid(True, alpha=0.3)
        if xmax:
            ax.set_xlim(0, xmax)
    axes[-1].set_xlabel(xlabel)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(loc="upper right", fontsize=8)


def empty_panel(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#555555")
    ax.set_yticks([])


def latency_panel(ax, values, slo=None) -> None:
    log = wants_log(list(values) + ([slo] if slo else []))
    if log:
        ax.set_yscale("log")
    ms_axis(ax.yaxis, log)
    if slo:
        ax.axhline(slo, color="#333333", lw=0.8, ls="--")
        ax.annotate(f"SLO {slo:g} ms", (0, slo), fontsize=7, xytext=(2, 2), textcoords="offset points")


# -- the charts ----------------------------------------------------------------------------------
def timeline_chart(runs: dict) -> Figure | None:
    chosen = {t: rs for t, rs in runs.items() if rs and any(r.get("timeline") for r in rs)}
    if not chosen:
        return None
    targets = ordered_targets(runs)
    panels = [("users", "users"), ("rps", "requests/s"), ("p95_ms", "p95 ms"), ("fails", "errors/s")]
    if all(is_open(r) for rs in chosen.values() for r in rs):
        panels = panels[1:]   # the open model has no users to draw (one Visitors user per process)
    fig, axes = new_figure(len(panels), 2.1 * len(panels) + 0.1)
    p95, fails = [], []
    for t in targets:
        if t not in chosen:
            continue
        for ax, (key, _) in zip(axes, panels):
            values = draw(ax, chosen[t], timeline_rows, key, label=t, color=colour(t, targets), **line_style(t))
            if key == "p95_ms":
                p95 += values
            if key == "fails":
                fails += values
    for ax, (_, label) in zip(axes, panels):
        ax.set_ylabel(label)
    latency_panel(axes[-2], p95)
    if not any(v > 0 for v in fails if not math.isnan(v)):
        for line in axes[-1].get_lines():
            line.remove()
        empty_panel(axes[-1], "no errors")
    shade(axes, windows_of(chosen), targets)
    finish(axes, "seconds since the load started", time_extent(runs))
    fig.suptitle("Over time")
    return fig


def load_chart(runs: dict) -> Figure | None:
    """The open model, second by second: for each deployment, what was offered, answered and
    good (ok within the SLO), with its measured capacity; then both deployments' p95, errors
    by kind and requests in flight."""
    chosen = {t: rs for t, rs in runs.items() if rs and is_open(rs[0]) and rs[0].get("timeline")}
    if not chosen:
        return None
    targets = ordered_targets(chosen)
    n = len(targets) + 3
    fig, axes = new_figure(n, 2.2 * n)
    for ax, t in zip(axes, targets):
        rs, c = chosen[t], colour(t, targets)
        if any("scheduled" in row for row in timeline_rows(rs[0])):
            draw(ax, rs, timeline_rows, "scheduled", color="#777777", lw=1, ls=":", label="scheduled", band=False)
        draw(ax, rs, timeline_rows, "offered", color="#777777", lw=1.2, label="offered", band=False)
        draw(ax, rs, timeline_rows, "rps", color=c, lw=1.2, ls=DASHED, label="answered or failed", band=False)
        draw(ax, rs, timeline_rows, "good", color=c, lw=1.8, label="goodput (ok within SLO)")
        cap = rs[0].get("capacity_rps")
        if cap:
            ax.axhline(cap, color="#333333", lw=0.8, ls="--")
            ax.annotate(f"capacity {cap:g}/s", (0, cap), fontsize=7, xytext=(2, 2), textcoords="offset points")
        ax.set_ylabel(f"{t}\nrequests/s")
        ax.legend(loc="upper right", fontsize=7)
    p95_ax, err_ax, flight_ax = axes[len(targets):]
    p95 = []
    for t in targets:
        rs, c = chosen[t], colour(t, targets)
        p95 += draw(p95_ax, rs, timeline_rows, "p95_ms", color=c, label=t, **line_style(t))
        draw(flight_ax, rs, timeline_rows, "in_flight", color=c, label=t, **line_style(t))
        for kind, kc in ERROR_COLOURS.items():
            if any((row.get("errors") or {}).get(kind) for r in rs for row in timeline_rows(r)):
                draw(err_ax, rs, timeline_rows, lambda row, k=kind: (row.get("errors") or {}).get(k, 0),
                     color=kc, label=f"{t}: {kind}", band=False, **line_style(t))
    slo = next((dig(rs[0], "slo", "latency_ms") for rs in chosen.values() if dig(rs[0], "slo", "latency_ms")), None)
    latency_panel(p95_ax, p95, slo)
    p95_ax.set_ylabel("p95 ms (from the\nintended start)")
    err_ax.set_ylabel("errors/s by kind")
    flight_ax.set_ylabel("requests in flight\n(load generator)")
    if not err_ax.get_lines():
        empty_panel(err_ax, "no errors")
    else:
        err_ax.legend(loc="upper right", fontsize=7)
    flight_ax.set_ylim(bottom=0, top=max(1.0, flight_ax.get_ylim()[1]))   # a count: never below 0
    shade(axes, windows_of(chosen), targets)
    finish(axes, "seconds since the load started", time_extent(runs))
    fig.suptitle("Offered, answered and good requests, per second")
    return fig


def resources_chart(runs: dict) -> Figure | None:
    chosen = {t: rs for t, rs in runs.items() if rs and any(resource_rows(r) for r in rs)}
    if not chosen:
        return None
    targets = ordered_targets(runs)
    fig, axes = new_figure(2, 4.6)
    for t in targets:
        if t in chosen:
            draw(axes[0], chosen[t], resource_rows, "cpu_percent", color=colour(t, targets), label=t, **line_style(t))
            draw(axes[1], chosen[t], resource_rows, "rss_mb", color=colour(t, targets), label=t, **line_style(t))
    axes[0].set_ylabel("CPU %\n(100% = one core)")
    axes[1].set_ylabel("memory MB\n(all processes)")
    shade(axes, windows_of(chosen), targets)
    finish(axes, "seconds since the load started", time_extent(runs))
    fig.suptitle("Processes serving the shop: CPU and memory")
    return fig


def endpoints_chart(runs: dict) -> Figure | None:
    """p95 per endpoint: a dot per target (the median over its repeats) with min–max whiskers."""
    names = endpoint_names(runs)
    targets = ordered_targets(runs)
    window = "spike" if has_spike(runs) else "all"
    cells = {t: [cell_for(runs[t], Metric("", ("endpoints", n, window, "p95_ms"), "ms")) for n in names]
             for t in targets}
    if not any(c.values for per in cells.values() for c in per):
        return None
    height = 1.4 + 0.42 * len(names) * max(1, len(targets)) / 2
    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    offset = 0.8 / max(1, len(targets))
    values = [v for per in cells.values() for c in per for v in c.values]
    log = wants_log(values)
    for i, t in enumerate(targets):
        ys = [k + (i - (len(targets) - 1) / 2) * offset for k in range(len(names))]
        med = [c.median if c.values else math.nan for c in cells[t]]
        ax.errorbar(med, ys, xerr=[[m - c.low if c.values else 0 for m, c in zip(med, cells[t])],
                                   [c.high - m if c.values else 0 for m, c in zip(med, cells[t])]],
                    fmt="o", color=colour(t, targets), label=t, ms=6, lw=1, capsize=2)
        for y, c in zip(ys, cells[t]):
            if not c.values:   # no number: say so where the dot would be
                ax.annotate("n/a", (0, y), xycoords=("axes fraction", "data"), xytext=(4, 0),
                            textcoords="offset points", va="center", fontsize=7, color=colour(t, targets))
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    else:
        ax.set_xlim(left=0)
    ms_axis(ax.xaxis, log)
    ax.set_xlabel("p95 ms" + (" (log scale)" if log else ""))
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title("p95 per endpoint, " + ("during the spike" if window == "spike" else "whole run"))
    return fig


def steps_chart(runs: dict) -> Figure | None:
    if not has_steps(runs):
        return None
    targets = ordered_targets(runs)
    fig, axes = new_figure(2, 5)
    p95_values = []
    for t in targets:
        levels = sorted({step_level(s) for r in runs[t] for s in r.get("steps") or [] if step_level(s) is not None})
        rps = [number(step_median(runs[t], u, "rps")) for u in levels]
        p95 = [number(step_median(runs[t], u, "p95_ms")) for u in levels]
        style = dict(marker="o", color=colour(t, targets), label=t, **line_style(t))
        axes[0].plot(levels, rps, **style)
        axes[1].plot(levels, p95, **style)
        p95_values += p95
    axes[0].set_ylabel("requests/s")
    axes[1].set_ylabel("p95 ms")
    latency_panel(axes[1], p95_values)
    open_model = any("target_rps" in s for rs in runs.values() for r in rs for s in r.get("steps") or [])
    finish(axes, "offered requests/s in the step" if open_model else "users in the step")
    fig.suptitle("Ramp: each step judged on its second half")
    return fig


def capacity_chart(capacity_runs: dict) -> Figure | None:
    """The capacity step test: for each rate step, what was good, and the p95."""
    chosen = {t: r for t, r in (capacity_runs or {}).items() if r and r.get("steps")}
    if not chosen:
        return None
    targets = ordered_targets({t: [r] for t, r in chosen.items()})
    fig, axes = new_figure(2, 5)
    slo, p95_values = None, []
    for t in targets:
        steps = chosen[t]["steps"]
        x = [s["target_rps"] for s in steps]
        style = dict(marker="o", color=colour(t, targets), **line_style(t))
        axes[0].plot(x, [number(s.get("goodput_rps")) for s in steps], label=f"{t}: goodput", **style)
        p95 = [number(s.get("p95_ms")) for s in steps]
        axes[1].plot(x, p95, label=t, **style)
        p95_values += p95
        cap = (chosen[t].get("capacity") or {}).get("rps")
        if cap:
            for ax in axes:
                ax.axvline(cap, color=colour(t, targets), lw=0.8, ls=":")
        slo = (chosen[t].get("slo") or {}).get("latency_ms") or slo
    top = max(s["target_rps"] for r in chosen.values() for s in r["steps"])
    axes[0].plot([0, top], [0, top], color="#999999", lw=0.8, ls="--", label="offered")
    axes[0].set_ylabel("goodput/s")
    axes[1].set_ylabel("p95 ms")
    latency_panel(axes[1], p95_values + ([slo] if slo else []), slo)
    finish(axes, "offered requests/s (step)")
    fig.suptitle("Capacity step test (dotted: each deployment's capacity)")
    return fig


# -- all of them ----------------------------------------------------------------------------------
class Spec(NamedTuple):
    filename: str
    title: str
    make: object
    caption: str


def specs(runs: dict) -> list[Spec]:
    """The charts of a report, with captions that say what is drawn and what is shaded."""
    repeats = any(len(runs[t]) > 1 for t in ordered_targets(runs))
    several = (" With repeats: the line is the median of the repeats at each second, the band their min–max."
               if repeats else "")
    band = shade_caption(runs)
    colours = ", ".join(f"{t} {name}" for t, name in ((BASE, "blue"), (OTHER, "orange dashed")) if runs.get(t))
    return [
        Spec("load.png", "Offered, answered and good requests per second", load_chart,
             "Open model. offered: what the load generator meant to send (each request at its intended start); "
             "answered or failed: what ended in that second; goodput: ok answers within the SLO. p95 counts from "
             f"the intended start, so waiting in a queue counts{band}.{several}"),
        Spec("timeline.png", "Users, requests/s, p95 latency and errors over time", timeline_chart,
             f"x = seconds since the load started; {colours}{band}.{several}"),
        Spec("resources.png", "CPU and memory over time", resources_chart,
             "CPU % (100% = one core) and resident memory of all processes serving the shop together, on the "
             f"same time axis as the charts above{band}.{several}"),
        Spec("endpoints-p95.png", "p95 per endpoint", endpoints_chart,
             "A dot per deployment: the median over the runs; whiskers: min–max when there are repeats; "
             "n/a: no request of that endpoint in the window."),
        Spec("ramp-steps.png", "Requests/s and p95 per ramp step", steps_chart,
             "Median over the runs for each step."),
    ]


def render_charts(runs: dict, capacity_runs: dict | None = None) -> list[Chart]:
    """Every chart the runs have data for, as PNG bytes."""
    runs = normalise(runs)
    charts = []
    for spec in specs(runs):
        fig = spec.make(runs)
        if fig is not None:
            charts.append(Chart(spec.filename, spec.title, spec.caption, png_bytes(fig)))
    fig = capacity_chart(capacity_runs)
    if fig is not None:
        charts.append(Chart("capacity.png", "Capacity step test", "Each step's rate was held for a few seconds "
                            "and judged on its second half; capacity is the highest step that kept p95 under the "
                            "SLO with errors under 1% and nothing dropped.", png_bytes(fig)))
    return charts

