"""A report as `make compare` writes it (charts and all), opened from file:// in a real Chromium:
the verdict comes first, and every chart loads."""
import json
from pathlib import Path

from loadtests import report, scenarios

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_a_report_opened_from_a_file_shows_the_verdict_first(page, tmp_path):
    runs = {"monolith": [json.loads((FIXTURES / "run-monolith.json").read_text())],
            "microservices": [json.loads((FIXTURES / "report" / "run-microservices.json").read_text())]}
    preface = scenarios.section(scenarios.SCENARIOS["spike"], scenarios.spike_verdicts(runs), runs)
    path = report.build(runs, tmp_path, title="Monolith vs microservices: spike", preface=preface,
                        environment={"CPU model": "test"})
    page.goto(path.as_uri())
    headings = page.locator("h2").all_inner_texts()
    assert headings[0] == "Claim: microservices absorb a traffic spike better"
    answer = page.locator("#verdict .answer")
    assert answer.inner_text().startswith(("Not on this machine", "Yes, on this machine", "Mixed", "No difference"))
    verdict_top = page.locator("#verdict").bounding_box()["y"]
    assert verdict_top < page.locator("#headline").bounding_box()["y"]
    assert verdict_top < page.viewport_size["height"]                  # seen without scrolling
    page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator("figure img").count() == len(list((tmp_path / "charts").iterdir())) >= 3
    page.screenshot(path=str(tmp_path / "report.png"))
