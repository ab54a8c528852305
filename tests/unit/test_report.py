"""The comparison report (loadtests/report.py), built from run summaries in tests/fixtures.

The monolith run is a real one (tests/fixtures/run-monolith.json); the microservices and ramp
runs under tests/fixtures/report/ are derived from it. Every expected number is read from those
files, and the page is parsed into its tables, so a wrong column, a wrong window or a number
left out fails. Everything is written under tmp_path."""
import base64
import copy
import html
import io
import json
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from loadtests import report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_URI = "data:image/png;base64,"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


# -- reading the page back ----------------------------------------------------------------------
class Page(HTMLParser):
    """Tables (class, attributes, rows of cell texts), image sources and list items of a page."""

    def __init__(self, text: str):
        super().__init__()
        self.tables, self.images, self.items = [], [], []
        self._cell = None
        self._item = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append({"class": attrs.get("class"), "attrs": attrs, "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "li":
            self._item = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1]["rows"][-1].append(" ".join(p.strip() for p in self._cell if p.strip()))
            self._cell = None
        elif tag == "li" and self._item is not None:
            self.items.append("".join(self._item))
            self._item = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._item is not None:
            self._item.append(data)

    def table(self, css_class: str, **attrs) -> dict:
        found = [t for t in self.tables if t["class"] == css_class
                 and all(t["attrs"].get(k) == v for k, v in attrs.items())]
        assert len(found) == 1, f"expected one table.{css_class} {attrs}, found {len(found)}"
        return found[0]

    def rows_by_label(self, css_class: str, **attrs) -> dict[str, list[str]]:
        return {row[0]: row[1:] for row in self.table(css_class, **attrs)["rows"] if row}


def headline_header(page: Page) -> list[str]:
    return page.table("headline")["rows"][0]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    return struct.unpack(">II", data[16:24])


def assert_png(data: bytes) -> None:
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(data)) as image:
        image.verify()


def fmt(x, kind):
    return report.fmt_value(x, kind)


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mono():
    return load("run-monolith.json")


@pytest.fixture(scope="module")
def micro():
    return load("report/run-microservices.json")


ENVIRONMENT = {"CPU model": "Test CPU <model> & co", "cores": 2, "Python": "3.11.9",
               "locust": "2.47.0", "workers": {"monolith": 2, "gateway": 1}}
NOTES = ["Both targets ran on the same machine, one after the other <in turn>."]


@pytest.fixture(scope="module")
def built(mono, micro, tmp_path_factory):
    out = tmp_path_factory.mktemp("spike")
    path = report.build({"monolith": [mono], "microservices": [micro]}, out,
                        title="Spike: monolith vs microservices", environment=ENVIRONMENT, notes=NOTES)
    text = path.read_text(encoding="utf-8")
    return {"out": out, "path": path, "html": text, "page": Page(text)}


def repeats_of(run: dict, factors: list[float]) -> list[dict]:
    """Copies of a run whose overall requests/s and p95 are scaled by each factor."""
    out = []
    for f in factors:
        r = copy.deepcopy(run)
        r["totals"]["all"]["rps"] = round(run["totals"]["all"]["rps"] * f, 2)
        r["totals"]["all"]["p95_ms"] = round(run["totals"]["all"]["p95_ms"] * f, 1)
        out.append(r)
    return out


# -- the spike report ---------------------------------------------------------------------------
def test_build_writes_the_page_and_the_chart_files(built, micro):
    assert built["path"] == built["out"] / "report.html"
    names = sorted(p.name for p in (built["out"] / "charts").iterdir())
    # resources.png because the microservices run recorded a resources timeline
    assert micro["resources"]["timeline"]
    assert names == ["endpoints-p95.png", "resources.png", "timeline.png"]
    assert built["html"].lstrip().lower().startswith("<!doctype html>")
    assert "<script" not in built["html"].lower()
    for external in ('src="http', "href=", "<link", "@import", "url("):   # nothing fetched
        assert external not in built["html"]


