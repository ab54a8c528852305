"""Safe defaults, on real processes (issue 13): the published development secret is refused
on an address other machines reach, and warned about on loopback, in both deployments, however
they are started (the launchers, or gunicorn directly as the container images do)."""
import os
import subprocess
import sys

import pytest

from loadtests.sut import MonolithSUT, free_ports
from microservices.launcher import Cluster
from shop.web.settings import PROJECT_ROOT


def insecure_env(data_dir, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SHOP_SECRET", "SHOP_ALLOW_INSECURE_SECRET")}
    return {**env, "SHOP_DATA_DIR": str(data_dir), "SHOP_LOG_FORMAT": "text", **extra}


def run_to_exit(argv, env, timeout=90) -> tuple[int, str]:
    proc = subprocess.run(argv, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, text=True, timeout=timeout)
    return proc.returncode, proc.stdout


def test_the_monolith_refuses_the_dev_secret_on_a_public_address(tmp_path):
    port, metrics = free_ports(2)
    code, out = run_to_exit([sys.executable, "-m", "monolith"],
                            insecure_env(tmp_path, MONOLITH_HOST="0.0.0.0", MONOLITH_PORT=str(port),
                                         MONOLITH_METRICS_PORT=str(metrics)))
    assert code != 0, out[-2000:]
    assert "refusing to start" in out and "SHOP_SECRET" in out, out[-2000:]


def test_the_monolith_warns_about_the_dev_secret_on_loopback(tmp_path):
    sut = MonolithSUT(tmp_path, insecure_env(tmp_path)).start()
    try:
        log = sut.log_path.read_text()
        assert "WARNING: SHOP_SECRET is not set" in log, log[-2000:]
    finally:
        sut.stop()


def test_the_microservices_launcher_refuses_before_starting_anything(tmp_path):
    cluster = Cluster(insecure_env(tmp_path, GATEWAY_HOST="0.0.0.0"), sink=None)
    with pytest.raises(SystemExit, match="refusing to start"):
        cluster.start()
    assert all(p.proc is None for p in cluster.processes.values())


def test_a_service_started_directly_by_gunicorn_refuses_too(tmp_path):
    """As the container images start one: the launcher's command line, run by itself."""
    ports = free_ports(2)
    env = insecure_env(tmp_path, SERVICE_HOST="0.0.0.0", TAX_PORT=str(ports[0]), TAX_METRICS_PORT=str(ports[1]))
    process = Cluster(env, sink=None).processes["tax"]
    code, out = run_to_exit(process.argv, process.env)
    assert code != 0, out[-2000:]
    assert "refusing to start" in out, out[-2000:]


def test_a_secret_of_ones_own_is_quiet(tmp_path):
    from microservices.config import Config
    env = {**insecure_env(tmp_path, SERVICE_HOST="0.0.0.0", GATEWAY_HOST="0.0.0.0"), "SHOP_SECRET": "s3cret-of-mine"}
    assert Config.from_env(env).check_secret() is None
    insecure = insecure_env(tmp_path, SERVICE_HOST="0.0.0.0", SHOP_ALLOW_INSECURE_SECRET="1")
    assert Config.from_env(insecure).check_secret()   # allowed for a throwaway try-out, still warned
