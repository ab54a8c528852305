"""The funnel's requester and the open model's visit plans, with a fake Locust session: the
latency of each request counts from its intended start, its outcome is named, and arrivals
that cannot start are dropped (loadtests/funnel.py, loadtests/outcomes.py)."""
import random
import socket
import time

import pytest

from loadtests import funnel, outcomes


class FakeResponse:
    def __init__(self, status, headers=None, error=None, body=None):
        self.status_code, self.headers, self.error, self.body = status, headers or {}, error, body or {}
        self.request_meta = None
        self.result = None

    def json(self):
        return self.body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.reported = dict(self.request_meta)
        return False

    def success(self):
        self.result = "ok"

    def failure(self, why):
        self.result = why


class FakeSession:
    """Answers each request with the next response, after ``delay`` seconds; records what
    Locust would have reported (request_meta) for each."""

    def __init__(self, responses, delay=0.0):
        self.responses, self.delay, self.sent = list(responses), delay, []

    def request(self, method, path, name, catch_response, context, **kwargs):
        time.sleep(self.delay)
        r = self.responses.pop(0)
        r.request_meta = {"name": name, "response_time": self.delay * 1000, "context": dict(context)}
        self.sent.append((method, path, name))
        return r


def test_latency_counts_from_the_intended_start_not_the_send():
    session = FakeSession([FakeResponse(200)])
    intended = time.perf_counter() - 0.4          # the visit was due 400 ms ago (a late generator)
    v = funnel.Requester(session, random.Random(1), intended=intended)
    r = v.call("GET", "/api/categories", "GET /api/categories")
    reported = r.reported
    assert reported["response_time"] >= 400        # not the ~0 ms the send took
    assert reported["context"]["lag_ms"] >= 400 and reported["context"]["outcome"] == "ok"
    assert reported["context"]["intended"] <= time.time() - 0.4


def test_the_next_request_of_a_visit_is_due_when_the_previous_one_ended():
    session = FakeSession([FakeResponse(200), FakeResponse(200)], delay=0.05)
    v = funnel.Requester(session, random.Random(1), intended=time.perf_counter())
    first = v.call("GET", "/a", "a")
    second = v.call("GET", "/b", "b")
    assert first.reported["response_time"] >= 50
    # The second was due when the first ended: about its own 50 ms, not 100.
    assert 50 <= second.reported["response_time"] < 95
    assert second.reported["context"]["lag_ms"] < 20


def test_without_an_intended_start_latency_is_from_the_send():
    session = FakeSession([FakeResponse(200)], delay=0.02)
    r = funnel.Requester(session, random.Random(1)).call("GET", "/a", "a")
    assert 20 <= r.reported["response_time"] < 60 and r.reported["context"]["lag_ms"] < 5


@pytest.mark.parametrize("response, expected", [
    (FakeResponse(200), "ok"),
    (FakeResponse(503, {"Retry-After": "1"}), "shed"),
    (FakeResponse(503), "unavailable"),
    (FakeResponse(500), "5xx"),
    (FakeResponse(404), "4xx"),
    (FakeResponse(0, error=TimeoutError("timed out")), "timeout"),
    (FakeResponse(0, error=socket.timeout()), "timeout"),
    (FakeResponse(0, error=ConnectionRefusedError(111, "refused")), "refused"),
    (FakeResponse(0, error=ConnectionResetError(104, "reset")), "connection"),
])
def test_each_outcome_is_named(response, expected):
    session = FakeSession([response])
    r = funnel.Requester(session, random.Random(1)).call("GET", "/a", "a")
    assert response.reported["context"]["outcome"] == expected
    assert (r is not None) == (expected == "ok")
    assert (response.result == "ok") == (expected == "ok")
    if expected != "ok":
        assert response.result.startswith(expected)    # Locust's failure message names the kind


def test_outcomes_of_answers_and_exceptions():
    assert outcomes.of_answer(409, {}, (200, 409)) == "ok"
    assert outcomes.of_answer(503, {"retry-after": "1"}, (200,)) == "shed"   # header names are not case-sensitive
    assert outcomes.of_exception(type("Timeout", (Exception,), {})()) == "timeout"   # gevent.Timeout
    assert set(outcomes.ERRORS) | {"ok"} == set(outcomes.KINDS)


def test_a_visit_plan_makes_the_expected_requests_on_average():
    rng = random.Random(5)
    total, n = 0, 40_000
    kinds = {"browse": 0, "shop": 0}
    for _ in range(n):
        kind, steps = funnel.plan(rng)
        kinds[kind] += 1
        assert len(steps) == (funnel.SHOP_STEPS if kind == "shop" else funnel.BROWSE_STEPS)
        assert set(steps) <= set(funnel.SHOP_WEIGHTS if kind == "shop" else funnel.BROWSE_WEIGHTS)
        total += funnel.planned_requests(steps, rng.random() < funnel.CANCEL_SHARE)
    assert total / n == pytest.approx(funnel.expected_requests(), rel=0.02)
    assert kinds["shop"] / n == pytest.approx(funnel.SHOPPER_SHARE, abs=0.01)


class FakePool:
    def __init__(self, free):
        self.free = list(free)

    def acquire_signed_in(self, host):
        return (self.free.pop(), "token") if self.free else (None, None)


def test_arrivals_beyond_the_in_flight_limit_are_dropped():
    pool = FakePool([1])
    assert funnel.admit("browse", running=9, limit=10, pool=pool, host="h") == (None, None, None)
    assert funnel.admit("browse", running=10, limit=10, pool=pool, host="h")[0] == "in-flight limit"
    assert funnel.admit("shop", running=10, limit=10, pool=pool, host="h")[0] == "in-flight limit"
    assert pool.free == [1]                       # a dropped shopper takes no account


def test_a_shopper_arrival_without_a_free_account_is_dropped():
    pool = FakePool([7])
    assert funnel.admit("shop", running=0, limit=10, pool=pool, host="h") == (None, 7, "token")
    assert funnel.admit("shop", running=1, limit=10, pool=pool, host="h")[0] == "no free shopper account"
