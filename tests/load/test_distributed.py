"""The open model in Locust's distributed mode (`locust --processes 2`, as `deploy/` runs a
master and workers), against a real monolith: the master signs the shoppers in and hands each
worker its share of the accounts and of the rate; the workers' requests and arrivals come back
to the master, which writes one summary."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests import arrivals

ROOT = Path(__file__).resolve().parents[2]
RATE, SECONDS = 40, 8


@pytest.fixture(scope="module")
def run(monolith, tmp_path_factory):
    run_file = tmp_path_factory.mktemp("distributed") / "run.json"
    cmd = [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"), "--headless",
           "--only-summary", "--processes", "2", "--exit-code-on-error", "0", "--target", "monolith",
           "--monolith-url", monolith.url, "--shape", "steady", "--steady-rps", str(RATE),
           "--steady-before", "2", "--steady-fault", str(SECONDS - 4), "--steady-after", "2",
           "--shoppers", "8", "--run-file", str(run_file)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert run_file.exists(), f"no summary:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(run_file.read_text()), proc


def test_the_master_gathers_both_workers_results(run):
    summary, proc = run
    assert summary["load_generators"] == 2
    assert summary["generator"]["processes"] == 2, summary["generator"]   # ticks from each worker
    assert "no final results" not in proc.stderr
    assert summary["totals"]["all"]["requests"] > 0


def test_the_workers_share_the_rate(run):
    summary, _ = run
    visits = sum(row["arrivals"] for row in summary["timeline"])
    # Two workers at half the rate each: together a Poisson count around the whole rate.
    from loadtests import funnel
    expected = RATE * SECONDS / funnel.expected_requests()
    low, high = arrivals.poisson_interval(expected, confidence_sigmas=5)
    assert low <= visits <= high, (visits, expected)


def test_the_shoppers_accounts_are_not_shared(run):
    summary, _ = run
    used = list(summary["shopper_accounts"].values())
    assert len(used) == 2, summary["shopper_accounts"]          # both workers had shoppers
    assert not set(used[0]) & set(used[1]), used                 # and never the same account
    assert {n % 2 for n in used[0]} != {n % 2 for n in used[1]}  # worker i of 2: accounts i+1, i+3, ...
    assert summary["totals"]["all"]["failures"] == 0, summary["totals"]["all"]
