"""The comparison report's page (loadtests/report.py and its templates), built from run summaries
in tests/fixtures, without drawing a chart (the charts have their own tests in
test_report_charts.py; a full report with its PNGs is opened in a real browser in tests/browser).

The monolith run is a real one (tests/fixtures/run-monolith.json); the microservices and ramp
runs under tests/fixtures/report/ are derived from it. Every expected number is read from those
files, and the page is parsed into its tables, so a wrong column, a wrong window or a number
left out fails."""
import copy
import html
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from loadtests import report, report_numbers, scenarios

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
fmt = report_numbers.fmt_value


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


# -- reading the page back ----------------------------------------------------------------------
class Page(HTMLParser):
    """Tables (class, attributes, rows of cell texts), headings, list items and paragraphs."""

    def __init__(self, text: str):
        super().__init__()
        self.tables, self.items, self.headings, self.order = [], [], [], []
        self._cell = self._item = self._heading = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append({"class": attrs.get("class"), "attrs": attrs, "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []
        elif tag == "li":
            self._item = []
        elif tag in ("h1", "h2", "h3"):
            self._heading = []
        if attrs.get("id"):
            self.order.append(attrs["id"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1]["rows"][-1].append(" ".join(p.strip() for p in self._cell if p.strip()))
            self._cell = None
        elif tag == "li" and self._item is not None:
            self.items.append("".join(self._item))
            self._item = None
        elif tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data):
        for part in (self._cell, self._item, self._heading):
            if part is not None:
                part.append(data)

    def table(self, css_class: str, **attrs) -> dict:
        found = [t for t in self.tables if t["class"] == css_class
                 and all(t["attrs"].get(k) == v for k, v in attrs.items())]
        assert len(found) == 1, f"expected one table.{css_class} {attrs}, found {len(found)}"
        return found[0]

    def rows_by_label(self, css_class: str, **attrs) -> dict[str, list[str]]:
        return {row[0]: row[1:] for row in self.table(css_class, **attrs)["rows"] if row}


def headline_header(page: Page) -> list[str]:
    return page.table("headline")["rows"][0]


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


def render(runs, **kwargs) -> str:
    kwargs.setdefault("title", "Spike: monolith vs microservices")
    return report.render_html(runs, charts=False, **kwargs)


@pytest.fixture(scope="module")
def built(mono, micro):
    runs = {"monolith": [mono], "microservices": [micro]}
    text = render(runs, environment=ENVIRONMENT, notes=NOTES,
                  preface=scenarios.section(scenarios.SCENARIOS["spike"], scenarios.spike_verdicts(runs), runs))
    return {"html": text, "page": Page(text)}


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
def test_the_page_is_self_contained(built):
    assert built["html"].lstrip().lower().startswith("<!doctype html>")
    assert "<script" not in built["html"].lower()
    for external in ('src="http', "href=", "<link", "@import", "url("):   # nothing fetched
        assert external not in built["html"]


def test_the_verdict_comes_first_with_the_claim_and_the_measured_answer(built, mono, micro):
    page = built["page"]
    assert page.order.index("verdict") < page.order.index("headline")
    assert page.headings[1] == "Claim: microservices absorb a traffic spike better"
    answer = built["html"][built["html"].index('class="answer"'):]
    answer = html.unescape(answer[:answer.index("</p>")])
    verdicts = scenarios.spike_verdicts({"monolith": [mono], "microservices": [micro]})
    wins = [v["measure"] for v in verdicts if v["better"] == "monolith"]
    assert wins and not [v for v in verdicts if v["better"] == "microservices"]   # what the fixtures are made of
    assert f"Not on this machine: the monolith did better on {len(wins)} of" in answer
    assert all(w in answer for w in wins)


def test_both_targets_head_the_headline_table(built):
    header = headline_header(built["page"])
    assert header[1].startswith("monolith") and header[2].startswith("microservices")
    assert header[3].startswith("ratio") and header[4].startswith("better")


def test_headline_numbers_are_the_runs_numbers(built, mono, micro):
    rows = built["page"].rows_by_label("headline")
    m_all, s_all = mono["totals"]["all"], micro["totals"]["all"]
    assert rows["Requests/s, whole run"][:2] == [fmt(m_all["rps"], "rate"), fmt(s_all["rps"], "rate")]
    assert rows["Requests/s, whole run"][0] == "20.6"        # 20.57 req/s, written to 3 figures
    assert rows["p95 ms, whole run"][:2] == [fmt(m_all["p95_ms"], "ms"), fmt(s_all["p95_ms"], "ms")]
    spike = mono["totals"]["spike"]
    assert rows["Requests/s, during the spike"][0] == fmt(spike["rps"], "rate")
    assert rows["p99 ms, during the spike"][0] == fmt(spike["p99_ms"], "ms")
    assert rows["Error %, during the spike"][1] == fmt(micro["totals"]["spike"]["error_pct"], "pct")
    assert rows["Peak users"][:2] == [str(mono["peak_users"]), str(micro["peak_users"])]
    assert rows["Recovery after the spike, s"][:2] == [fmt(mono["recovery_s"], "s"), fmt(micro["recovery_s"], "s")]


def test_ratio_is_microservices_over_monolith_and_a_difference_when_a_side_is_zero(built, mono, micro):
    rows = built["page"].rows_by_label("headline")
    for label, window, key in [("p95 ms, whole run", "all", "p95_ms"), ("Requests/s, during the spike", "spike", "rps")]:
        expected = micro["totals"][window][key] / mono["totals"][window][key]
        assert rows[label][2] == f"{expected:.2f}×"
    assert mono["totals"]["all"]["error_pct"] == 0 < micro["totals"]["all"]["error_pct"]
    diff = micro["totals"]["all"]["error_pct"]
    assert rows["Error %, whole run"][2] == f"+{diff:.2f} points"          # not 0.00× or "-100%"


def test_better_follows_the_verdicts_noise_rule(built, mono, micro):
    rows = built["page"].rows_by_label("headline")
    assert rows["Peak users"][3] == ""                                   # the load, not a result
    # p95 whole run: 17.2 against more than twice that, well over 5 ms: the monolith
    assert rows["p95 ms, whole run"][3] == "monolith"
    # requests/s differ by less than 20%: within noise
    assert rows["Requests/s, whole run"][3] == report_numbers.WITHIN_NOISE


def test_honest_reading_separates_noise_from_real_differences(built, mono, micro):
    html_text = html.unescape(built["html"])
    noise = html_text[html_text.index("Within noise on a shared machine"):html_text.index("Differences over the noise")]
    larger = html_text[html_text.index("Differences over the noise"):html_text.index("Caveats")]
    p95_ratio = micro["totals"]["all"]["p95_ms"] / mono["totals"]["all"]["p95_ms"]
    assert "Requests/s, whole run" in noise and "Requests/s, whole run" not in larger
    assert "p95 ms, whole run" in larger and "p95 ms, whole run" not in noise
    assert f"{p95_ratio:.2f}×" in larger
    assert "Peak users" not in noise + larger                           # the load, not a result


def test_memory_has_one_definition_and_the_processes_table_says_what_its_numbers_are(mono, micro):
    runs = {"monolith": [mono], "microservices": [micro]}
    text = render(runs)
    rows = Page(text).rows_by_label("headline")
    res = micro["resources"]
    assert rows[report_numbers.MEMORY_LABEL][1] == fmt(res["peak_rss_mb"], "mb")
    assert report_numbers.MEMORY_NOTE in html.unescape(text)
    processes = Page(text).table("processes")["rows"]
    assert "own peak, whole sampling" in processes[0][4]
    assert [r[1] for r in processes[1:]] == [p["name"] for p in res["processes"]]
    assert "do not add up to the headline" in text


def test_endpoint_tables_put_both_targets_side_by_side(built, mono, micro):
    page = built["page"]
    for window in ("spike", "outside_spike"):
        rows = page.rows_by_label("endpoints", **{"data-window": window})
        rows = {k: v for k, v in rows.items() if k in mono["endpoints"]}
        assert sorted(rows) == sorted(mono["endpoints"])
        for name, cells in rows.items():
            m, s = mono["endpoints"][name][window], micro["endpoints"][name][window]
            assert cells[:5] == [fmt(m["rps"], "rate"), fmt(m["p50_ms"], "ms"), fmt(m["p95_ms"], "ms"),
                                 fmt(m["p99_ms"], "ms"), fmt(m["error_pct"], "pct")]
            assert cells[5:10] == [fmt(s["rps"], "rate"), fmt(s["p50_ms"], "ms"), fmt(s["p95_ms"], "ms"),
                                   fmt(s["p99_ms"], "ms"), fmt(s["error_pct"], "pct")]


def test_environment_and_notes_are_rendered_escaped(built):
    rows = built["page"].rows_by_label("environment")
    assert rows["CPU model"] == [ENVIRONMENT["CPU model"]]
    assert json.loads(rows["workers"][0]) == ENVIRONMENT["workers"]
    assert html.escape(ENVIRONMENT["CPU model"]) in built["html"]
    assert ENVIRONMENT["CPU model"] not in built["html"]               # the raw "<model>" never gets in
    assert NOTES[0] in built["page"].items


def test_a_title_with_markup_is_escaped(mono):
    text = render({"monolith": [mono]}, title="<script>alert(1)</script>")
    assert "<script>" not in text and "&lt;script&gt;" in text


# -- repeats ------------------------------------------------------------------------------------
def test_repeats_show_median_spread_and_count(mono, micro):
    runs = {"monolith": repeats_of(mono, [0.9, 1.0, 1.25]), "microservices": repeats_of(micro, [1.0, 0.95, 1.1])}
    page = Page(render(runs))
    rows = page.rows_by_label("headline")
    for i, target in enumerate(("monolith", "microservices")):
        rates = sorted(r["totals"]["all"]["rps"] for r in runs[target])
        cell = rows["Requests/s, whole run"][i]
        assert cell == f"{fmt(rates[1], 'rate')} {fmt(rates[0], 'rate')}–{fmt(rates[-1], 'rate')}"
    assert all("3" in h for h in headline_header(page)[1:3])


def test_overlapping_spreads_are_flagged(mono):
    runs = {"monolith": repeats_of(mono, [0.8, 1.0, 1.6]), "microservices": repeats_of(mono, [1.0, 1.5, 2.5])}
    text = html.unescape(render(runs))
    larger = text[text.index("Differences over the noise"):]
    line = next(li for li in Page(render(runs)).items if li.startswith("p95 ms, whole run"))
    assert line in larger and "spreads overlap" in line


# -- smoke runs and scenarios ------------------------------------------------------------------
def test_a_quick_run_is_marked_as_a_smoke_run_and_gives_no_verdict(mono, micro):
    runs = {"monolith": [mono], "microservices": [micro]}
    env = {"QUICK": "a smoke run of the pipeline, not a measurement"}
    preface = scenarios.section(scenarios.SCENARIOS["spike"], scenarios.spike_verdicts(runs), runs, quick=True)
    text = render(runs, environment=env, preface=preface)
    page = Page(text)
    assert page.order[0] == "smoke" and page.order.index("smoke") < page.order.index("verdict")
    assert "not a measurement" in text
    answer = text[text.index('class="answer"'):]
    answer = answer[:answer.index("</p>")]
    assert "No answer from a smoke run" in answer and "did better" not in answer
    assert any("smoke run" in item.lower() for item in page.items)      # and in the caveats


def test_a_fault_scenario_is_not_captioned_as_a_spike_and_its_capacity_says_what_it_multiplies(micro):
    run = copy.deepcopy(micro)
    for key in ("recovery_s", "baseline_p95_ms"):
        run.pop(key, None)
    run["phases"] = [{"name": "before", "start": 0, "end": 8}, {"name": "fault", "start": 8, "end": 18},
                     {"name": "after", "start": 18, "end": 26}]
    run["totals"] = {k: v for k, v in run["totals"].items() if k not in ("spike", "outside_spike", "baseline")}
    run["totals"]["fault"] = run["totals"]["all"]
    text = render({"monolith": [copy.deepcopy(run) | {"target": "monolith"}], "microservices": [run]})
    assert "the spike" not in text.replace("no spike", "")
    assert "10x the fault phase&#39;s rate" in text


def test_the_capacity_step_test_is_reported_with_where_the_load_fell(mono, micro):
    cap = {"steps": [{"target_rps": 50, "held": True, "p95_ms": 4.0, "goodput_rps": 50.0},
                     {"target_rps": 100, "held": False, "why": "p95 300 ms > 250 ms"}],
           "capacity": {"rps": 50, "first_failed_rps": 100, "why": "p95 300 ms > 250 ms"}}
    m = copy.deepcopy(mono)
    m["shape_options"] = {**m["shape_options"], "peak_rps": 150}
    text = html.unescape(render({"monolith": [m], "microservices": [micro]}, capacity_runs={"monolith": cap}))
    assert "monolith: 50.0 req/s (the next step, 100 req/s, failed: p95 300 ms > 250 ms)" in text
    assert "the spike's peak, 150 req/s, is 3.0x this capacity" in text


# -- ramp ---------------------------------------------------------------------------------------
def test_ramp_shows_steps_and_saturation_point():
    mono_ramp, micro_ramp = load("report/run-monolith-ramp.json"), load("report/run-microservices-ramp.json")
    text = render({"monolith": [mono_ramp], "microservices": [micro_ramp]}, title="Ramp")
    page = Page(text)
    start = text.index('class="saturation"')
    saturation = text[start:text.index("</div>", start)]
    for run in (mono_ramp, micro_ramp):
        assert html.escape(run["stop_reason"]) in saturation
    steps = page.rows_by_label("steps")
    levels = sorted({s["users"] for r in (mono_ramp, micro_ramp) for s in r["steps"]})
    assert [int(k) for k in steps if k.isdigit()] == levels
    last = mono_ramp["steps"][-1]
    row = steps[str(last["users"])]
    assert row[:5] == [fmt(last["rps"], "rate"), fmt(last["p50_ms"], "ms"), fmt(last["p95_ms"], "ms"),
                       fmt(last["p99_ms"], "ms"), fmt(last["error_pct"], "pct")]
    assert set(row[5:]) == {report_numbers.DASH}
    headline = page.rows_by_label("headline")
    assert headline["Ramp: saturated at users"][:2] == [str(mono_ramp["steps"][-1]["users"]),
                                                         str(micro_ramp["steps"][-1]["users"])]
    assert "Requests/s, during the spike" not in headline


# -- partial data -------------------------------------------------------------------------------
@pytest.mark.parametrize("runs", [lambda m: {"monolith": [m]}, lambda m: {"monolith": [m], "microservices": []}],
                         ids=["only-monolith", "microservices-empty"])
def test_one_target_alone_still_renders(mono, runs):
    page = Page(render(runs(mono), title="Monolith only"))
    header = headline_header(page)
    assert len(header) == 2 and header[1].startswith("monolith")
    assert page.rows_by_label("headline")["p95 ms, whole run"] == [fmt(mono["totals"]["all"]["p95_ms"], "ms")]
    assert any(item.startswith("No runs for microservices") for item in page.items)


def test_missing_data_never_crashes(mono, micro):
    bare = copy.deepcopy(mono)
    bare["totals"]["all"]["p95_ms"] = None
    bare["recovery_s"] = None
    del bare["endpoints"]
    rows = Page(render({"monolith": [bare], "microservices": [micro]}, title="Sparse")).rows_by_label("headline")
    assert rows["p95 ms, whole run"][:3] == [report_numbers.DASH, fmt(micro["totals"]["all"]["p95_ms"], "ms"),
                                             report_numbers.DASH]
    assert rows["Recovery after the spike, s"][:2] == ["did not recover", fmt(micro["recovery_s"], "s")]
    assert rows["Recovery after the spike, s"][3] == "microservices"    # never recovering loses
    skeleton = render({"monolith": [bare], "microservices": [{"target": "microservices"}]}, title="Skeleton")
    assert "microservices" in headline_header(Page(skeleton))[2]
    empty = render({}, title="Nothing")
    assert "No runs to report" in empty and "<img" not in empty
