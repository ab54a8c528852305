"""Run the shop's Locust journeys as a library against one deployment, print a JSON result.

    python tests/load/locust_library_run.py URL SECONDS [--users N]

Locust monkey-patches the whole process with gevent as soon as it is imported, so this runs in
a process of its own (tests/load/test_locust_library.py starts it). It follows Locust's "use as
a library" recipe: an Environment, a local runner, start, stop, read env.stats.

The journeys are subclassed to be quick (a tiny constant wait, equal weights, every order
cancelled again) so that every request name of both journeys shows up within a few seconds.
The run ends as soon as every expected name has been seen (and at least --min-seconds have
passed), or after SECONDS at the latest.

The last line of stdout is the JSON result:
    {"url", "seconds", "users", "requests": {name: {"method", "requests", "failures"}},
     "total_requests", "total_failures", "errors": [...], "exceptions": [...], "missing": [...]}
"""
import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import gevent  # noqa: E402  (after the path is set; locust patches on import anyway)
from locust import constant  # noqa: E402
from locust.env import Environment  # noqa: E402

from loadtests.journeys import Browser, Shopper  # noqa: E402

BROWSER_NAMES = ["GET /api/categories", "GET /api/products?category", "GET /api/products?q",
                 "GET /api/products/[id]", "GET /api/shipping/options"]
SHOPPER_NAMES = ["POST /api/auth/login", "GET /api/products/[id]", "GET /api/cart",
                 "PUT /api/cart/items/[id]", "POST /api/checkout/quote", "POST /api/orders",
                 "POST /api/orders/[id]/cancel"]
EXPECTED = sorted(set(BROWSER_NAMES) | set(SHOPPER_NAMES))


class QuickBrowser(Browser):
    weight = 1
    wait_time = constant(0.02)


class QuickShopper(Shopper):
    weight = 1
    wait_time = constant(0.02)
    cancel_share = 1.0


def result(env: Environment, url: str, started: float, users: int) -> dict:
    requests = {}
    for (name, method), entry in env.stats.entries.items():
        requests[name] = {"method": method, "requests": entry.num_requests, "failures": entry.num_failures}
    errors = [{"method": e.method, "name": e.name, "error": str(e.error), "occurrences": e.occurrences}
              for e in env.stats.errors.values()]
    exceptions = [{"count": row["count"], "msg": row["msg"], "traceback": row["traceback"]}
                  for row in env.runner.exceptions.values()]
    return {
        "url": url,
        "seconds": round(time.monotonic() - started, 1),
        "users": users,
        "requests": requests,
        "total_requests": env.stats.total.num_requests,
        "total_failures": env.stats.total.num_failures,
        "errors": errors,
        "exceptions": exceptions,
        "missing": [n for n in EXPECTED if requests.get(n, {}).get("requests", 0) == 0],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("seconds", type=float, help="the longest the load runs")
    parser.add_argument("--users", type=int, default=4, help="half browsers, half shoppers")
    parser.add_argument("--min-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)

    env = Environment(user_classes=[QuickBrowser, QuickShopper], host=args.url, stop_timeout=5)
    runner = env.create_local_runner()
    started = time.monotonic()
    runner.start(args.users, spawn_rate=args.users)
    deadline = started + args.seconds
    while time.monotonic() < deadline:
        gevent.sleep(0.1)
        elapsed = time.monotonic() - started
        seen = {name for (name, _), e in env.stats.entries.items() if e.num_requests}
        if elapsed >= args.min_seconds and seen >= set(EXPECTED):
            break
    stopper = gevent.spawn(runner.quit)
    stopper.join(timeout=20)   # users finish their task (stop_timeout), then stop
    out = result(env, args.url, started, args.users)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
