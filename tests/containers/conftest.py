"""The images and deployment files of deploy/, run for real on a Docker engine.

Not part of `make test` (that needs only Python and make): these tests are collected only when
SHOP_CONTAINER_TESTS=1, which `make test-containers` sets. They need a running Docker engine,
Compose (v2 or v1) and, unless SHOP_BASE_IMAGE names a base image to use, root and mmdebstrap to
build one from Debian packages (deploy/docker/base-image.sh). Docker Hub is never contacted.

    SHOP_BASE_IMAGE=python:3.11-slim   use that base instead of building one (a registry is needed)
    SHOP_IMAGE_TAG=test                the tag of the images built and run here
    DOCKER, COMPOSE                    which docker client and Compose to use (tests/containers/engine.py)
"""
import os
import secrets
import subprocess
import time

import pytest

from tests.containers.engine import ROOT, Compose, Docker, EngineError

ENABLED = os.environ.get("SHOP_CONTAINER_TESTS") == "1"
collect_ignore_glob = [] if ENABLED else ["test_*.py"]

ALL_PROFILES = ["monolith", "microservices", "locust"]
LOCAL_BASE_IMAGE = "shop-python:3.11-bookworm"


def shop_env(**extra) -> dict:
    """What every Compose or Swarm command of these tests sees: a fresh secret, the test's image
    tag; the developer's own SHOP_* settings are not passed on (Compose reads them)."""
    return {"SHOP_SECRET": SECRET, "SHOP_IMAGE_TAG": IMAGE_TAG, "SHOP_PUBLISH_ADDRESS": "127.0.0.1", **extra}


SECRET = secrets.token_hex(32)
IMAGE_TAG = os.environ.get("SHOP_IMAGE_TAG", "test")


@pytest.fixture(scope="session")
def docker() -> Docker:
    engine = Docker()
    why = engine.answers()
    if why:
        raise EngineError(f"make test-containers needs a running Docker engine, and {engine.cli} got: {why}")
    return engine


@pytest.fixture(scope="session")
def images(docker) -> dict:
    """The base image (built from Debian packages unless SHOP_BASE_IMAGE is given), then the three
    images, built by Compose from deploy/compose.yaml's build sections."""
    timings = {}
    base = os.environ.get("SHOP_BASE_IMAGE")
    if not base:
        started = time.monotonic()
        out = subprocess.run([str(ROOT / "deploy/docker/base-image.sh"), LOCAL_BASE_IMAGE], capture_output=True,
                             text=True, timeout=900, env={**os.environ, "DOCKER": docker.cli})
        if out.returncode != 0:
            raise EngineError(f"building the base image failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        base = LOCAL_BASE_IMAGE
        timings["base image"] = time.monotonic() - started
    compose = Compose(docker, "shop-ct-build", shop_env(SHOP_BASE_IMAGE=base), ALL_PROFILES)
    try:
        # one service per image: the seven services and the gateway share shop-service
        services = {}
        for name, service in compose.config()["services"].items():
            services.setdefault(service["image"], name)
        started = time.monotonic()
        compose("build", *services.values(), timeout=1200)
        timings["images"] = time.monotonic() - started
        for image in services:
            config = docker.inspect(image, kind="image")[0]["Config"]
            assert config["User"] == "10001:10001", image
    finally:
        compose.down(ALL_PROFILES)
    TIMINGS.update(timings)
    return {"base": base, "tag": IMAGE_TAG, "images": sorted(services), "timings": timings}


TIMINGS: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.write_line("build times: " + ", ".join(f"{k} {v:.0f} s" for k, v in TIMINGS.items()))
