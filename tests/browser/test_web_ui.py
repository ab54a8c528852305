"""The browser comparison as a user does it, in a real Chromium against a real Locust web UI
and both real deployments: the start form, a short run of each target (preparing, running,
stopped, never back to the start form), a run stopped early, the Comparison tab, /comparison."""
import json
import time
import urllib.request

import pytest

SIZES = {"spikeWarmup": "3", "spikeRise": "1", "spikeHold": "3", "spikeCooldown": "3",
         "baselineRps": "5", "peakRps": "15"}
RUN_TIMEOUT_S = 300          # the machine may be busy: signing in 100 shoppers can take a while

# Installed in the page before Start: what the status line said, whether the start form came
# back after the dashboard had replaced it.
WATCH = """() => {
  window.shopSeen = []; window.shopFormBack = false; window.shopDashboard = false;
  const check = () => {
    const s = document.getElementById('shop-status');
    const phase = s && s.dataset.phase;
    if (phase && window.shopSeen[window.shopSeen.length - 1] !== phase) window.shopSeen.push(phase);
    const form = document.querySelector('form [name=target]');
    if (!form) window.shopDashboard = true;
    else if (window.shopDashboard) window.shopFormBack = true;
  };
  new MutationObserver(check).observe(document.documentElement, {subtree: true, childList: true, attributes: true});
  check();
}"""


def status(ui) -> dict:
    with urllib.request.urlopen(f"{ui['url']}/shop/status", timeout=10) as r:
        return json.loads(r.read())


def open_form(page, ui):
    page.goto(ui["url"] + "/")
    page.wait_for_selector("#shop-status")
    if not page.query_selector("form [name=target]"):
        page.get_by_role("button", name="New").click()
    page.wait_for_selector(".shop-heading[data-group=sizes]")


def visible_labels(page) -> set[str]:
    return set(page.eval_on_selector_all(
        "form [data-shop-field]:not(.shop-hidden) label", "els => els.map(e => e.dataset.shopLabel)"))


def start_run(page, ui, target: str, sizes: dict) -> dict:
    """Fill the form, press Start, wait for the run to stop; what the page and Locust went through."""
    open_form(page, ui)
    page.select_option("select[name=target]", target)
    for name, value in sizes.items():
        page.fill(f"input[name={name}]", value)
    states = []
    page.on("response", lambda r: states.append(r.json()["state"]) if r.url.endswith("/stats/requests") else None)
    before = len(status(ui)["history"])
    page.evaluate(WATCH)
    page.locator("form button[type=submit]").click()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while status(ui)["history"][before:].count(["stopped"]) == 0 and time.monotonic() < deadline:
        phases = [h[0] for h in status(ui)["history"][before:]]
        if "stopped" in phases or "failed" in phases:
            break
        time.sleep(0.5)
    page.wait_for_function("document.getElementById('shop-status').dataset.phase === 'stopped'",
                           timeout=30_000)
    page.wait_for_function("document.querySelector('header').innerText.includes('STOPPED')", timeout=30_000)
    return {"seen": page.evaluate("window.shopSeen"), "form_back": page.evaluate("window.shopFormBack"),
            "locust_states": states, "history": [h[0] for h in status(ui)["history"][before:]],
            "header": page.locator("header").inner_text(), "status": status(ui)}


def in_order(seen: list[str], wanted: list[str]) -> bool:
    it = iter(seen)
    return all(any(s == w for s in it) for w in wanted)


# -- the start form ----------------------------------------------------------------------------------
def test_the_start_form_shows_target_shape_and_their_sizes(page, locust_ui):
    open_form(page, locust_ui)
    assert page.locator(".shop-heading").all_inner_texts()[:4] == [
        "Deployment", "Load model and shape", "Sizes of the spike (open model)", "Load generator"]
    labels = visible_labels(page)
    for wanted in ("Target: the deployment to load (it decides the URL)", "Baseline rate, requests/s "
                   "(before and after the spike)", "Peak rate, requests/s", "Seconds held at the peak"):
        assert wanted in labels
    assert any(label.startswith("Shape:") for label in labels) and any(label.startswith("Model:") for label in labels)
    assert not page.locator("[data-shop-unlabelled]").count(), "an option without a label in ui.FIELDS"
    for locust_field in ("userCount", "spawnRate", "host"):          # the Shape and the Target decide them
        assert not page.locator(f"form [name={locust_field}]").is_visible()
    assert "Number of users" in page.locator(".shop-note").inner_text()

    page.select_option("select[name=shape]", "ramp")
    labels = visible_labels(page)
    assert "First step, requests/s" in labels and "Peak rate, requests/s" not in labels
    page.select_option("select[name=model]", "closed")
    labels = visible_labels(page)
    assert "Users in the first step" in labels and "First step, requests/s" not in labels
    assert page.locator(".shop-heading[data-group=sizes]").inner_text() == "Sizes of the ramp (closed model)"

    page.select_option("select[name=target]", "microservices")
    assert page.locator("form [name=host]").input_value() == locust_ui["microservices"]
    page.screenshot(path=str(locust_ui["results"] / "form.png"), full_page=True)


