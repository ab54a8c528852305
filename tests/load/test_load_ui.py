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
    rows = by_metric(ui.comparison_rows({}))
    assert rows["Run compared"]["monolith"] == rows["Run compared"]["microservices"] == "no run yet"
    assert all(set(r) == {"metric", "monolith", "microservices", "ratio", "better"} for r in rows.values())


def test_comparison_rows_with_two_runs(monolith_run, microservices_run):
    rows = by_metric(ui.comparison_rows({"monolith": monolith_run, "microservices": microservices_run}))
    assert rows["p95 ms, whole run"]["monolith"] == "17.2" and rows["p95 ms, whole run"]["microservices"] == "42.0"
    assert rows["p95 ms, whole run"]["ratio"] == f"{42.0 / 17.2:.2f}×"
    assert rows["p95 ms, whole run"]["better"] == "monolith"
    assert rows["Error %, whole run"]["ratio"] == "+1.25 points"            # 0% against 1.25%: no ratio
    assert rows["Recovery after the spike, s"]["microservices"] == "did not recover"
    assert "Ramp: saturated at users" not in rows                          # does not apply to a spike
    json.dumps(list(rows.values()))                                        # served as JSON to the UI


def test_comparison_rows_of_a_ramp_run(monolith_run):
    ramp = copy.deepcopy(monolith_run)
    ramp.update(shape="ramp", stop_reason="saturated at 65 users: p95 612 ms > 500 ms",
                steps=[{"users": 65, "rps": 30.0}])
    for key in ("recovery_s", "recovery_note", "baseline_p95_ms"):
        ramp.pop(key, None)
    ramp["totals"].pop("spike")
    rows = by_metric(ui.comparison_rows({"microservices": ramp}))
    assert rows["Ramp: saturated at users"]["microservices"] == "65"
    assert "Recovery after the spike, s" not in rows and "p95 ms, during the spike" not in rows
    assert rows["Requests, whole run" if "Requests, whole run" in rows else "Run compared"]["monolith"] == "no run yet"


# -- saved runs: the latest complete one of each ---------------------------------------------------
def save(folder, name, run):
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(json.dumps(run))


def test_the_comparison_uses_the_latest_complete_run_and_keeps_it_when_a_newer_one_stopped_early(
        tmp_path, monolith_run, microservices_run):
    folder = tmp_path / "ui"
    assert ui.latest_runs(tmp_path) == {}
    old = {**monolith_run, "started_epoch": 100, "complete": True, "stopped_early": False}
    early = {**monolith_run, "started_epoch": 200, "complete": False, "stopped_early": True, "duration_s": 12,
             "planned_duration_s": 155}
    save(folder, "1-monolith-spike.json", old)
    save(folder, "2-monolith-spike.json", early)
    save(folder, "1-microservices-spike.json", {**microservices_run, "started_epoch": 150})
    save(folder, "latest-monolith.json", early)
    (folder / "3-microservices-spike.json").write_text('{"target": "microserv')   # half written
    assert ui.latest_runs(tmp_path)["monolith"]["started_epoch"] == 100
    data = ui.comparison_data(tmp_path)
    assert data["chosen"]["monolith"]["file"] == "1-monolith-spike.json"
    assert any("newer monolith run" in w and "stopped early after 12 of 155 s" in w for w in data["warnings"])
    picked = ui.comparison_data(tmp_path, {"monolith": "2-monolith-spike.json"})
    assert picked["chosen"]["monolith"]["file"] == "2-monolith-spike.json"
    assert any("was stopped early" in w for w in picked["warnings"])
    assert ui.comparison_data(tmp_path, {"monolith": "../../etc/passwd"})["chosen"]["monolith"]["file"] == \
        "1-monolith-spike.json"


def test_a_busy_unpinned_run_is_warned_about(tmp_path, monolith_run):
    env = {"cpus": 2, "pinned": False, "loadavg_start": [3.5, 2.0, 1.0]}
    save(tmp_path / "ui", "1-monolith-spike.json", {**monolith_run, "environment": env})
    warnings = ui.comparison_data(tmp_path)["warnings"]
    assert any("not pinned" in w for w in warnings)
    assert any("busy" in w and "3.5 on 2 CPUs" in w for w in warnings)


# -- the run's state, as Locust's page is told it -------------------------------------------------
def test_a_run_being_prepared_is_never_ready_to_locusts_page():
    state = ui.RunState()
    assert state.locust_state("ready") == "ready"
    state.preparing("monolith", "http://m", "open", "spike", 10, lambda: 4)
    assert state.locust_state("ready") == "spawning"            # the page would go back to the form
    assert "4 of 10" in state.status()["message"]
    state.running(30)
    assert state.locust_state("ready") == "spawning" and state.locust_state("running") == "running"
    state.stopping()
    assert state.locust_state("stopped") == "running"           # keeps asking until the run is saved
    state.stopped("results/ui/x.json", False, 12.0)
    assert state.locust_state("stopped") == "stopped"
    assert "Stopped early after 12 s" in state.status()["message"]
    assert [h[0] for h in state.history] == ["preparing", "running", "stopping", "stopped"]


def test_every_form_field_has_a_group_and_a_camel_case_name():
    groups = {g for g, _ in ui.GROUPS}
    assert all(f.group in groups for f in ui.FIELDS)
    assert ui.camel("ramp_max_p95_ms") == "rampMaxP95Ms" and ui.camel("target") == "target"
    assert len({f.dest for f in ui.FIELDS}) == len(ui.FIELDS)


# -- make demo's ports -----------------------------------------------------------------------------
def test_the_demo_reads_the_same_port_variables_as_the_other_targets():
    from loadtests import demo
    ports = demo.Ports.from_env({"MONOLITH_PORT": "18000", "LOCUST_WEB_PORT": "18089"})
    assert ports.monolith_url == "http://127.0.0.1:18000" and ports.ui_url == "http://127.0.0.1:18089"
    cmd = demo.locust_command(ports, "http://127.0.0.1:18080")
    assert cmd[cmd.index("--monolith-url") + 1] == "http://127.0.0.1:18000"
    assert cmd[cmd.index("--microservices-url") + 1] == "http://127.0.0.1:18080"
    assert cmd[cmd.index("--web-port") + 1] == "18089"


def test_the_demo_names_a_busy_port_and_its_variable():
    from loadtests import demo
    from microservices.launcher import Cluster
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        ports = demo.Ports.from_env({"MONOLITH_PORT": str(port), "LOCUST_WEB_PORT": str(free_port())})
        busy = demo.busy_ports(ports, Cluster({"GATEWAY_PORT": str(free_port())}, sink=None))
    assert any(f"port {port} (the monolith)" in b and "MONOLITH_PORT" in b for b in busy)


# -- url_for_target -------------------------------------------------------------------------------
def test_url_for_target_follows_the_target():
    env = SimpleNamespace(parsed_options=SimpleNamespace(monolith_url="http://m:1", microservices_url="http://s:2"))
    assert ui.url_for_target(env, "monolith") == "http://m:1"
    assert ui.url_for_target(env, "microservices") == "http://s:2"


def test_default_urls_match_the_make_targets():
    assert targets.DEFAULT_URLS == {"monolith": "http://127.0.0.1:8000", "microservices": "http://127.0.0.1:8080"}
    assert set(targets.START_COMMANDS) == set(ui.TARGETS) == set(targets.DEFAULT_URLS)
