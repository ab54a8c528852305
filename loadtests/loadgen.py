"""A closed-loop HTTP load generator for the benchmark: N keep-alive connections, each
sending its next request as soon as the previous answer arrives, for a fixed time.

Built on gevent and geventhttpclient (Locust's FastHttpUser client, a C parser), so one
core drives several thousand requests a second: far more than one core of gunicorn + Flask
serves, and it reports its own CPU use so that a run where it was the limit shows it.

Run it as its own process (gevent patches the interpreter):

    python -m loadtests.loadgen SPEC.json   ->  one JSON line on stdout

SPEC: {"url", "connections", "duration_s", "warmup_s", "requests": [ {"method", "path",
"body"?, "headers"?} ... ] per connection (cycled), optionally "per_connection": [ [..], .. ]}.
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import gevent  # noqa: E402
from geventhttpclient import HTTPClient  # noqa: E402


def _connection(client: HTTPClient, script: list[dict], stop_at: float, warm_until: float,
                latencies: list[float], counts: dict):
    i = 0
    while True:
        now = time.perf_counter()
        if now >= stop_at:
            return
        req = script[i % len(script)]
        i += 1
        body = req.get("body")
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        try:
            response = client.request(req["method"], req["path"], body=body or b"",
                                      headers=req.get("headers") or {})
            response.read()
            ok = response.status_code < 400 or response.status_code in req.get("ok_status", ())
        except Exception:
            ok = False
        done = time.perf_counter()
        if now >= warm_until:
            counts["requests"] += 1
            if not ok:
                counts["errors"] += 1
            latencies.append((done - now) * 1000)


def run(spec: dict) -> dict:
    url = urlsplit(spec["url"])
    connections = spec["connections"]
    scripts = spec.get("per_connection") or [spec["requests"]] * connections
    latencies, counts = [], {"requests": 0, "errors": 0}
    clients = [HTTPClient(url.hostname, url.port, concurrency=1, connection_timeout=5,
                          network_timeout=30) for _ in range(connections)]
    start = time.perf_counter()
    warm_until = start + spec.get("warmup_s", 1.0)
    stop_at = warm_until + spec["duration_s"]
    cpu0 = os.times()
    jobs = [gevent.spawn(_connection, clients[k], scripts[k % len(scripts)], stop_at, warm_until,
                         latencies, counts) for k in range(connections)]
    gevent.joinall(jobs, timeout=spec["duration_s"] + spec.get("warmup_s", 1.0) + 60)
    cpu1 = os.times()
    measured = spec["duration_s"]
    latencies.sort()

    def pct(p):
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 2) if latencies else None

    total_time = time.perf_counter() - start
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {"requests": counts["requests"], "errors": counts["errors"],
            "rps": round(counts["requests"] / measured, 1),
            "p50_ms": pct(50), "p99_ms": pct(99),
            "generator_cpu_pct": round(100 * cpu / total_time, 1)}


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(json.dumps(run(json.load(f))), flush=True)
