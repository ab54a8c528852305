"""`make bench` in its smoke form: it completes and writes its file (no timing is asserted)."""
import json
import subprocess
import sys

from shop.web.settings import PROJECT_ROOT


def test_the_benchmark_runs_and_writes_its_results(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "loadtests.bench", "--quick", "--out", str(out)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    kinds = ["product_read", "product_list", "search", "cart", "quote", "checkout"]
    run = result["runs"][0]
    assert run["framework"]["requests"] > 0
    # the microservices once per gateway: Envoy where it is installed, and the Python gateway
    assert result["deployments"][0] == "monolith" and "microservices-python" in result["deployments"]
    for deployment in result["deployments"]:
        for kind in kinds:
            assert run[deployment][kind]["requests"] > 0, (deployment, kind)
            assert run[deployment][kind]["errors"] == 0, (deployment, kind, run[deployment][kind])
    assert result["ratios"]["monolith_product_read_vs_framework"]["median"] > 0
    # one public read is one internal call (gateway -> catalog); a checkout is several
    assert result["hops_per_request"]["GET /api/products/<id>"] == 1
    assert result["hops_per_request"]["POST /api/orders"] > result["hops_per_request"]["GET /api/cart"]
    assert run["hop"]["calls"] > 0 and run["hop"]["server_cpu_ms"] > 0
    for deployment in result["deployments"][1:]:
        assert set(result["memory_mb_by_process"][deployment]) >= {"gateway", "catalog", "orders"}
    assert "framework limit" in done.stdout
