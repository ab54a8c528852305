"""`make bench`: what each architecture costs, measured as ratios within one run.

1. The framework limit: a minimal Flask JSON endpoint under the monolith's gunicorn settings.
2. The monolith on a product read, a product list and a search, against that limit.
3. The microservices against the monolith on the same reads, the cart, a quote and a full
   checkout, both given the same CPU (the same pinned core(s)); the microservices once per
   gateway (Envoy where it is installed, and the Python gateway), so that the edge's share of
   the "microservice tax" shows apart from the hops behind it.
4. One internal hop in isolation (client and server CPU, latency), against an in-process call,
   and how many internal hops each public request makes (counted from the services' logs).
5. CPU per request and memory per process of each deployment.

The load generator (loadtests/loadgen.py) runs on its own CPU where the machine has two or
more, and reports its own CPU use, so a run where it was the limit can be seen. Every
measurement is repeated; the file keeps each repeat, the median and the spread.

    python -m loadtests.bench [--quick] [--repeats N] [--out FILE]
"""
import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

from loadtests import cgroups, shopdata
from loadtests.compare import cpu_split, environment_info
from loadtests.sut import MicroservicesSUT, MonolithSUT, base_env, free_ports
from microservices.config import envoy_binary
from shop.web.gunicorn import gunicorn_argv
from shop.web.processes import spawn, wait_healthy
from shop.web.settings import PROJECT_ROOT

KINDS = ["product_read", "product_list", "search", "cart", "quote", "checkout"]
CONNECTIONS = 64  # enough to keep one core of any deployment busy (checked: server CPU ~100%)
QUICK_CONNECTIONS = 8  # the smoke run only checks that everything works


# -- processes ------------------------------------------------------------------------------
class MinimalSUT:
    name = "minimal"

    def __init__(self, data_dir: Path, env: dict):
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        workers = int(env.get("MONOLITH_WORKERS", 2))
        threads = int(env.get("MONOLITH_THREADS", 8))
        self.argv = gunicorn_argv("loadtests.minimal_app:create_app()", conf="loadtests.minimal_gunicorn_conf",
                                  host="127.0.0.1", port=self.port,
                                  workers=workers, threads=threads, access_log=False, name="shop-minimal")
        self.env = env
        self.log_path = data_dir / "minimal.log"
        self.proc = None

    def start(self):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")
        self.proc = spawn(self.argv, self.env, self._log, text=False)
        wait_healthy(self.proc, self.url, 30, "the minimal app", self.log_path)
        return self

    def roots(self):
        return {"minimal": self.proc.pid}

    def stop(self):
        self.proc.terminate()
        self.proc.wait(15)
        self._log.close()


def start_pinned(sut, cpus):
    """Start the system under test on ``cpus`` (it inherits the pinning)."""
    with cgroups.pinned(cpus):
        return sut.start()


def tree(roots: dict[str, int]) -> list[psutil.Process]:
    procs = []
    for pid in roots.values():
        try:
            root = psutil.Process(pid)
            procs += [root, *root.children(recursive=True)]
        except psutil.Error:
            pass
    return procs


