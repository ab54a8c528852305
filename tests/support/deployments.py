"""Both deployments as real processes for the tests: the same classes the headless comparison
uses (loadtests/sut.py: real gunicorn, free ports, a throwaway data directory), with the
tests' secret and access logs on."""
import os
from pathlib import Path

from loadtests.sut import MicroservicesSUT, MonolithSUT, free_ports
from microservices.launcher import Cluster

TEST_SECRET = "contract-test-secret"
TEST_ADMIN_TOKEN = "contract-test-admin-token"


def _env(**extra) -> dict:
    env = dict(os.environ)
    # Access logs on: the observability tests follow one request id through them.
    env.update({"SHOP_SECRET": TEST_SECRET, "SHOP_ADMIN_TOKEN": TEST_ADMIN_TOKEN, "SHOP_ACCESS_LOG": "1", "SHOP_LOG_FORMAT": "json",
                "MONOLITH_WORKERS": "2", "MONOLITH_THREADS": "8", **extra})
    return env


class Monolith(MonolithSUT):
    def __init__(self, data_dir: Path, **extra_env):
        super().__init__(data_dir, _env(**extra_env))
        self.data_dir = data_dir


class Microservices(MicroservicesSUT):
    def __init__(self, data_dir: Path, **extra_env):
        super().__init__(data_dir, _env(**extra_env))
        self.data_dir = data_dir


class OtherGateway(MicroservicesSUT):
    """The same running services (and data) as ``micro``, behind the other gateway (GATEWAY)
    on ports of its own: what one gateway's tests change, the other's see, so that both stay
    in step with the monolith for the parity tests. Stopping or starting a service here stops
    or starts the shared one; ``stop`` stops only this gateway."""

    def __init__(self, micro: MicroservicesSUT, kind: str):
        port, metrics_port = free_ports(2)
        self.env = {**micro.env, "GATEWAY": kind, "GATEWAY_PORT": str(port), "GATEWAY_METRICS_PORT": str(metrics_port)}
        self.cluster = Cluster(self.env, sink=None)
        self.cluster.processes = {**micro.cluster.processes, "gateway": self.cluster.processes["gateway"]}
        self.url = self.cluster.url
        self.data_dir = micro.data_dir

    def start(self, timeout: float = 60) -> "OtherGateway":
        self.cluster.start_service("gateway", timeout)
        self._settle("gateway", timeout)
        return self

    def stop(self) -> None:
        self.cluster.stop_service("gateway")
