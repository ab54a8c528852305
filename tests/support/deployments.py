"""Both deployments as real processes for the tests: the same classes the headless comparison
uses (loadtests/sut.py: real gunicorn, free ports, a throwaway data directory), with the
tests' secret and access logs on."""
import os
from pathlib import Path

from loadtests.sut import MicroservicesSUT, MonolithSUT

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