def cpu_of(procs) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def rss_by_root(roots: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in roots.items():
        try:
            root = psutil.Process(pid)
            out[name] = round(sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20, 1)
        except psutil.Error:
            out[name] = None
    return out


# -- one measurement ------------------------------------------------------------------------
def load(url: str, spec: dict, gen_cpus, sut_roots: dict[str, int]) -> dict:
    spec = {"url": url, "connections": CONNECTIONS, **spec}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    procs = tree(sut_roots)
    cpu0 = cpu_of(procs)
    preexec = (lambda: os.sched_setaffinity(0, gen_cpus)) if gen_cpus else None
    out = subprocess.run([sys.executable, "-m", "loadtests.loadgen", f.name], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, preexec_fn=preexec,
                         timeout=spec["duration_s"] + spec.get("warmup_s", 1) + 120)
    os.unlink(f.name)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    sut_cpu = cpu_of(procs) - cpu0
    # CPU covers warm-up and measured time; requests only the measured time: scale them alike.
    total_requests = result["rps"] * (spec["duration_s"] + spec.get("warmup_s", 1))
    result["sut_cpu_ms_per_request"] = round(1000 * sut_cpu / total_requests, 3) if total_requests else None
    return result


def login(url: str, n: int) -> str:
    r = requests.post(f"{url}/api/auth/login", timeout=30,
                      json={"email": shopdata.shopper_email(n), "password": shopdata.SHOPPER_PASSWORD})
    r.raise_for_status()
    return r.json()["token"]


def shop_specs(url: str, duration: float, warmup: float) -> dict[str, dict]:
    """The requests measured on both deployments. Tokens and carts are prepared first."""
    tokens = [login(url, n) for n in range(1, CONNECTIONS + 1)]
    ids = shopdata.PRODUCT_IDS
    auth = [{"Authorization": f"Bearer {t}", "Content-Type": "application/json"} for t in tokens]
    for k, headers in enumerate(auth):  # something to quote
        requests.put(f"{url}/api/cart/items/{shopdata.BUYABLE_IDS[k]}", json={"quantity": 1},
                     headers=headers, timeout=30).raise_for_status()
    address = shopdata.ADDRESSES[0]
    base = {"duration_s": duration, "warmup_s": warmup}
    checkout_scripts = []
    for k, headers in enumerate(auth):
        script = []
        for j in range(20):
            pid = shopdata.BUYABLE_IDS[(CONNECTIONS + k * 20 + j) % len(shopdata.BUYABLE_IDS)]
            script.append({"method": "PUT", "path": f"/api/cart/items/{pid}", "body": {"quantity": 1},
                           "headers": headers})
            script.append({"method": "POST", "path": "/api/orders", "headers": headers,
                           "body": {"address": address, "shipping_option": "standard",
                                    "payment": shopdata.CARD}})
        checkout_scripts.append(script)
    return {
        "product_read": {**base, "requests": [{"method": "GET", "path": f"/api/products/{i}"} for i in ids[:400]]},
        "product_list": {**base, "requests": [{"method": "GET", "path": f"/api/products?page={p}"}
                                               for p in range(1, 11)]},
        "search": {**base, "requests": [{"method": "GET", "path": f"/api/products?q={t}"}
                                         for t in shopdata.SEARCH_TERMS]},
        "cart": {**base, "per_connection": [[{"method": "GET", "path": "/api/cart", "headers": h}] for h in auth]},
        "quote": {**base, "per_connection": [[{"method": "POST", "path": "/api/checkout/quote", "headers": h,
                                               "body": {"address": address, "shipping_option": "standard"}}]
                                             for h in auth]},
        "checkout": {**base, "per_connection": checkout_scripts},
    }


# -- hops -------------------------------------------------------------------------------------
def hop_cost(sut: MicroservicesSUT, calls: int) -> dict:
    """One internal call, client and server side, against the same work done in-process."""
    from microservices.http import ServiceClient
    from shop.tax.service import TaxService
    tax_url = sut.cluster.config.urls["tax"]
    client = ServiceClient("tax", tax_url, connect_timeout=1, call_timeout=5, pool_size=1)
    query = {"subtotal_cents": 10000, "country": "US", "region": "CA"}
    client.call("GET", "/internal/tax", query=query)  # open the connection
    server = tree({"tax": sut.cluster.processes["tax"].pid})
    s0, c0, w0 = cpu_of(server), time.process_time(), time.perf_counter()
    for _ in range(calls):
        client.call("GET", "/internal/tax", query=query)
    wall = time.perf_counter() - w0
    client_cpu, server_cpu = time.process_time() - c0, cpu_of(server) - s0
    local = TaxService()
    w0 = time.perf_counter()
    for _ in range(calls):
        local.tax_cents(10000, "US", "CA")
    in_process = time.perf_counter() - w0
    return {"calls": calls, "latency_ms": round(1000 * wall / calls, 3),
            "client_cpu_ms": round(1000 * client_cpu / calls, 3),
            "server_cpu_ms": round(1000 * server_cpu / calls, 3),
            "in_process_call_us": round(1e6 * in_process / calls, 2)}


def hop_counts(data_dir: Path) -> dict[str, int]:
    """Internal HTTP calls per public request, counted from the services' access-log lines that
    carry the request's id: the gateway's call to the service, and every call behind it."""
    lines: list[str] = []
    sut = MicroservicesSUT(data_dir, {**base_env(), "SHOP_ACCESS_LOG": "1", "SHOP_ADMISSION": "0"},
                           sink=lines.append)
    sut.start()
    try:
        url = sut.url
        token = login(url, 1)
        h = {"Authorization": f"Bearer {token}"}
        address = shopdata.ADDRESSES[0]
        pid = shopdata.BUYABLE_IDS[0]
        probes = {
            "GET /api/products/<id>": lambda rid: requests.get(f"{url}/api/products/1", headers={"X-Request-ID": rid}),
            "GET /api/products?q=": lambda rid: requests.get(f"{url}/api/products?q=tea", headers={"X-Request-ID": rid}),
            "PUT /api/cart/items/<id>": lambda rid: requests.put(f"{url}/api/cart/items/{pid}", json={"quantity": 1},
                                                                 headers={**h, "X-Request-ID": rid}),
            "GET /api/cart": lambda rid: requests.get(f"{url}/api/cart", headers={**h, "X-Request-ID": rid}),
            "POST /api/checkout/quote": lambda rid: requests.post(
                f"{url}/api/checkout/quote", json={"address": address, "shipping_option": "standard"},
                headers={**h, "X-Request-ID": rid}),
            "POST /api/orders": lambda rid: requests.post(
                f"{url}/api/orders", json={"address": address, "shipping_option": "standard",
                                           "payment": shopdata.CARD}, headers={**h, "X-Request-ID": rid}),
        }
        counts = {}
        for n, (name, probe) in enumerate(probes.items()):
            rid = f"bench-hops-{n}"
            probe(rid).raise_for_status()
            deadline = time.monotonic() + 5
            def lines_for(rid):  # JSON log lines ("request_id": ...) or text ones (rid=...)
                return [ln for ln in lines if not ln.startswith("gateway")
                        and (f'"request_id": "{rid}"' in ln or f"rid={rid}" in ln) and '"status"' in ln]
            while True:  # log lines arrive through pipes: wait until the count is stable
                found = lines_for(rid)
                time.sleep(0.3)
                again = lines_for(rid)
                if (found == again and found) or time.monotonic() > deadline:
                    break
            # every line outside the gateway is one internal HTTP call (gateway->service included)
            counts[name] = len(again)
        return counts
    finally:
        sut.stop()


# -- the whole benchmark ----------------------------------------------------------------------
def median_spread(values):
    values = [v for v in values if isinstance(v, (int, float))]
    if not values:
        return None
    return {"median": round(statistics.median(values), 3), "min": min(values), "max": max(values)}


def gateways() -> list[str]:
    """The gateways measured: Envoy where its binary is installed, and the Python gateway."""
    return (["envoy"] if envoy_binary() else []) + ["python"]


def deployments() -> list[str]:
    return ["monolith", *[f"microservices-{g}" for g in gateways()]]


def measure_deployment(kind, workdir, specs_for, sut_cpus, gen_cpus):
    """``kind``: "monolith" or "microservices-<gateway>"."""
    env = base_env(len(sut_cpus) if sut_cpus else None)
    # A fixed number of connections that always wait for their answer: every request is meant
    # to be served, so admission control (which sheds what waits too long) is off here.
    env["SHOP_ADMISSION"] = "0"
    if kind.startswith("microservices-"):
        env["GATEWAY"] = kind.split("-", 1)[1]
    sut = (MonolithSUT if kind == "monolith" else MicroservicesSUT)(workdir / kind, env)
    start_pinned(sut, sut_cpus)
    try:
        results = {}
        for name, spec in specs_for(sut.url).items():
            results[name] = load(sut.url, spec, gen_cpus, sut.roots())
        results["rss_mb_by_process"] = rss_by_root(sut.roots())
        extra = hop_cost(sut, calls=specs_for.hop_calls) if kind.startswith("microservices") else None
        return results, extra
    finally:
        sut.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: short, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per request type")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    duration, warmup, repeats, hop_calls = args.duration, 1.0, args.repeats, 2000
    if args.quick:
        global CONNECTIONS
        duration, warmup, repeats, hop_calls = 1.0, 0.3, 1, 200
        CONNECTIONS = QUICK_CONNECTIONS
    sut_cpus, gen_cpus = cpu_split()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or PROJECT_ROOT / "results" / f"bench-{stamp}.json")
    out.parent.mkdir(parents=True, exist_ok=True)

    def specs_for(url):
        return shop_specs(url, duration, warmup)
    specs_for.hop_calls = hop_calls

    names = deployments()
    micros = [d for d in names if d != "monolith"]
    runs = []
    with tempfile.TemporaryDirectory(prefix="shop-bench-") as tmp:
        workdir = Path(tmp)
        for r in range(1, repeats + 1):
            print(f"repeat {r}/{repeats}: framework limit ...", flush=True)
            minimal = start_pinned(MinimalSUT(workdir, {**base_env(len(sut_cpus) if sut_cpus else None),
                                                        "SHOP_ADMISSION": "0"}), sut_cpus)
            try:
                framework = load(minimal.url, {"duration_s": duration, "warmup_s": warmup,
                                               "requests": [{"method": "GET", "path": "/item"}]},
                                 gen_cpus, minimal.roots())
            finally:
                minimal.stop()
            run = {"framework": framework}
            print(f"  framework limit {framework['rps']} req/s", flush=True)
            for d in names:
                run[d], hop = measure_deployment(d, workdir / f"r{r}", specs_for, sut_cpus, gen_cpus)
                if hop:
                    run["hop"] = hop
                print(f"  {d} product read {run[d]['product_read']['rps']} req/s", flush=True)
            runs.append(run)
        print("counting internal hops per public request ...", flush=True)
        hops = hop_counts(workdir / "hops")

    kinds = KINDS
    ratios = {
        "monolith_product_read_vs_framework": median_spread(
            [r["monolith"]["product_read"]["rps"] / r["framework"]["rps"] for r in runs]),
        **{f"{d}_vs_monolith_{k}": median_spread(
            [r[d][k]["rps"] / r["monolith"][k]["rps"] for r in runs if r["monolith"][k]["rps"]])
           for d in micros for k in kinds},
        **{f"cpu_per_request_{d}_vs_monolith_{k}": median_spread(
            [r[d][k]["sut_cpu_ms_per_request"] / r["monolith"][k]["sut_cpu_ms_per_request"]
             for r in runs if r["monolith"][k]["sut_cpu_ms_per_request"]]) for d in micros for k in kinds},
    }
    summary = {
        "framework_rps": median_spread([r["framework"]["rps"] for r in runs]),
        **{f"{d}_{k}_rps": median_spread([r[d][k]["rps"] for r in runs]) for d in names for k in kinds},
        **{f"{d}_{k}_cpu_ms_per_request": median_spread([r[d][k]["sut_cpu_ms_per_request"] for r in runs])
           for d in names for k in kinds},
        "hop_latency_ms": median_spread([r["hop"]["latency_ms"] for r in runs]),
        "hop_client_cpu_ms": median_spread([r["hop"]["client_cpu_ms"] for r in runs]),
        "hop_server_cpu_ms": median_spread([r["hop"]["server_cpu_ms"] for r in runs]),
        "in_process_call_us": median_spread([r["hop"]["in_process_call_us"] for r in runs]),
        "generator_cpu_pct_max": max(m["generator_cpu_pct"] for r in runs
                                     for m in [r["framework"], *[r[d][k] for d in names for k in kinds]]),
    }
    environment = environment_info("bench", {"connections": CONNECTIONS, "duration_s": duration,
                                             "warmup_s": warmup, "repeats": repeats}, sut_cpus, gen_cpus, {})
    result = {"environment": environment, "deployments": names, "ratios": ratios, "summary": summary,
              "hops_per_request": hops,
              "memory_mb_by_process": {d: runs[-1][d]["rss_mb_by_process"] for d in names},
              "runs": runs}
    out.write_text(json.dumps(result, indent=1))
    print_table(result)
    print(f"\nwritten to {out}")
    return 0