def test_both_targets_head_the_headline_table(built):
    header = headline_header(built["page"])
    assert header[1].startswith("monolith") and header[2].startswith("microservices")
    assert header[3].startswith("ratio")


def test_every_chart_is_an_inline_png_identical_to_its_file(built):
    sources = [s for s in built["page"].images if s.startswith(DATA_URI)]
    assert len(sources) == len(built["page"].images)
    inline = [base64.b64decode(s[len(DATA_URI):], validate=True) for s in sources]
    files = [p.read_bytes() for p in sorted((built["out"] / "charts").iterdir())]
    assert len(inline) == len(files) == 3
    assert built["html"].count("<img") == len(files)
    for data in inline:
        assert_png(data)
    assert sorted(inline) == sorted(files)


def test_headline_numbers_are_the_runs_numbers(built, mono, micro):
    rows = built["page"].rows_by_label("headline")
    m_all, s_all = mono["totals"]["all"], micro["totals"]["all"]
    assert rows["Requests/s, whole run"][:2] == [fmt(m_all["rps"], "rate"), fmt(s_all["rps"], "rate")]
    assert rows["Requests/s, whole run"][0] == "20.6"        # 20.57 req/s, written to 3 figures
    assert rows["p95 ms, whole run"][:2] == [fmt(m_all["p95_ms"], "ms"), fmt(s_all["p95_ms"], "ms")]
    assert rows["p95 ms, whole run"][0] == "17.2"
    spike = mono["totals"]["spike"]
    assert rows["Requests/s, during the spike"][0] == fmt(spike["rps"], "rate")
    assert rows["p99 ms, during the spike"][0] == fmt(spike["p99_ms"], "ms")
    assert rows["Error %, during the spike"][1] == fmt(micro["totals"]["spike"]["error_pct"], "pct")
    assert rows["Peak users"][:2] == [str(mono["peak_users"]), str(micro["peak_users"])]
    assert rows["Recovery after the spike, s"][:2] == [fmt(mono["recovery_s"], "s"), fmt(micro["recovery_s"], "s")]


def test_ratio_is_microservices_over_monolith(built, mono, micro):
    rows = built["page"].rows_by_label("headline")
    for label, window, key in [("p95 ms, whole run", "all", "p95_ms"), ("Requests/s, during the spike", "spike", "rps")]:
        expected = micro["totals"][window][key] / mono["totals"][window][key]
        assert rows[label][2] == f"{expected:.2f}×"
    assert rows["Error %, whole run"][2] == report.DASH      # 0% for the monolith: no ratio


def test_resources_appear_only_for_the_run_that_has_them(built, mono, micro):
    assert "resources" not in mono
    rows = built["page"].rows_by_label("headline")
    res = micro["resources"]
    assert rows["CPU seconds"][:2] == [report.DASH, fmt(res["cpu_seconds"], "number")]
    assert rows["CPU ms per request"][:2] == [report.DASH, fmt(res["cpu_ms_per_request"], "number")]
    assert rows["Peak RSS MB"][1] == fmt(res["peak_rss_mb"], "mb")
    assert rows["Average RSS MB"][1] == fmt(res["avg_rss_mb"], "mb")
    processes = built["page"].table("processes")["rows"][1:]
    assert [r[1] for r in processes] == [p["name"] for p in res["processes"]]


def test_honest_reading_separates_noise_from_real_differences(built, mono, micro):
    html_text = built["html"]
    noise = html_text[html_text.index("Within noise on a shared machine"):html_text.index("Differences of 20% or more")]
    larger = html_text[html_text.index("Differences of 20% or more"):html_text.index("Caveats")]
    rps_ratio = micro["totals"]["all"]["rps"] / mono["totals"]["all"]["rps"]
    p95_ratio = micro["totals"]["all"]["p95_ms"] / mono["totals"]["all"]["p95_ms"]
    assert abs(rps_ratio - 1) < 0.2 and abs(p95_ratio - 1) >= 0.2     # what the fixtures are made of
    assert "Requests/s, whole run" in noise and "Requests/s, whole run" not in larger
    assert "p95 ms, whole run" in larger and "p95 ms, whole run" not in noise
    assert f"{p95_ratio:.2f}×" in larger
    assert "Peak users" not in noise + larger                           # the load, not a result


