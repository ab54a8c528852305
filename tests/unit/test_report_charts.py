"""The report's charts (loadtests/report_charts.py), read off the matplotlib figures: what is
drawn, what is shaded, how axes read. No PNG is rendered here (that is the slow part); the
browser test opens a full report with its PNGs."""
import copy
import json
import math
from pathlib import Path

import pytest
from matplotlib.collections import PolyCollection
from matplotlib.patches import Polygon, Rectangle

from loadtests import report_charts as charts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def mono():
    return json.loads((FIXTURES / "run-monolith.json").read_text())


@pytest.fixture(scope="module")
def micro():
    return json.loads((FIXTURES / "report" / "run-microservices.json").read_text())


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def spans(ax) -> list[tuple[float, float]]:
    """The shaded x ranges of an axis (axvspan draws a Rectangle, older matplotlib a Polygon)."""
    out = []
    for p in ax.patches:
        if isinstance(p, (Rectangle, Polygon)):
            xs = [x for x, _ in p.get_xy()] if isinstance(p, Polygon) else [p.get_x(), p.get_x() + p.get_width()]
            out.append((round(min(xs), 2), round(max(xs), 2)))
    return out


@pytest.mark.parametrize("value, text", [(1, "1"), (20, "20"), (1000, "1,000"), (0.5, "0.5"), (0, "0")])
def test_latency_ticks_read_in_plain_ms(value, text):
    assert charts.ms_label(value) == text


def test_a_wide_p95_range_is_a_log_axis_labelled_in_ms(mono, micro):
    fig = charts.timeline_chart({"monolith": [mono], "microservices": [micro]})
    p95 = fig.axes[2]
    assert p95.get_yscale() == "log"
    formatter = p95.yaxis.get_major_formatter()
    assert formatter(1000, 0) == "1,000" and formatter(5, 0) == "5"   # not 10^3


def test_an_errors_panel_without_errors_says_so(mono):
    assert not any(row["fails"] for row in mono["timeline"])
    fig = charts.timeline_chart({"monolith": [mono]})
    assert "no errors" in [t.get_text() for t in fig.axes[3].texts]
    assert not fig.axes[3].get_lines()


def test_repeats_draw_the_median_with_a_band(mono):
    slower = copy.deepcopy(mono)
    for row in slower["timeline"]:
        row["rps"] = row["rps"] * 2
    fig = charts.timeline_chart({"monolith": [mono, slower, slower]})
    rps = fig.axes[1]
    assert any(isinstance(c, PolyCollection) for c in rps.collections)          # the min–max band
    line = rps.get_lines()[0]
    assert list(line.get_ydata())[:3] == [2 * r["rps"] for r in mono["timeline"][:3]]   # the median


def test_time_charts_line_up(micro):
    runs = {"microservices": [micro]}
    timeline, resources = charts.timeline_chart(runs), charts.resources_chart(runs)
    for a, b in zip(timeline.axes[:1], resources.axes[:1]):
        assert a.get_xlim() == b.get_xlim() == (0, charts.time_extent(runs))
        assert math.isclose(a.get_position().x0, b.get_position().x0)
        assert math.isclose(a.get_position().x1, b.get_position().x1)


def test_a_restart_is_shaded_for_the_seconds_it_took_not_the_whole_phase(micro):
    run = copy.deepcopy(micro)
    run["phases"] = [{"name": "before", "start": 0, "end": 8}, {"name": "fault", "start": 8, "end": 18},
                     {"name": "after", "start": 18, "end": 26}]
    run["events"] = [{"t": 8.1, "label": "restart orders (graceful)", "result": 2.7, "done_t": 10.8}]
    window = charts.shaded_window(run)
    assert (window.start, window.end) == (8.1, 10.8)
    fig = charts.timeline_chart({"microservices": [run]})
    assert spans(fig.axes[0]) == [(8.1, 10.8)]
    caption = next(s.caption for s in charts.specs({"microservices": [run]}) if s.filename == "timeline.png")
    assert "restart orders (graceful), 8.1–10.8 s" in caption and "spike" not in caption


def test_a_fault_with_two_actions_is_shaded_from_the_first_to_the_end_of_the_last(micro):
    run = copy.deepcopy(micro)
    run["events"] = [{"t": 8.0, "label": "billing service killed", "done_t": 8.1},
                     {"t": 18.0, "label": "billing service started", "done_t": 19.6}]
    assert charts.shaded_window(run)[:2] == (8.0, 19.6)


def test_the_spike_is_shaded_as_the_spike(mono):
    assert charts.shaded_window(mono).label == "the spike"
    caption = next(s.caption for s in charts.specs({"monolith": [mono]}) if s.filename == "timeline.png")
    assert "grey band: the spike" in caption


def test_latency_per_endpoint_is_dots_not_bars_and_a_missing_one_says_na(mono, micro):
    gone = copy.deepcopy(micro)
    name = sorted(gone["endpoints"])[0]
    gone["endpoints"][name]["spike"]["p95_ms"] = None
    fig = charts.endpoints_chart({"monolith": [mono], "microservices": [gone]})
    ax = fig.axes[0]
    assert not [p for p in ax.patches if isinstance(p, Rectangle) and p.get_width() > 0]   # no bars
    assert "n/a" in texts(fig)
    assert ax.xaxis.get_major_formatter()(200, 0) == "200"


def test_an_open_model_timeline_has_no_users_panel(mono):
    run = copy.deepcopy(mono)
    run["model"] = "open"
    fig = charts.timeline_chart({"monolith": [run]})
    assert [ax.get_ylabel() for ax in fig.axes] == ["requests/s", "p95 ms", "errors/s"]


def test_charts_without_data_are_left_out():
    assert charts.timeline_chart({}) is None
    assert charts.load_chart({"monolith": [{"timeline": []}]}) is None
    assert charts.capacity_chart({}) is None
    assert charts.render_charts({}) == []
