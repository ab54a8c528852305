"""Resilience of internal calls (microservices/http.py), without a network: the circuit
breaker's state machine on a fake clock, the retry budget, and which failures of which calls
are retried, with scripted connections in place of sockets."""
import inspect
import json
import socket

import pytest

from microservices import clients
from microservices import pool as pool_module
from microservices.config import Config, Resilience
from microservices.gateway import is_repeatable
from microservices.breaker import CALL, PROBE, CircuitBreaker
from microservices.http import ServiceClient
from microservices.retries import RetryBudget, RetryPolicy
from shop import errors
from shop.web import observability


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


# -- the breaker --------------------------------------------------------------------------------
def test_the_breaker_opens_after_n_consecutive_failures_only():
    breaker = CircuitBreaker(failures=3, open_seconds=1.0, clock=Clock())
    for _ in range(2):
        assert not breaker.failed(breaker.allow())
    assert not breaker.succeeded(breaker.allow())   # a success starts the count again
    assert not breaker.failed(breaker.allow())
    assert not breaker.failed(breaker.allow())
    assert breaker.state == "closed" and breaker.allow() == CALL
    assert breaker.failed(breaker.allow())          # the third in a row
    assert breaker.state == "open"


def test_an_open_breaker_fails_fast_then_lets_exactly_one_probe_through():
    clock = Clock()
    breaker = CircuitBreaker(failures=1, open_seconds=1.0, clock=clock)
    assert breaker.failed(breaker.allow())
    assert breaker.allow() is None
    clock.now += 0.999
    assert breaker.allow() is None
    clock.now += 0.001
    probe = breaker.allow()
    assert probe == PROBE and breaker.state == "half-open"
    assert breaker.allow() is None and breaker.allow() is None  # the others still fail fast
    assert breaker.succeeded(probe)
    assert breaker.state == "closed"
    assert breaker.allow() == CALL and breaker.allow() == CALL


def test_a_failed_probe_opens_it_again_for_a_whole_period():
    clock = Clock()
    breaker = CircuitBreaker(failures=2, open_seconds=1.0, clock=clock)
    breaker.failed(breaker.allow())
    assert breaker.failed(breaker.allow())
    clock.now += 5
    probe = breaker.allow()
    assert probe == PROBE
    assert breaker.failed(probe)                    # re-opened, and counted as an opening
    assert breaker.state == "open"
    clock.now += 0.5
    assert breaker.allow() is None
    clock.now += 0.5
    assert breaker.allow() == PROBE


def test_calls_that_started_before_it_opened_neither_reopen_nor_close_it():
    clock = Clock()
    breaker = CircuitBreaker(failures=1, open_seconds=1.0, clock=clock)
    early_a, early_b = breaker.allow(), breaker.allow()
    assert breaker.failed(breaker.allow())
    assert not breaker.failed(early_a)              # already open: not a second opening
    assert not breaker.succeeded(early_b)           # only a probe closes it
    assert breaker.state == "open" and breaker.allow() is None
    clock.now += 1
    assert breaker.allow() == PROBE


# -- the budget ---------------------------------------------------------------------------------
def test_the_retry_budget_starts_full_and_refills_by_a_share_of_first_attempts():
    budget = RetryBudget(ratio=0.25, cap=2)
    assert budget.withdraw() and budget.withdraw()
    assert not budget.withdraw()
    for _ in range(3):
        budget.deposit()
    assert not budget.withdraw()                    # 0.75 of a token
    budget.deposit()
    assert budget.withdraw() and not budget.withdraw()
    for _ in range(100):
        budget.deposit()
    assert budget.tokens == 2                       # capped: the burst stays bounded


# -- the client, on scripted connections --------------------------------------------------------
class FakeResponse:
    def __init__(self, status, data):
        self.status, self.data, self.will_close, self.headers = status, data, False, {}

    def read(self):
        return self.data


class FakeConn:
    def __init__(self, step):
        self.step, self.closed, self.born = step, False, 1000.0

    def request(self, method, path, body=None, headers=None):
        if isinstance(self.step, BaseException):
            raise self.step

    def getresponse(self):
        status, body = self.step
        return FakeResponse(status, body if isinstance(body, bytes) else json.dumps(body).encode())

    def close(self):
        self.closed = True


