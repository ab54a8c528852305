"""The Locust web-UI additions that do not need Locust: the "target is down" message, the
health probe, and the Comparison tab's rows built from the latest saved runs."""
import copy
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from loadtests import targets, ui

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "run-monolith.json"


@pytest.fixture(scope="module")
def monolith_run() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture
def microservices_run(monolith_run) -> dict:
    run = copy.deepcopy(monolith_run)
    run["target"] = "microservices"
    run["totals"]["all"].update({"requests": 400, "rps": 15.5, "p95_ms": 42.0, "error_pct": 1.25})
    run["totals"]["spike"].update({"rps": 30.0, "p95_ms": 99.9})
    run["recovery_s"] = None
    run["recovery_note"] = "did not recover within the run"
    return run


# -- not_running_message ------------------------------------------------------------------------
@pytest.mark.parametrize("target, url, command", [
    ("monolith", "http://127.0.0.1:8000", "make run-monolith"),
    ("microservices", "http://127.0.0.1:8080", "make run-micro"),
])
def test_nothing_answering_names_target_url_and_command(target, url, command):
    message = targets.not_running_message(target, url, None)
    assert message is not None
    assert target in message
    assert url in message
    assert f'"{command}"' in message
    assert "make demo" in message
    assert "`" not in message                     # shown as plain text in the web UI


def test_the_messages_speak_of_the_microservices_in_the_plural():
    assert targets.not_running_message("microservices", "http://x", None).startswith(
        "The microservices are not running at http://x. Start them")
    assert targets.not_running_message("monolith", "http://x", None).startswith(
        "The monolith is not running at http://x. Start it")


@pytest.mark.parametrize("target, other", [("monolith", "microservices"), ("microservices", "monolith")])
def test_the_other_architecture_answering(target, other):
    url = "http://127.0.0.1:9999"
    message = targets.not_running_message(target, url, {"status": "ok", "architecture": other})
    assert message is not None
    assert url in message
    assert f"the {other}, not the {target}" in message
    assert "--monolith-url" in message and "--microservices-url" in message


@pytest.mark.parametrize("target", ["monolith", "microservices"])
def test_the_right_architecture_answering_is_fine(target):
    assert targets.not_running_message(target, "http://x", {"status": "ok", "architecture": target}) is None


def test_a_degraded_deployment_of_the_right_kind_is_still_running():
    found = {"status": "degraded", "architecture": "microservices", "services": {"cart": "down"}}
    assert targets.not_running_message("microservices", "http://x", found) is None


# -- health ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        status, body = self.server.answers.get(self.path, (404, b'{"error": "not found"}'))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A tiny HTTP server on a free port; set `.answers[path] = (status, body)`."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.answers = {}
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def test_health_returns_the_healthz_answer(server):
    body = {"status": "ok", "architecture": "monolith"}
    server.answers["/healthz"] = (200, json.dumps(body).encode())
    assert targets.health(server.url) == body
    assert targets.health(server.url + "/") == body          # a trailing slash is fine


def test_health_of_the_microservices_gateway(server):
    body = {"status": "degraded", "architecture": "microservices", "services": {"cart": "down"}}
    server.answers["/healthz"] = (200, json.dumps(body).encode())
    assert targets.health(server.url) == body
    message = targets.not_running_message("monolith", server.url, targets.health(server.url))
    assert "the microservices, not the monolith" in message


@pytest.mark.parametrize("status, body", [
    (200, b'{"status": "ok"}'),          # some other service: no "architecture"
    (200, b"[1, 2]"),                    # JSON, but not an object
    (200, b"<html>hello</html>"),        # not JSON at all
    (500, b'{"architecture": "monolith"}'),
])
def test_health_of_something_that_is_not_the_shop(server, status, body):
    server.answers["/healthz"] = (status, body)
    assert targets.health(server.url) is None


def test_health_without_healthz(server):
    assert targets.health(server.url) is None                # 404


def test_health_with_nothing_listening():
    url = f"http://127.0.0.1:{free_port()}"
    assert targets.health(url, timeout=2) is None
    assert "is not running at " + url in targets.not_running_message("monolith", url, targets.health(url))


# -- comparison_rows ------------------------------------------------------------------------------
def by_metric(rows):
    return {r["metric"]: r for r in rows}


def test_comparison_rows_without_runs():
    rows = ui.comparison_rows({})
    assert [r["metric"] for r in rows] == [title for title, _ in ui.METRICS]
    assert all(r["monolith"] == "no run yet" and r["microservices"] == "no run yet" for r in rows)
    assert all(set(r) == {"metric", "monolith", "microservices"} for r in rows)


