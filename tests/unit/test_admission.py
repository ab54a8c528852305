"""Admission control (shop/web/admission.py) as WSGI middleware, without a server: a request
that waited too long for a thread, or arrives while the event loop lags or too many are in
flight, is answered 503 service_unavailable with Retry-After at once; the rest are served."""
import json

from shop.web import admission
from shop.web.admission import Admission, AdmissionSettings


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"ok":true}\n']


def call(middleware, path="/api/products", rid=None):
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    if rid:
        environ["HTTP_X_REQUEST_ID"] = rid
    body = b"".join(middleware(environ, start_response))
    return int(seen["status"].split()[0]), seen["headers"], body


def waited(seconds):
    queued_at = admission.QUEUE.put()
    admission.QUEUE.take(queued_at - seconds)     # as if the thread took it `seconds` later


def test_a_request_that_waited_too_long_for_a_thread_is_shed_at_once():
    m = Admission(app, "monolith", AdmissionSettings(max_queue_ms=100))
    waited(0.150)
    status, headers, body = call(m, rid="abc-1")
    assert status == 503 and headers["Retry-After"] == "1" and headers["X-Request-ID"] == "abc-1"
    assert json.loads(body)["error"]["code"] == "service_unavailable"
    waited(0.050)
    assert call(m)[0] == 200                      # a short wait is served
    assert call(m)[0] == 200                      # not queued at all (no reading): served


def test_health_metrics_and_admin_are_never_shed():
    m = Admission(app, "monolith", AdmissionSettings(max_queue_ms=1))
    for path in ("/healthz", "/metrics", "/admin/faults"):
        waited(1.0)
        assert call(m, path)[0] == 200


def test_off_means_nothing_is_shed():
    m = Admission(app, "monolith", AdmissionSettings(enabled=False, max_queue_ms=1))
    waited(5.0)
    assert call(m)[0] == 200


def test_a_bad_request_id_gets_a_new_one_on_a_shed_answer():
    m = Admission(app, "monolith", AdmissionSettings(max_queue_ms=1))
    waited(1.0)
    _, headers, _ = call(m, rid="has spaces")
    assert headers["X-Request-ID"] != "has spaces" and len(headers["X-Request-ID"]) == 32


class LaggingLoop:
    def __init__(self, lag):
        self.lag = lag


def gevent_middleware(settings, lag=0.0):
    m = Admission(app, "gateway", settings, gevent=True)
    call(m, "/healthz")                            # binds the metrics (and would start the loop monitor)
    m._loop = LaggingLoop(lag)
    return m


def test_gevent_workers_shed_while_the_loop_lags():
    m = gevent_middleware(AdmissionSettings(max_queue_ms=100), lag=0.2)
    assert call(m)[0] == 503
    m._loop.lag = 0.05
    assert call(m)[0] == 200


def test_gevent_workers_cap_requests_in_flight():
    m = gevent_middleware(AdmissionSettings(max_in_flight=2))
    m.in_flight = 2                                # two requests are being served
    assert call(m)[0] == 503
    m.in_flight = 1
    assert call(m)[0] == 200 and m.in_flight == 1  # counted while served, then given back


def test_settings_come_from_the_environment():
    s = AdmissionSettings.from_env({"SHOP_ADMISSION": "0", "SHOP_MAX_QUEUE_MS": "40", "SHOP_MAX_IN_FLIGHT": "9"})
    assert s == AdmissionSettings(enabled=False, max_queue_ms=40, max_in_flight=9)
    assert AdmissionSettings.from_env({}) == AdmissionSettings()
