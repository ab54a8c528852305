"""Fixtures shared by every test layer that needs running deployments.

Both deployments are started once per test session as real processes (real gunicorn, free
ports, throwaway data directories) and shared by the contract and load layers. Every test
that takes the ``api`` fixture runs twice: against the monolith and against the
microservices' gateway. That is the contract suite: one set of tests, both deployments."""
from pathlib import Path

import pytest

from tests.support.client import Api
from tests.support.deployments import Microservices, Monolith


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
def microservices(tmp_path_factory):
    deployment = Microservices(tmp_path_factory.mktemp("micro-data")).start()
    yield deployment
    deployment.stop()


@pytest.fixture(scope="session", params=["monolith", "microservices"])
def deployment(request):
    return request.getfixturevalue(request.param)


@pytest.fixture
def api(deployment, request):
    return Api(deployment.url, name=request.node.callspec.params.get("deployment", ""))


@pytest.fixture
def both(monolith, microservices):
    """For parity tests: a client for each deployment."""
    return Api(monolith.url, "monolith"), Api(microservices.url, "microservices")