# -- runs --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(browser, locust_ui):
    """A short complete run of each target, then a monolith run stopped early."""
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    done = {t: start_run(page, locust_ui, t, SIZES) for t in ("monolith", "microservices")}
    # a longer monolith run, stopped by hand while it runs
    open_form(page, locust_ui)
    page.select_option("select[name=target]", "monolith")
    for name, value in {**SIZES, "spikeHold": "120"}.items():
        page.fill(f"input[name={name}]", value)
    page.locator("form button[type=submit]").click()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while status(locust_ui)["phase"] != "running" and time.monotonic() < deadline:
        time.sleep(0.3)
    page.wait_for_function("document.getElementById('shop-status').dataset.phase === 'running'")
    page.screenshot(path=str(locust_ui["results"] / "running.png"))
    page.get_by_role("button", name="Stop").click()
    page.wait_for_function("document.getElementById('shop-status').dataset.phase === 'stopped'")
    done["early"] = {"status": status(locust_ui), "banner": page.locator("#shop-status").inner_text()}
    yield done
    context.close()


@pytest.mark.parametrize("target", ["monolith", "microservices"])
def test_a_short_run_goes_from_preparing_to_running_to_stopped_never_back_to_the_form(runs, locust_ui, target):
    run = runs[target]
    assert in_order(run["history"], ["preparing", "running", "stopping", "stopped"]), run["history"]
    assert in_order(run["seen"], ["preparing", "running", "stopped"]), run["seen"]
    assert not run["form_back"], "the start form came back while the run was going on"
    # Locust's page shows the start form, and stops asking, on "ready": it must never hear it.
    assert run["locust_states"] and "ready" not in run["locust_states"], run["locust_states"]
    assert locust_ui[target] in run["header"]
    assert run["status"]["complete"] is True


def test_a_run_stopped_early_is_marked_and_does_not_replace_a_complete_one(runs, page, locust_ui):
    early = runs["early"]
    assert early["status"]["complete"] is False
    assert "Stopped early" in early["banner"]
    saved = json.loads(urllib.request.urlopen(f"{locust_ui['url']}/comparison.json", timeout=10).read())
    assert "complete" in saved["chosen"]["monolith"]["describe"]
    assert any("newer monolith run" in w and "stopped early" in w for w in saved["warnings"])


def test_the_comparison_tab_shows_both_runs_with_ratios(runs, page, locust_ui):
    page.goto(locust_ui["url"] + "/")
    page.get_by_role("tab", name="Comparison").click()
    table = page.locator("table", has=page.locator("th", has_text="Latest complete run of each"))
    table.wait_for()
    rows = {r[0]: r[1:] for r in table.locator("tbody tr").evaluate_all(
        "trs => trs.map(tr => Array.from(tr.children).map(td => td.innerText.trim()))")}
    assert rows["Run compared"][0].endswith("complete") and rows["Run compared"][1].endswith("complete")
    ratios = [cells[2] for name, cells in rows.items() if name.startswith(("p95 ms", "Requests/s"))]
    assert ratios and all(r.endswith("×") or r.startswith(("+", "−", "both")) for r in ratios)
    assert "Ramp" not in " ".join(rows)                               # rows that do not apply are left out
    assert all(cells[3] in ("", "monolith", "microservices", "neither (within noise)") for cells in rows.values())
    link = page.locator("#shop-tab-notes-link")
    assert link.get_attribute("href").startswith("./comparison?monolith=")
    assert page.locator("#shop-tab-notes").inner_text().count("not pinned") >= 1
    page.screenshot(path=str(locust_ui["results"] / "comparison-tab.png"), full_page=True)


def test_the_comparison_page_renders_its_charts(runs, page, locust_ui):
    page.goto(locust_ui["url"] + "/comparison")
    images = page.locator("figure img")
    assert images.count() >= 3
    page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator("#warnings").inner_text().count("not pinned") == 1
    options = page.locator("select[name=monolith] option").all_inner_texts()
    assert any("stopped early" in o for o in options) and any(o.endswith("complete") for o in options)
    assert page.locator("select[name=monolith] option:checked").inner_text().endswith("complete")
    page.screenshot(path=str(locust_ui["results"] / "comparison-page.png"), full_page=True)