REFUSED = ConnectionRefusedError()
RESET = ConnectionResetError()
TIMEOUT = socket.timeout()
OK = (200, {"ok": True})
OWN_503 = (503, b"<html>overloaded</html>")
PROPAGATED_503 = (503, {"error": {"code": "service_unavailable", "message": "The tax service is unavailable"}})


class Recorder:
    def __init__(self, monkeypatch):
        self.calls, self.retries, self.skipped, self.circuit = [], [], [], []
        monkeypatch.setattr(observability, "record_call", lambda c, s, op, outcome, sec: self.calls.append(outcome))
        monkeypatch.setattr(observability, "record_retry", lambda c, s, op, reason: self.retries.append(reason))
        monkeypatch.setattr(observability, "record_retry_skipped", lambda c, s, op, why: self.skipped.append(why))
        monkeypatch.setattr(observability, "record_circuit", lambda c, s, opened: self.circuit.append(opened))


@pytest.fixture
def metrics(monkeypatch):
    return Recorder(monkeypatch)


def client(steps, clock=None, **policy):
    """A client whose attempts follow ``steps`` (one per connection taken); ``sent`` counts them."""
    settings = Resilience(**{"retries": 2, "backoff": 0.1, "breaker_failures": 3, **policy})
    slept = []
    c = ServiceClient("tax", "http://127.0.0.1:9", connect_timeout=1, call_timeout=1, caller="orders",
                      resilience=settings, clock=clock or Clock(), sleep=slept.append, rng=lambda: 1.0)
    c.slept = slept
    c.sent = 0
    script = list(steps)

    def take():
        c.sent += 1
        step = script.pop(0) if script else OK
        if step is REFUSED:
            raise ConnectionRefusedError()
        return FakeConn(step), False

    c.pool.take = take
    return c


@pytest.mark.parametrize("failure, reason", [(REFUSED, "refused"), (RESET, "reset"), (OWN_503, "503")])
def test_a_get_is_retried_with_backoff_after_a_refused_or_reset_connection_or_its_own_503(failure, reason, metrics):
    c = client([failure, failure, OK])
    assert c.call("GET", "/internal/tax") == {"ok": True}
    assert c.sent == 3
    assert c.slept == [0.1, 0.2]                    # doubling (rng 1.0: the top of the jitter)
    assert metrics.retries == [reason, reason] and metrics.calls == ["ok"]


def test_the_jitter_waits_between_half_and_all_of_the_backoff():
    policy = RetryPolicy(Resilience(backoff=0.1), rng=lambda: 0.0)
    assert policy.backoff(1) == pytest.approx(0.05) and policy.backoff(3) == pytest.approx(0.2)
    assert RetryPolicy(Resilience(backoff=10.0), rng=lambda: 1.0).backoff(1) == 1.0   # never more than MAX_BACKOFF


def test_retries_are_bounded(metrics):
    c = client([RESET] * 10)
    with pytest.raises(errors.ServiceUnavailable, match="tax"):
        c.call("GET", "/x")
    assert c.sent == 3 and metrics.calls == ["unavailable"]


def test_a_timeout_is_not_retried_unless_configured(metrics):
    c = client([TIMEOUT, OK])
    with pytest.raises(errors.ServiceUnavailable) as err:
        c.call("GET", "/x")
    assert err.value.why == errors.TIMED_OUT and c.sent == 1 and metrics.calls == ["timeout"]
    c = client([TIMEOUT, OK], retry_timeouts=True)
    assert c.call("GET", "/x") == {"ok": True} and c.sent == 2


def test_a_post_is_retried_only_when_marked_idempotent():
    c = client([RESET, OK])
    with pytest.raises(errors.ServiceUnavailable):
        c.call("POST", "/internal/charges", json_body={})
    assert c.sent == 1
    c = client([RESET, OK])
    assert c.call("POST", "/internal/charges", json_body={}, idempotent=True) == {"ok": True}
    assert c.sent == 2


def test_a_503_reporting_the_upstreams_own_dependency_down_is_neither_retried_nor_a_failure(metrics):
    c = client([PROPAGATED_503] * 10)
    for _ in range(5):                              # more than breaker_failures
        with pytest.raises(errors.ServiceUnavailable):
            c.call("GET", "/x")
    assert c.sent == 5 and metrics.retries == []
    assert c.breaker.state == "closed"


INTERNAL_ERROR = (500, {"error": {"code": "internal_error", "message": "Something went wrong"}})


