"""The comparison report: the same traffic on the monolith and on the microservices, side by side.

Three parts, each in its own place:

- the **numbers**: ``loadtests/report_numbers.py`` (what each row says, ratios, which side is
  better, the caveats), plus ``loadtests/insights.py`` (where a checkout's time goes, capacity);
- the **charts**: ``loadtests/report_charts.py`` (matplotlib figures, rendered to PNG);
- the **page**: this module and its Jinja2 templates, ``loadtests/templates/`` (autoescaped:
  every text from a run is escaped, only the verdict section rendered by the same templates is
  inserted as is).

Input is what ``loadtests.summary.summarize`` writes for each run, grouped by target:
``{"monolith": [run, ...], "microservices": [run, ...]}`` (one or more repeats of one shape).
Output is one self-contained HTML page (inline CSS, charts as inline PNG, no JavaScript, nothing
fetched) and, for a README, the same charts as PNG files.

What the page shows, top to bottom: a smoke-run banner for ``QUICK=1`` runs; the scenario's
verdict (the claim, then the measured answer in one sentence); the headline table (one column
per target, with repeats the median and the min–max under it; the ratio microservices /
monolith, or the difference when a side is 0; which did better, by the verdicts' noise rule);
the honest reading; the charts; the capacity step test; processes; where a checkout's time
goes; the capacity estimate; per-endpoint tables; ramp steps; the runs; environment and notes.

Missing data never stops the report: a target without runs is left out (and said so), empty
seconds and absent percentiles are gaps, absent resources simply drop their rows and chart.
"""
import base64
import json
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from loadtests import insights
from loadtests import report_numbers as numbers
# Re-exported: what other modules and older callers read from here.
from loadtests.report_numbers import DASH, NOISE_RATIO, fmt_value, normalise  # noqa: F401

TEMPLATES = Path(__file__).resolve().parent / "templates"


def plain(value) -> str:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=isinstance(value, dict), default=str)
    return "" if value is None else str(value)


def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["plain"] = plain
    env.filters["number"] = fmt_value
    return env


_ENV = templates()


def render(template: str, **context) -> Markup:
    return Markup(_ENV.get_template(template).render(**context))


# -- the page's context --------------------------------------------------------------------------
def headline_context(runs: dict) -> dict:
    targets = numbers.ordered_targets(runs)
    rows = []
    for row in numbers.headline_rows(runs):
        rows.append({"label": row.label, "cells": [numbers.cell_text(row.cells[t], row.metric) for t in targets],
                     "ratio": row.ratio, "better": row.better})
    return {"head": [(t, numbers.repeats_text(len(runs[t]))) for t in targets], "rows": rows,
            "compare": numbers.can_compare(runs)}


def honest_context(runs: dict, environment: dict | None) -> dict:
    small, large = numbers.comparison_lines(runs) if numbers.can_compare(runs) else ([], [])
    return {"compare": numbers.can_compare(runs), "small": small, "large": large,
            "caveats": numbers.caveats(runs, environment), "noise": NOISE_RATIO}


def chart_context(charts) -> list[dict]:
    """Charts as the template shows them: inline PNG, or a titled placeholder (png None)."""
    out = []
    for c in charts:
        src = f"data:image/png;base64,{base64.b64encode(c.png).decode('ascii')}" if c.png else None
        out.append({"title": c.title, "caption": c.caption, "src": src})
    return out


def context(runs: dict, charts, title: str, environment: dict | None, notes: list[str] | None,
            preface: str = "", capacity_runs: dict | None = None) -> dict:
    runs = normalise(runs)
    present = bool(numbers.ordered_targets(runs))
    steps = None
    if present and numbers.has_steps(runs):
        steps = {"thresholds": numbers.thresholds_text(runs), "saturation": numbers.saturation_lines(runs),
                 "table": numbers.steps_table(runs)}
    capacity_lines = numbers.capacity_lines(capacity_runs, runs) if present else []
    return {
        "title": title,
        "subtitle": numbers.subtitle(runs),
        "quick": numbers.is_quick(environment),
        "preface": Markup(preface or ""),
        "headline": headline_context(runs) if present else {"rows": []},
        "memory_note": numbers.MEMORY_NOTE,
        "memory_label": numbers.MEMORY_LABEL,
        "honest": honest_context(runs, environment),
        "charts": chart_context(charts),
        "capacity": {"lines": capacity_lines, "steps": numbers.capacity_steps(capacity_runs)}
        if capacity_lines else None,
        "processes": numbers.process_rows(runs) if present else [],
        "hops": insights.hops(runs) if present else [],
        "estimates": insights.estimates(runs) if present else [],
        "endpoints": [(label, numbers.endpoint_table(runs, window)) for window, label in numbers.endpoint_windows(runs)]
        if present and numbers.endpoint_names(runs) else [],
        "several": any(len(runs[t]) > 1 for t in numbers.ordered_targets(runs)),
        "steps": steps,
        "runs_rows": numbers.runs_rows(runs) if present else [],
        "environment": environment or {},
        "options": numbers.shape_options(runs),
        "notes": notes or [],
    }


def page(runs: dict, charts, title: str, environment: dict | None = None, notes: list[str] | None = None,
         preface: str = "", capacity_runs: dict | None = None, template: str = "report.html.j2",
         **extra) -> str:
    ctx = context(runs, charts, title, environment, notes, preface, capacity_runs)
    return _ENV.get_template(template).render(**ctx, **extra)


# -- entry points ----------------------------------------------------------------------------------
def render_html(runs: dict[str, list[dict]], *, title: str, environment: dict | None = None,
                notes: list[str] | None = None, preface: str = "", capacity_runs: dict | None = None,
                charts: bool = True, template: str = "report.html.j2", **extra) -> str:
    """The whole report as one self-contained HTML page. charts=False leaves the charts out,
    which is what the page's tests use (the charts have tests of their own)."""
    runs = normalise(runs)
    listed = []
    if charts:
        from loadtests import report_charts  # matplotlib is loaded only when charts are drawn
        listed = report_charts.render_charts(runs, capacity_runs)
    return page(runs, listed, title, environment, notes, preface, capacity_runs, template, **extra)


def write_charts(runs: dict[str, list[dict]], out_dir: Path) -> list[Path]:
    """The report's charts as PNG files in out_dir (timeline.png, endpoints-p95.png, ...)."""
    from loadtests import report_charts
    return save_charts(report_charts.render_charts(normalise(runs)), Path(out_dir))


def save_charts(charts, out_dir: Path) -> list[Path]:
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
    from loadtests import report_charts
    out_dir = Path(out_dir)
    runs = normalise(runs)
    charts = report_charts.render_charts(runs, capacity_runs)
    save_charts(charts, out_dir / "charts")
    report = out_dir / "report.html"
    report.write_text(page(runs, charts, title, environment, notes, preface, capacity_runs), encoding="utf-8")
    return report
