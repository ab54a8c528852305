"""Locust used as a library (Environment + local runner) puts the shop's journeys on each
deployment for a few seconds: every request name of both journeys must show up, none may fail.

Locust monkey-patches its process with gevent, so the run happens in a subprocess
(tests/load/locust_library_run.py) that prints its result as JSON."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("locust_library_run.py")
ROOT = SCRIPT.parents[2]
LOAD_SECONDS = 6         # the longest the load runs; it ends once every name was seen
TIMEOUT_S = 120          # the whole subprocess, start-up and shutdown included

EXPECTED_NAMES = [
    "GET /api/categories",
    "GET /api/products?category",
    "GET /api/products?q",
    "GET /api/products/[id]",
    "GET /api/shipping/options",
    "GET /api/cart",
    "PUT /api/cart/items/[id]",
    "POST /api/checkout/quote",
    "POST /api/orders",
    "POST /api/orders/[id]/cancel",
    "POST /api/auth/login",   # no tokens are prepared: every shopper logs in once
]


def run_locust(url: str) -> dict:
    try:
        proc = subprocess.run([sys.executable, str(SCRIPT), url, str(LOAD_SECONDS)], cwd=ROOT,
                              capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the Locust run did not finish in {TIMEOUT_S}s\nstdout:\n{e.stdout}\nstderr:\n{e.stderr}")
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and lines, (
        f"exit code {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}")
    return json.loads(lines[-1])


def test_every_journey_runs_without_failures(deployment, request):
    name = request.node.callspec.params["deployment"]
    result = run_locust(deployment.url)
    requests = result["requests"]

    not_seen = [n for n in EXPECTED_NAMES if requests.get(n, {}).get("requests", 0) == 0]
    assert not not_seen, f"{name}: no requests for {not_seen}; got {json.dumps(requests, indent=1)}"
    unexpected = sorted(set(requests) - set(EXPECTED_NAMES))
    assert not unexpected, f"{name}: request names the journeys should not produce: {unexpected}"

    failures = "\n".join(f"  {e['occurrences']}x {e['method']} {e['name']}: {e['error']}" for e in result["errors"])
    assert result["total_failures"] == 0, f"{name}: {result['total_failures']} failed requests:\n{failures}"
    assert all(r["failures"] == 0 for r in requests.values()), failures
    tracebacks = "\n".join(f"{x['count']}x {x['msg']}\n{x['traceback']}" for x in result["exceptions"])
    assert not result["exceptions"], f"{name}: exceptions in user code:\n{tracebacks}"
    assert result["total_requests"] == sum(r["requests"] for r in requests.values())