def test_a_500_is_the_upstream_answering_not_failing(metrics):
    """One client's request that hits a bug must not open the circuit for every other client:
    however many 500s in a row, the circuit stays closed and they are not retried."""
    c = client([INTERNAL_ERROR] * 20)
    for _ in range(10):                             # many more than breaker_failures
        with pytest.raises(errors.ServiceUnavailable):
            c.call("GET", "/x")
    assert c.sent == 10 and metrics.retries == [] and metrics.circuit == []
    assert c.breaker.state == "closed"


@pytest.mark.parametrize("status", [502, 504])
def test_a_502_or_504_is_the_upstream_failing(status, metrics):
    c = client([(status, b"<html>bad gateway</html>")] * 10, retries=0)
    for _ in range(3):
        with pytest.raises(errors.ServiceUnavailable):
            c.call("GET", "/x")
    assert c.breaker.state == "open" and metrics.circuit == [True]


def test_its_own_short_circuits_do_not_count_against_the_upstream(metrics):
    """While open, the calls it fails at once are not failures of the upstream: however many,
    the probe still goes through after one period, and its success closes the circuit."""
    clock = Clock()
    c = client([REFUSED] * 3, clock=clock, retries=0)
    for _ in range(3):
        with pytest.raises(errors.ServiceUnavailable):
            c.call("GET", "/x")
    assert c.breaker.state == "open"
    for _ in range(100):
        with pytest.raises(errors.ServiceUnavailable):
            c.call("GET", "/x")
    assert c.sent == 3 and metrics.calls.count("short_circuit") == 100
    assert metrics.circuit == [True]                # not re-opened by its own fast failures
    clock.now += 1.0
    assert c.call("GET", "/x") == {"ok": True}      # the probe
    assert c.breaker.state == "closed"


def test_4xx_answers_are_the_upstream_working():
    c = client([(404, {"error": {"code": "not_found", "message": "no"}})] * 10)
    for _ in range(5):
        with pytest.raises(errors.NotFound):
            c.call("GET", "/x")
    assert c.breaker.state == "closed"


def test_an_empty_budget_stops_retries(metrics):
    c = client([RESET] * 10, retry_budget=0.0, retry_budget_cap=1.0)
    with pytest.raises(errors.ServiceUnavailable):
        c.call("GET", "/x")
    assert c.sent == 2                              # one retry: the one token there was
    with pytest.raises(errors.ServiceUnavailable):
        c.call("GET", "/x")
    assert c.sent == 3                              # none left
    assert metrics.skipped == ["budget", "budget"]


def test_an_open_circuit_fails_fast_naming_the_service_and_a_probe_closes_it(metrics):
    clock = Clock()
    c = client([REFUSED] * 9, clock=clock, retries=0)
    for _ in range(3):
        with pytest.raises(errors.ServiceUnavailable):
            c.call("GET", "/x")
    assert c.sent == 3 and metrics.circuit == [True]
    with pytest.raises(errors.ServiceUnavailable) as err:
        c.call("GET", "/x")
    assert c.sent == 3                              # nothing was sent
    assert err.value.status == 503 and err.value.code == "service_unavailable"
    assert "tax" in err.value.message
    assert metrics.calls[-1] == "short_circuit"
    clock.now += 1.0
    c.pool.take = lambda: (c.__setattr__("sent", c.sent + 1), (FakeConn(OK), False))[1]
    assert c.call("GET", "/x") == {"ok": True}      # the probe
    assert metrics.circuit == [True, False] and c.breaker.state == "closed"


def test_no_retries_while_the_circuit_is_open_and_none_for_the_probe(metrics):
    clock = Clock()
    c = client([REFUSED] * 20, clock=clock)
    for _ in range(3):
        with pytest.raises(errors.ServiceUnavailable):
            c.call("GET", "/x")
    assert c.breaker.state == "open"
    sent = c.sent
    clock.now += 1.0
    with pytest.raises(errors.ServiceUnavailable):
        c.call("GET", "/x")                         # the probe: one attempt
    assert c.sent == sent + 1 and metrics.skipped[-1] == "breaker"
    assert c.breaker.state == "open"


def test_with_the_breaker_off_calls_always_go_through():
    c = client([REFUSED] * 50, breaker=False, retries=0)
    for _ in range(10):
        with pytest.raises(errors.ServiceUnavailable):
            c.call("GET", "/x")
    assert c.sent == 10 and c.breaker is None


