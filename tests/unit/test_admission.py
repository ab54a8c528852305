"""Admission control (shop/web/admission.py) as WSGI middleware, without a server: a request
that waited too long for a thread, or arrives while the event loop lags or too many are in
flight, is answered 503 service_unavailable with Retry-After at once; the rest are served."""
import json

import pytest

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


def waited(seconds, standing=None):
    """As if the current thread had just taken a request that waited ``seconds`` in the queue,
    with the queue standing at ``standing`` seconds (default: the same)."""
    admission.QUEUE._local.waited = (seconds, seconds if standing is None else standing)


def test_a_request_that_waited_too_long_for_a_thread_is_shed_at_once():
    m = Admission(app, "monolith", AdmissionSettings(max_queue_ms=100))
    waited(0.150)
    status, headers, body = call(m, rid="abc-1")
    assert status == 503 and headers["Retry-After"] == "1" and headers["X-Request-ID"] == "abc-1"
    assert json.loads(body)["error"]["code"] == "service_unavailable"
    waited(0.050)
    assert call(m)[0] == 200                      # a short wait is served
    assert call(m)[0] == 200                      # not queued at all (no reading): served


def test_a_long_wait_without_a_standing_queue_is_served():
    # A pause (a descheduled process, a burst) made this one wait, but the queue drained.
    m = Admission(app, "monolith", AdmissionSettings(max_queue_ms=100))
    waited(0.300, standing=0.010)
    assert call(m)[0] == 200
    waited(0.300, standing=0.030)                 # every request waited over a quarter of the limit
    assert call(m)[0] == 503


def test_a_request_taken_from_gunicorns_queue_reports_its_wait():
    queued_at = admission.QUEUE.put()
    assert admission.QUEUE.length >= 1
    admission.QUEUE.take(queued_at - 0.2)         # as if a thread took it 200 ms after it was queued
    wait, standing = admission.QUEUE.waited()
    assert wait >= 0.2 and standing >= 0
    assert admission.QUEUE.waited() is None       # read once


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_standing_is_the_smallest_wait_of_the_last_interval_and_this_one():
    clock = Clock()
    s = admission.Standing(clock)
    assert s.seen(0.5) == 0.0                     # nothing known before: not standing
    clock.now += 0.15                             # a new interval: the last one's smallest was 0.5
    assert s.seen(0.4) == 0.4
    assert s.seen(0.45) == 0.4
    clock.now += 0.15
    assert s.seen(0.3) == 0.3                     # overload: every wait is long, and it stays
    assert s.seen(0.0) == 0.0                     # one request that did not wait: not standing


def test_one_pause_is_not_a_standing_queue():
    clock = Clock()
    s = admission.Standing(clock)
    for _ in range(5):
        s.seen(0.001)
        clock.now += 0.03
    clock.now += 0.3                              # the process was descheduled for 300 ms
    assert s.seen(0.3) < 0.01                     # the interval before the pause had no wait
    assert s.seen(0.2) < 0.01


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


# -- the door: a canned 503 before the request is parsed -------------------------------------
import socket  # noqa: E402


def door(delay=0.2, standing=0.2, enabled=True):
    return admission.Door("monolith", AdmissionSettings(enabled=enabled, max_queue_ms=100), b'{"error":1}\n',
                          lambda: (delay, standing))


def test_the_door_closes_at_a_quarter_of_the_limit_and_only_for_a_standing_queue():
    assert door(0.030, 0.030).closed()
    assert not door(0.020, 0.030).closed()          # the queue is short right now
    assert not door(0.300, 0.010).closed()          # a pause, not a standing queue
    assert not door(1.0, 1.0, enabled=False).closed()


def pair():
    a, b = socket.socketpair()
    b.setblocking(False)
    return a, b


def answer_of(client):
    client.settimeout(2)
    return client.recv(65536)


def test_a_plain_request_is_answered_at_the_door_and_the_connection_kept():
    client, server = pair()
    client.sendall(b"GET /api/products/8 HTTP/1.1\r\nHost: x\r\nX-Request-ID: rid-7\r\n\r\n")
    assert door().turn_away(server) is True
    reply = answer_of(client)
    assert reply.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"\r\nRetry-After: 1\r\n" in reply and b"\r\nX-Request-ID: rid-7\r\n" in reply
    assert b"Connection: close" not in reply and reply.endswith(b'\r\n\r\n{"error":1}\n')
    client.sendall(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")   # the same connection goes on
    assert door().turn_away(server) is True and answer_of(client).startswith(b"HTTP/1.1 503")


def test_a_request_with_its_whole_body_is_read_exactly():
    client, server = pair()
    body = b'{"quantity": 2}'
    client.sendall(b"PUT /api/cart/items/8 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    assert door().turn_away(server) is True
    assert answer_of(client).startswith(b"HTTP/1.1 503")
    with pytest.raises(BlockingIOError):
        server.recv(10)                              # nothing of it was left behind


@pytest.mark.parametrize("request_bytes", [
    b"POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"partial\"",   # the body is on its way
    b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",                          # wants to close
    b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",             # pipelined
    b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",   # chunked
    b"GET /a HTTP/1.0\r\n\r\n",                                                         # HTTP/1.0
    b"GET /a HTTP/1.1\r\nHost: x\r\n",                                                  # headers not complete
])
def test_anything_else_takes_the_normal_way_with_nothing_read(request_bytes):
    client, server = pair()
    client.sendall(request_bytes)
    assert door().turn_away(server) is False
    assert server.recv(65536) == request_bytes       # left for gunicorn's parser