def test_comparison_rows_with_one_run(monolith_run):
    rows = by_metric(ui.comparison_rows({"monolith": monolith_run}))
    assert all(r["microservices"] == "no run yet" for r in rows.values())
    m = {k: r["monolith"] for k, r in rows.items()}
    assert m["Shape"] == "spike"
    assert m["Started (UTC)"] == "2026-11-21T05:50:53+00:00"
    assert m["Duration (s)"] == 26.1
    assert m["Peak users"] == 50
    assert m["Requests"] == 536
    assert m["Requests/s (whole run)"] == 20.57
    assert m["Requests/s during the spike"] == 46.2
    assert m["p50 ms"] == 1.5
    assert m["p95 ms"] == 17.2
    assert m["p99 ms"] == 213.5
    assert m["p95 ms during the spike"] == 18.3
    assert m["Error rate %"] == 0.0
    assert m["Error rate % during the spike"] == 0.0
    assert m["Recovery after the spike (s)"] == 0.0            # 0 s is a value, not "-"
    assert m["Ramp result"] == "-"                               # a spike run has no stop reason


def test_comparison_rows_with_two_runs(monolith_run, microservices_run):
    rows = by_metric(ui.comparison_rows({"monolith": monolith_run, "microservices": microservices_run}))
    assert rows["Requests"]["monolith"] == 536 and rows["Requests"]["microservices"] == 400
    assert rows["p95 ms"]["monolith"] == 17.2 and rows["p95 ms"]["microservices"] == 42.0
    assert rows["Requests/s during the spike"]["microservices"] == 30.0
    assert rows["Error rate %"]["microservices"] == 1.25
    assert rows["Recovery after the spike (s)"]["microservices"] == "did not recover within the run"
    assert not any("no run yet" in (r["monolith"], r["microservices"]) for r in rows.values())
    json.dumps(list(rows.values()))                              # served as JSON to the UI


def test_comparison_rows_of_a_ramp_run(monolith_run):
    ramp = copy.deepcopy(monolith_run)
    ramp.update(shape="ramp", stop_reason="saturated at 65 users: p95 612 ms > 500 ms")
    for key in ("recovery_s", "recovery_note", "baseline_p95_ms"):
        ramp.pop(key, None)
    ramp["totals"].pop("spike")
    rows = by_metric(ui.comparison_rows({"microservices": ramp}))
    assert rows["Ramp result"]["microservices"] == "saturated at 65 users: p95 612 ms > 500 ms"
    assert rows["Recovery after the spike (s)"]["microservices"] == "-"
    assert rows["Requests/s during the spike"]["microservices"] == "-"
    assert rows["p95 ms during the spike"]["microservices"] == "-"
    assert rows["Requests"]["monolith"] == "no run yet"


def test_comparison_rows_of_a_broken_run_show_dashes():
    rows = by_metric(ui.comparison_rows({"monolith": {"shape": "spike"}}))
    assert rows["Shape"]["monolith"] == "spike"
    assert rows["Requests"]["monolith"] == "-"
    assert rows["p95 ms"]["monolith"] == "-"


def test_comparison_rows_recovery_without_a_note():
    rows = by_metric(ui.comparison_rows({"monolith": {"recovery_s": None}}))
    assert rows["Recovery after the spike (s)"]["monolith"] == "did not recover in the run"


# -- latest_runs ----------------------------------------------------------------------------------
def test_latest_runs_without_a_folder(tmp_path):
    assert ui.latest_runs(tmp_path) == {}
    assert ui.latest_runs(tmp_path / "missing") == {}


def test_latest_runs_reads_the_latest_of_each_target(tmp_path, monolith_run, microservices_run):
    folder = tmp_path / "ui"
    folder.mkdir()
    (folder / "latest-monolith.json").write_text(json.dumps(monolith_run))
    assert ui.latest_runs(tmp_path) == {"monolith": monolith_run}
    (folder / "latest-microservices.json").write_text(json.dumps(microservices_run))
    (folder / "20260101-000000-monolith-spike.json").write_text(json.dumps({"target": "old"}))
    (folder / "latest-other.json").write_text(json.dumps({"target": "other"}))
    runs = ui.latest_runs(tmp_path)
    assert runs == {"monolith": monolith_run, "microservices": microservices_run}
    rows = by_metric(ui.comparison_rows(runs))
    assert rows["Requests"] == {"metric": "Requests", "monolith": 536, "microservices": 400}


def test_latest_runs_skips_a_half_written_file(tmp_path, monolith_run):
    folder = tmp_path / "ui"
    folder.mkdir()
    (folder / "latest-monolith.json").write_text(json.dumps(monolith_run))
    (folder / "latest-microservices.json").write_text('{"target": "microserv')
    assert ui.latest_runs(tmp_path) == {"monolith": monolith_run}


# -- url_for_target -------------------------------------------------------------------------------
def test_url_for_target_follows_the_target():
    env = SimpleNamespace(parsed_options=SimpleNamespace(monolith_url="http://m:1", microservices_url="http://s:2"))
    assert ui.url_for_target(env, "monolith") == "http://m:1"
    assert ui.url_for_target(env, "microservices") == "http://s:2"


def test_default_urls_match_the_make_targets():
    assert targets.DEFAULT_URLS == {"monolith": "http://127.0.0.1:8000", "microservices": "http://127.0.0.1:8080"}
    assert set(targets.START_COMMANDS) == set(ui.TARGETS) == set(targets.DEFAULT_URLS)
