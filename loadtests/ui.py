"""The web UI additions: a Target dropdown, a plain message when the target is down, a
Comparison tab (latest run of each target side by side) and a /comparison page with charts."""
import json
from pathlib import Path

from flask import Response, jsonify, request

from loadtests import targets

TARGETS = ["monolith", "microservices"]

METRICS = [  # (row title, how to read it off a run summary)
    ("Model", lambda r: r.get("model") or "closed"),
    ("Shape", lambda r: r.get("shape")),
    ("Started (UTC)", lambda r: r.get("started_at")),
    ("Duration (s)", lambda r: r.get("duration_s")),
    ("Peak users", lambda r: r.get("peak_users")),
    ("Requests", lambda r: r["totals"]["all"]["requests"]),
    ("Offered requests/s during the spike", lambda r: r["totals"].get("spike", {}).get("offered_rps")),
    ("Goodput/s during the spike (ok within the SLO)", lambda r: r["totals"].get("spike", {}).get("goodput_rps")),
    ("Seconds the SLO was broken", lambda r: (r.get("slo") or {}).get("violation_seconds")),
    ("Shed at once (503), whole run", lambda r: (r["totals"]["all"].get("errors") or {}).get("shed")),
    ("Dropped by the load generator", lambda r: r["totals"]["all"].get("dropped")),
    ("Requests/s (whole run)", lambda r: r["totals"]["all"]["rps"]),
    ("Requests/s during the spike", lambda r: r["totals"].get("spike", {}).get("rps")),
    ("p50 ms", lambda r: r["totals"]["all"]["p50_ms"]),
    ("p95 ms", lambda r: r["totals"]["all"]["p95_ms"]),
    ("p99 ms", lambda r: r["totals"]["all"]["p99_ms"]),
    ("p95 ms during the spike", lambda r: r["totals"].get("spike", {}).get("p95_ms")),
    ("Error rate %", lambda r: r["totals"]["all"]["error_pct"]),
    ("Error rate % during the spike", lambda r: r["totals"].get("spike", {}).get("error_pct")),
    ("Recovery after the spike (s)", lambda r: _recovery(r)),
    ("Ramp result", lambda r: r.get("stop_reason")),
]


def _recovery(run: dict):
    if "recovery_s" not in run:
        return None
    if run["recovery_s"] is None:
        return run.get("recovery_note") or "did not recover in the run"
    return run["recovery_s"]


def latest_runs(results_dir: Path) -> dict[str, dict]:
    runs = {}
    for target in TARGETS:
        path = results_dir / "ui" / f"latest-{target}.json"
        if path.exists():
            try:
                runs[target] = json.loads(path.read_text())
            except ValueError:
                pass
    return runs


def comparison_rows(runs: dict[str, dict]) -> list[dict]:
    rows = []
    for title, read in METRICS:
        row = {"metric": title}
        for target in TARGETS:
            try:
                value = read(runs[target]) if target in runs else "no run yet"
            except (KeyError, TypeError):
                value = None
            row[target] = "-" if value is None else value
        rows.append(row)
    return rows


def install(environment) -> None:
    web_ui = environment.web_ui
    if web_ui is None:
        return
    results_dir = Path(environment.parsed_options.results_dir)
    web_ui.template_args["extended_tabs"] = [{"title": "Comparison", "key": "comparison"}]
    web_ui.template_args["extended_tables"] = [{"key": "comparison", "structure": [
        {"key": "metric", "title": "Latest run of each (charts: /comparison)"},
        {"key": "monolith", "title": "Monolith"},
        {"key": "microservices", "title": "Microservices"}]}]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "/comparison", "title": "Comparison charts of the latest runs (opens a page)"}]
    app = web_ui.app

    @app.before_request
    def refuse_when_target_down():
        if request.path != "/swarm" or request.method != "POST":
            return None
        target = request.form.get("target") or environment.parsed_options.target
        if target not in TARGETS:
            return jsonify({"success": False, "message": f"Unknown target {target!r}.", "host": ""})
        url = url_for_target(environment, target)
        message = targets.not_running_message(target, url, targets.health(url))
        if message:
            return jsonify({"success": False, "message": message, "host": url})
        return None

    @app.after_request
    def add_comparison(response):
        if request.path == "/swarm" and response.is_json:
            data = response.get_json()
            if data.get("success"):  # show the URL the Target picked, not what the Host field said
                data["host"] = url_for_target(environment, request.form.get("target")
                                              or environment.parsed_options.target)
                response.set_data(json.dumps(data))
        if request.path == "/stats/requests" and response.is_json:
            data = response.get_json()
            data["extended_stats"] = [{"key": "comparison", "data": comparison_rows(latest_runs(results_dir))}]
            response.set_data(json.dumps(data))
        return response

    @app.route("/comparison")
    def comparison_page():
        from loadtests import report  # matplotlib is only loaded when the page is asked for
        runs = latest_runs(results_dir)
        if not runs:
            return Response("<p>No runs yet: start one of each target from the Locust UI.</p>",
                            mimetype="text/html")
        return Response(report.render_html({t: [r] for t, r in runs.items()},
                                           title="Latest browser runs, side by side"),
                        mimetype="text/html")


def url_for_target(environment, target: str) -> str:
    o = environment.parsed_options
    return o.monolith_url if target == "monolith" else o.microservices_url