def print_table(result: dict) -> None:
    s, r = result["summary"], result["ratios"]

    def m(v, digits=0):
        return "-" if v is None else f"{v['median']:.{digits}f} ({v['min']:.{digits}f}-{v['max']:.{digits}f})"
    print(f"\nframework limit: {m(s['framework_rps'])} req/s")
    print(f"monolith product read / framework limit: {m(r['monolith_product_read_vs_framework'], 2)}")
    print(f"{'request':<13} {'deployment':<22} {'req/s':>22} {'vs monolith':>18} {'CPU/req ratio':>18}")
    for k in KINDS:
        for n, d in enumerate(result["deployments"]):
            vs = "" if d == "monolith" else m(r[f"{d}_vs_monolith_{k}"], 2)
            cpu = "" if d == "monolith" else m(r[f"cpu_per_request_{d}_vs_monolith_{k}"], 1)
            print(f"{k if n == 0 else '':<13} {d:<22} {m(s[f'{d}_{k}_rps']):>22} {vs:>18} {cpu:>18}")
    print(f"one internal hop: {m(s['hop_latency_ms'], 3)} ms latency, client CPU {m(s['hop_client_cpu_ms'], 3)} ms, "
          f"server CPU {m(s['hop_server_cpu_ms'], 3)} ms; in-process call {m(s['in_process_call_us'], 1)} us")
    print("internal hops per public request: " + ", ".join(f"{k} {v}" for k, v in result["hops_per_request"].items()))
    print(f"load generator CPU, highest seen: {s['generator_cpu_pct_max']}%")


if __name__ == "__main__":
    sys.exit(main())