def test_endpoint_tables_put_both_targets_side_by_side(built, mono, micro):
    page = built["page"]
    for window, heading in (("spike", "During the spike"), ("outside_spike", "Outside the spike")):
        assert f'<h3>{heading}</h3><table class="endpoints" data-window="{window}">' in built["html"]
        rows = page.rows_by_label("endpoints", **{"data-window": window})
        rows = {k: v for k, v in rows.items() if k in mono["endpoints"]}
        assert sorted(rows) == sorted(mono["endpoints"])
        for name, cells in rows.items():
            m, s = mono["endpoints"][name][window], micro["endpoints"][name][window]
            assert cells[:5] == [fmt(m["rps"], "rate"), fmt(m["p50_ms"], "ms"), fmt(m["p95_ms"], "ms"),
                                 fmt(m["p99_ms"], "ms"), fmt(m["error_pct"], "pct")]
            assert cells[5:10] == [fmt(s["rps"], "rate"), fmt(s["p50_ms"], "ms"), fmt(s["p95_ms"], "ms"),
                                   fmt(s["p99_ms"], "ms"), fmt(s["error_pct"], "pct")]
    failing = [n for n, e in micro["endpoints"].items() if e["spike"]["failures"]]
    assert failing                                                   # the fixture has some
    spike_rows = page.rows_by_label("endpoints", **{"data-window": "spike"})
    for name in failing:
        assert spike_rows[name][4] == fmt(0.0, "pct") != spike_rows[name][9]


def test_environment_and_notes_are_rendered_escaped(built):
    rows = built["page"].rows_by_label("environment")
    assert rows["CPU model"] == [ENVIRONMENT["CPU model"]]
    assert rows["cores"] == ["2"]
    assert json.loads(rows["workers"][0]) == ENVIRONMENT["workers"]
    assert html.escape(ENVIRONMENT["CPU model"]) in built["html"]
    assert ENVIRONMENT["CPU model"] not in built["html"]               # the raw "<model>" never gets in
    assert NOTES[0] in built["page"].items
    assert html.escape(NOTES[0]) in built["html"]


def test_charts_match_the_readme_resolution(built):
    width, height = png_size((built["out"] / "charts" / "timeline.png").read_bytes())
    assert 800 <= width <= 1200 and height > width / 2


# -- repeats ------------------------------------------------------------------------------------
def test_repeats_show_median_spread_and_count(mono, micro):
    runs = {"monolith": repeats_of(mono, [0.9, 1.0, 1.25]), "microservices": repeats_of(micro, [1.0, 0.95, 1.1])}
    page = Page(report.render_html(runs, title="Repeats"))
    rows = page.rows_by_label("headline")
    for i, target in enumerate(("monolith", "microservices")):
        rates = sorted(r["totals"]["all"]["rps"] for r in runs[target])
        cell = rows["Requests/s, whole run"][i]
        assert cell == f"{fmt(rates[1], 'rate')} {fmt(rates[0], 'rate')}–{fmt(rates[-1], 'rate')}"
        p95 = sorted(r["totals"]["all"]["p95_ms"] for r in runs[target])
        assert f"{fmt(p95[0], 'ms')}–{fmt(p95[-1], 'ms')}" in rows["p95 ms, whole run"][i]
    assert all("3" in h for h in headline_header(page)[1:3])
    # numbers that did not vary across repeats show no spread to speak of
    same = mono["totals"]["spike"]["p95_ms"]
    assert rows["p95 ms, during the spike"][0] == f"{fmt(same, 'ms')} {fmt(same, 'ms')}–{fmt(same, 'ms')}"
    assert any("first run" in item for item in page_captions(runs))


def page_captions(runs) -> list[str]:
    return [c.caption for c in report.render_charts(runs)]


