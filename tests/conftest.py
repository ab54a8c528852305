"""Fixtures shared by every test layer that needs running deployments.

Both deployments are started once per test session as real processes (real gunicorn, free
ports, throwaway data directories) and shared by the contract and load layers. Every test
that takes the ``api`` fixture runs twice: against the monolith and against the
microservices' gateway. That is the contract suite: one set of tests, both deployments."""
import pytest

from tests.support.client import Api
from tests.support.deployments import Microservices, Monolith


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