# -- connection age -----------------------------------------------------------------------------
class NewConnection(Exception):
    pass


def test_connections_older_than_the_max_age_are_closed_instead_of_pooled(monkeypatch):
    def connect(*args, **kwargs):
        raise NewConnection()

    monkeypatch.setattr(pool_module, "PooledConnection", connect)
    clock = Clock()
    c = ServiceClient("tax", "http://127.0.0.1:9", connect_timeout=1, call_timeout=1,
                      resilience=Resilience(conn_max_age=5.0), clock=clock)
    young, old = FakeConn(OK), FakeConn(OK)
    young.born, old.born = clock.now - 4.9, clock.now - 5.0
    c.pool.give_back(young)
    c.pool.give_back(old)
    assert not young.closed and old.closed
    assert c.pool.idle == [(young, clock.now)]
    clock.now += 0.2                                # now too old even to be taken
    with pytest.raises(NewConnection):              # so a new connection is opened
        c.pool.take()
    assert young.closed and c.pool.idle == []
    forever = ServiceClient("tax", "http://127.0.0.1:9", connect_timeout=1, call_timeout=1,
                            resilience=Resilience(conn_max_age=0), clock=clock)
    ancient = FakeConn(OK)
    ancient.born = clock.now - 10_000
    forever.pool.give_back(ancient)
    assert not ancient.closed and forever.pool.take() == (ancient, True)


# -- which calls are retried ----------------------------------------------------------------------
class MarkingHttp:
    """Records whether each call said if it is safe to repeat, and answers enough to go on."""

    def __init__(self):
        self.marks = []

    def call(self, method, path, *, json_body=None, query=None, idempotent=None):
        self.marks.append((method, path.split("?")[0], idempotent))
        return {"products": [], "lines": [], "tax_cents": 0, "options": [], "id": 1}


ARGS = {"ids": [1], "key": "k", "lines": [(1, 1)], "user_id": 1, "product_ids": [1], "subtotal_cents": 1,
        "country": "US", "region": None, "weight_grams": 1, "amount_cents": 1, "card": {}, "charge_id": 1}


def port_methods():
    for _, cls in inspect.getmembers(clients, inspect.isclass):
        if cls.__module__ == clients.__name__:
            for name, fn in inspect.getmembers(cls, inspect.isfunction):
                if not name.startswith("_"):
                    yield cls, name, fn


def test_every_internal_call_says_it_is_safe_to_repeat():
    seen = 0
    for cls, name, fn in port_methods():
        http = MarkingHttp()
        params = list(inspect.signature(fn).parameters)[1:]
        getattr(cls(http), name)(*[ARGS[p] for p in params])
        assert http.marks, f"{cls.__name__}.{name} made no call"
        for method, path, idempotent in http.marks:
            assert idempotent is True, f"{cls.__name__}.{name}: {method} {path} is not marked idempotent"
        seen += 1
    assert seen >= 10   # every port method was looked at


@pytest.mark.parametrize("method, headers, repeatable", [
    ("GET", {}, True), ("HEAD", {}, True), ("PUT", {}, True), ("DELETE", {}, True),
    ("POST", {}, False), ("PATCH", {}, False), ("POST", {"Idempotency-Key": "k1"}, True)])
def test_the_gateway_repeats_public_requests_only_when_idempotent(method, headers, repeatable):
    assert is_repeatable(method, headers) is repeatable


def test_the_configuration_reads_every_setting():
    r = Config.from_env({"SHOP_CALL_RETRIES": "0", "SHOP_RETRY_BACKOFF_MS": "40", "SHOP_RETRY_BUDGET": "0.5",
                         "SHOP_RETRY_BUDGET_CAP": "3", "SHOP_RETRY_TIMEOUTS": "1", "SHOP_BREAKER": "0",
                         "SHOP_BREAKER_FAILURES": "7", "SHOP_BREAKER_OPEN_MS": "250",
                         "SHOP_CONN_MAX_AGE_MS": "0"}).resilience
    assert r == Resilience(retries=0, backoff=0.04, retry_timeouts=True, retry_budget=0.5, retry_budget_cap=3.0,
                           breaker=False, breaker_failures=7, breaker_open=0.25, conn_max_age=0.0)
    assert Config.from_env({}).resilience == Resilience()
    with pytest.raises(SystemExit, match="SHOP_RETRY_BUDGET"):
        Config.from_env({"SHOP_RETRY_BUDGET": "lots"})
