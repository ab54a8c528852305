"""The node-in-a-box section of the autoscaling report reaches the page as HTML: it is appended
to the verdict section (Markup), which once escaped it into visible text."""
import pytest

from loadtests import node_report, scenarios

pytestmark = pytest.mark.unit


def test_the_node_section_stays_html_after_the_verdict_section():
    preface = scenarios.section(scenarios.SCENARIOS["autoscale"], [], {}, quick=True)
    preface += node_report.section({})
    text = str(preface)
    assert "<h2>The node in a box</h2>" in text
    assert "&lt;h2&gt;" not in text and "&lt;div" not in text