def test_overlapping_spreads_are_flagged(mono):
    slower = repeats_of(mono, [1.0, 1.5, 2.5])
    runs = {"monolith": repeats_of(mono, [0.8, 1.0, 1.6]), "microservices": slower}
    text = report.render_html(runs, title="Overlap")
    larger = text[text.index("Differences of 20% or more"):]
    line = next(li for li in Page(text).items if li.startswith("p95 ms, whole run"))
    assert line in html.unescape(larger) and "spreads overlap" in line


# -- ramp ---------------------------------------------------------------------------------------
def test_ramp_shows_steps_and_saturation_point(tmp_path):
    mono_ramp, micro_ramp = load("report/run-monolith-ramp.json"), load("report/run-microservices-ramp.json")
    path = report.build({"monolith": [mono_ramp], "microservices": [micro_ramp]}, tmp_path, title="Ramp")
    text = path.read_text(encoding="utf-8")
    page = Page(text)
    start = text.index('class="saturation"')
    saturation = text[start:text.index("</div>", start)]
    for run in (mono_ramp, micro_ramp):
        assert run["stop_reason"].startswith("saturated")
        assert html.escape(run["stop_reason"]) in saturation
    steps = page.rows_by_label("steps")
    levels = sorted({s["users"] for r in (mono_ramp, micro_ramp) for s in r["steps"]})
    assert [int(k) for k in steps if k.isdigit()] == levels
    last = mono_ramp["steps"][-1]
    assert last["users"] not in [s["users"] for s in micro_ramp["steps"]]
    row = steps[str(last["users"])]
    assert row[:5] == [fmt(last["rps"], "rate"), fmt(last["p50_ms"], "ms"), fmt(last["p95_ms"], "ms"),
                       fmt(last["p99_ms"], "ms"), fmt(last["error_pct"], "pct")]
    assert set(row[5:]) == {report.DASH}
    headline = page.rows_by_label("headline")
    assert headline["Ramp: saturated at users"][:2] == [str(mono_ramp["steps"][-1]["users"]),
                                                         str(micro_ramp["steps"][-1]["users"])]
    assert "Requests/s, during the spike" not in headline
    assert (tmp_path / "charts" / "ramp-steps.png").exists()


# -- partial data -------------------------------------------------------------------------------
@pytest.mark.parametrize("runs", [lambda m: {"monolith": [m]}, lambda m: {"monolith": [m], "microservices": []}],
                         ids=["only-monolith", "microservices-empty"])
def test_one_target_alone_still_renders(mono, runs, tmp_path):
    path = report.build(runs(mono), tmp_path, title="Monolith only")
    page = Page(path.read_text(encoding="utf-8"))
    header = headline_header(page)
    assert len(header) == 2 and header[1].startswith("monolith")
    assert page.rows_by_label("headline")["p95 ms, whole run"] == [fmt(mono["totals"]["all"]["p95_ms"], "ms")]
    assert any(item.startswith("No runs for microservices") for item in page.items)
    assert len(page.images) == len(list((tmp_path / "charts").iterdir())) == 2   # no resources chart


def test_missing_data_never_crashes(mono, micro, tmp_path):
    bare = copy.deepcopy(mono)
    for row in bare["timeline"]:
        row.update(p50_ms=None, p95_ms=None, p99_ms=None)
    bare["totals"]["all"]["p95_ms"] = None
    bare["recovery_s"] = None
    del bare["endpoints"]
    text = report.render_html({"monolith": [bare], "microservices": [micro]}, title="Sparse")
    rows = Page(text).rows_by_label("headline")
    assert rows["p95 ms, whole run"] == [report.DASH, fmt(micro["totals"]["all"]["p95_ms"], "ms"), report.DASH]
    assert rows["Recovery after the spike, s"][:2] == ["did not recover", fmt(micro["recovery_s"], "s")]
    skeleton = report.render_html({"monolith": [bare], "microservices": [{"target": "microservices"}]},
                                  title="Skeleton", environment=None, notes=None)
    assert "microservices" in headline_header(Page(skeleton))[2]
    assert report.write_charts({}, tmp_path / "none") == []
    empty = report.render_html({}, title="Nothing")
    assert "No runs to report" in empty and "<img" not in empty
