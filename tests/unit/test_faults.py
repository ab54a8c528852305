"""Fault settings (shared through a file) and the provider wrapper that applies them."""
import json

import pytest

from shop.billing.faults import NONE, FaultSettings, FaultyProvider, validate
from shop.errors import InvalidRequest, ServiceUnavailable

CARD = {"card_number": "4242424242424242"}


class Provider:
    def __init__(self):
        self.charges = []

    def charge(self, card, amount):
        self.charges.append(amount)

    def refund(self, charge_id, amount):
        pass


def test_no_file_means_no_faults(tmp_path):
    assert FaultSettings(tmp_path / "faults.json").current() == NONE


def test_update_is_seen_by_another_reader_of_the_same_file(tmp_path):
    writer, reader = FaultSettings(tmp_path / "f.json"), FaultSettings(tmp_path / "f.json")
    assert reader.current()["payment_latency_ms"] == 0
    writer.update({"payment_latency_ms": 250})
    assert reader.current()["payment_latency_ms"] == 250
    writer.update({"payment_failure_rate": 0.5})  # partial: the latency stays
    assert reader.current() == {**NONE, "payment_latency_ms": 250, "payment_failure_rate": 0.5}
    writer.reset()
    assert reader.current() == NONE


@pytest.mark.parametrize("changes", [
    {"payment_latency_ms": -1}, {"payment_latency_ms": 1.5}, {"payment_latency_ms": True},
    {"payment_latency_ms": 10**9}, {"payment_failure_rate": 1.01}, {"payment_failure_rate": "0.5"},
    {"payment_failure_rate": float("nan")}, {"billing_crash": 1}, {"latency": 5}, [],
])
def test_bad_settings_are_refused_and_change_nothing(tmp_path, changes):
    settings = FaultSettings(tmp_path / "f.json")
    settings.update({"payment_latency_ms": 7})
    with pytest.raises(InvalidRequest):
        settings.update(changes)
    assert settings.current()["payment_latency_ms"] == 7


def test_a_corrupt_file_means_no_faults(tmp_path):
    path = tmp_path / "f.json"
    path.write_text("{not json")
    assert FaultSettings(path).current() == NONE
    path.write_text(json.dumps({"payment_latency_ms": "slow"}))
    assert FaultSettings(path).current() == NONE


def test_latency_is_slept_before_the_provider_is_called(tmp_path):
    settings, slept, inner = FaultSettings(tmp_path / "f.json"), [], Provider()
    settings.update({"payment_latency_ms": 1500})
    FaultyProvider(inner, settings, sleep=slept.append).charge(CARD, 100)
    assert slept == [1.5] and inner.charges == [100]


def test_failure_rate_fails_calls_without_charging(tmp_path):
    settings, inner = FaultSettings(tmp_path / "f.json"), Provider()
    settings.update({"payment_failure_rate": 0.25})
    rolls = iter([0.1, 0.3, 0.24, 0.9])
    provider = FaultyProvider(inner, settings, rng=lambda: next(rolls))
    outcomes = []
    for amount in (1, 2, 3, 4):
        try:
            provider.charge(CARD, amount)
            outcomes.append("ok")
        except ServiceUnavailable as err:
            outcomes.append(err.status)
    assert outcomes == [503, "ok", 503, "ok"]
    assert inner.charges == [2, 4]


def test_crash_stops_the_charge_before_the_provider(tmp_path):
    settings, inner = FaultSettings(tmp_path / "f.json"), Provider()
    settings.update({"billing_crash": True})

    class Crashed(BaseException):
        pass

    def crash():
        raise Crashed()

    with pytest.raises(Crashed):
        FaultyProvider(inner, settings, crash=crash).charge(CARD, 100)
    assert inner.charges == []


def test_validate_returns_only_what_was_asked():
    assert validate({"billing_crash": False}) == {"billing_crash": False}
    assert validate({"payment_failure_rate": 1}) == {"payment_failure_rate": 1.0}
