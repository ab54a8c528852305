"""Browser tests: the real Locust web UI and real reports, driven in a real Chromium by Playwright.

Playwright's own browser download cannot work on these machines, so the tests drive Debian's
Chromium (``apt-get install chromium``, as root; ``.ci/run`` installs it, so CI always runs
them). Without it they skip and say how to install it. CHROMIUM=/path picks another binary."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = "install it with `apt-get install chromium` (as root; .ci/run does), or set CHROMIUM=/path/to/chromium"
# What Chromium needs on these machines: no sandbox as root, no GPU, and none of its background
# connections (the network is closed: they would be refused, many at a time).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip(f"browser tests need Chromium: {INSTALL}")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is pinned in "
                                   "requirements.txt: run `make install`")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the Locust web UI exited during startup (code {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the Locust web UI did not answer at {url} within {timeout:.0f}s")


@pytest.fixture(scope="module")
def locust_ui(browser, monolith, microservices, tmp_path_factory):
    """A real Locust web UI process (the project's locustfile) against both test deployments,
    saving its runs in a folder of its own. Yields its URL and that folder."""
    results = tmp_path_factory.mktemp("ui-results")
    port = free_port()
    log = open(results / "locust.log", "w")
    cmd = [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"),
           "--web-host", "127.0.0.1", "--web-port", str(port), "--host", monolith.url,
           "--monolith-url", monolith.url, "--microservices-url", microservices.url,
           "--results-dir", str(results), "--shoppers", "100"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/", proc)
        yield {"url": url, "results": results, "log": results / "locust.log", "monolith": monolith.url,
               "microservices": microservices.url}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
