"""`make compare`: the same load shape against each deployment in turn, then one report.

For each repeat and each target: a fresh data directory (same deterministic seed), the
deployment started on free ports, the system under test and Locust pinned to separate CPUs
where the machine has at least two, CPU and memory of every process of the deployment
sampled each second, Locust run headless with the chosen shape. Then ``report.html``,
``summary.json`` and the raw CSVs go to ``results/<timestamp>-<shape>/``.

    python -m loadtests.compare [--shape spike|ramp] [--repeats N] [--quick]
"""
import argparse
import csv
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from loadtests import scrape
from loadtests.sampler import ResourceSampler, window
from loadtests.sut import SUTS, base_env
from shop.web.settings import PROJECT_ROOT

DEFAULTS = {
    "spike": {"spike-users": 20, "spike-factor": 10, "spike-warmup": 30, "spike-rise": 5,
              "spike-hold": 60, "spike-cooldown": 60},
    "ramp": {"ramp-start": 100, "ramp-step": 100, "ramp-step-seconds": 15, "ramp-max-users": 2000,
             "ramp-max-p95-ms": 200, "ramp-max-error-pct": 1.0},
}
QUICK = {  # the whole comparison in well under two minutes, for smoke tests
    "spike": {"spike-users": 4, "spike-factor": 10, "spike-warmup": 6, "spike-rise": 2,
              "spike-hold": 8, "spike-cooldown": 8},
    "ramp": {"ramp-start": 5, "ramp-step": 15, "ramp-step-seconds": 6, "ramp-max-users": 50,
             "ramp-max-p95-ms": 500, "ramp-max-error-pct": 1.0},
}
PACKAGES = ["flask", "werkzeug", "gunicorn", "locust", "urllib3", "requests", "psutil"]


def cpu_split() -> tuple[set[int] | None, set[int] | None]:
    """(CPUs for the system under test, CPUs for Locust); None where there is nothing to split."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return None, None
    return set(cpus[:-1]), {cpus[-1]}


def expected_seconds(shape: str, opts: dict) -> float:
    if shape == "spike":
        return opts["spike-warmup"] + opts["spike-rise"] + opts["spike-hold"] + opts["spike-cooldown"]
    steps = (opts["ramp-max-users"] - opts["ramp-start"]) // opts["ramp-step"] + 2
    return steps * opts["ramp-step-seconds"]


def environment_info(shape: str, opts: dict, sut_cpus, locust_cpus, workers: dict) -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT,
                                capture_output=True, text=True, timeout=5).stdout.strip() or "-"
    except OSError:
        commit = "-"
    return {
        "date (UTC)": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "CPU model": model,
        "CPUs": os.cpu_count(),
        "CPUs for the system under test": ", ".join(map(str, sorted(sut_cpus))) if sut_cpus else "not pinned",
        "CPUs for Locust": ", ".join(map(str, sorted(locust_cpus))) if locust_cpus else "not pinned",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "Python": platform.python_version(),
        "OS": platform.platform(),
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "git commit": commit,
        "shape": shape,
        "shape options": ", ".join(f"--{k} {v}" for k, v in opts.items()),
        **{f"workers: {k}": v for k, v in workers.items()},
    }


def _progress(label: str, elapsed: float, total: float, history_csv: Path, sampler: ResourceSampler):
    users = rps = p95 = "-"
    try:
        with open(history_csv) as f:
            rows = [r for r in csv.DictReader(f) if r.get("Name") == "Aggregated"]
        if rows:
            users, rps, p95 = rows[-1]["User Count"], f"{float(rows[-1]['Requests/s']):.0f}", rows[-1]["95%"]
    except (OSError, ValueError, KeyError):
        pass
    cpu = sampler.timeline[-1]["cpu_percent"] if sampler.timeline else 0.0
    done = min(1.0, elapsed / total) if total else 0
    bar = "#" * int(done * 20)
    print(f"  {label:<22} [{bar:<20}] {elapsed:4.0f}/{total:.0f}s  users {users:>4}  req/s {rps:>5}  "
          f"p95 {p95:>5} ms  SUT CPU {cpu:5.0f}%", flush=True)


def run_one(target: str, shape: str, opts: dict, out: Path, label: str, sut_cpus, locust_cpus) -> dict:
    data_dir = out / "data" / label
    sut = SUTS[target](data_dir, base_env(len(sut_cpus) if sut_cpus else None))
    before = os.sched_getaffinity(0) if sut_cpus else None
    if sut_cpus:
        os.sched_setaffinity(0, sut_cpus)   # the deployment's processes inherit this
    try:
        sut.start()
    finally:
        if before:
            os.sched_setaffinity(0, before)
    raw = out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    run_file = out / "runs" / f"{label}.json"
    cmd = [sys.executable, "-m", "locust", "-f", str(PROJECT_ROOT / "loadtests" / "locustfile.py"),
           "--headless", "--only-summary", "--exit-code-on-error", "0", "--stop-timeout", "5",
           "--target", target, f"--{target}-url", sut.url, "--shape", shape,
           "--run-file", str(run_file), "--csv", str(raw / label), "--csv-full-history",
           "--results-dir", str(out)]
    for key, value in opts.items():
        cmd += [f"--{key}", str(value)]
    log = open(out / "logs" / f"{label}-locust.log", "w")
    preexec = (lambda: os.sched_setaffinity(0, locust_cpus)) if locust_cpus else None
    metrics_before = scrape.scrape(sut.metrics_urls())
    sampler = ResourceSampler(sut.roots()).start()
    started = time.monotonic()
    total = expected_seconds(shape, opts) + 5
    try:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=preexec)
        generator = ResourceSampler({"locust": proc.pid}).start()  # was the load generator the limit?
        deadline = started + total * 2 + 120   # bounded whatever happens
        while proc.poll() is None:
            time.sleep(5)
            _progress(label, time.monotonic() - started, total, raw / f"{label}_stats_history.csv", sampler)
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"locust did not finish in time for {label}; see {log.name}")
        resources = sampler.stop()
        generator_use = generator.stop()
        metrics_after = scrape.scrape(sut.metrics_urls())
    finally:
        if sampler._thread.is_alive():
            sampler.stop()
        log.close()
        sut.stop()
    if not run_file.exists():
        raise RuntimeError(f"locust wrote no results for {label}; see {out / 'logs' / (label + '-locust.log')}")
    run = json.loads(run_file.read_text())
    if run.get("started_epoch"):
        resources = window(resources, run["started_epoch"], run["duration_s"])
    requests = run["totals"]["all"]["requests"]
    resources["cpu_ms_per_request"] = round(1000 * resources["cpu_seconds"] / requests, 3) if requests else None
    run["resources"] = resources
    run["timings"] = scrape.timings(metrics_before, metrics_after)  # from the deployment's own metrics
    gen_window = window(generator_use, run["started_epoch"], run["duration_s"]) if run.get("started_epoch") else generator_use
    gen_cpu = [r["cpu_percent"] for r in gen_window["timeline"]] or [0.0]
    run["generator"] = {"peak_cpu_percent": max(gen_cpu), "avg_cpu_percent": round(sum(gen_cpu) / len(gen_cpu), 1)}
    run["workers"] = sut.workers()
    run_file.write_text(json.dumps(run))
    return run


def headline(runs: list[dict]) -> dict:
    """The median of each headline number over the repeats, with its min and max."""
    def collect(read):
        values = []
        for run in runs:
            try:
                v = read(run)
            except (KeyError, TypeError):
                v = None
            if isinstance(v, (int, float)):
                values.append(v)
        if not values:
            return None
        return {"median": round(statistics.median(values), 2), "min": min(values), "max": max(values)}

    return {
        "rps": collect(lambda r: r["totals"]["all"]["rps"]),
        "spike_rps": collect(lambda r: r["totals"]["spike"]["rps"]),
        "p50_ms": collect(lambda r: r["totals"]["all"]["p50_ms"]),
        "p95_ms": collect(lambda r: r["totals"]["all"]["p95_ms"]),
        "p99_ms": collect(lambda r: r["totals"]["all"]["p99_ms"]),
        "spike_p95_ms": collect(lambda r: r["totals"]["spike"]["p95_ms"]),
        "error_pct": collect(lambda r: r["totals"]["all"]["error_pct"]),
        "recovery_s": collect(lambda r: r["recovery_s"]),
        "cpu_seconds": collect(lambda r: r["resources"]["cpu_seconds"]),
        "cpu_ms_per_request": collect(lambda r: r["resources"]["cpu_ms_per_request"]),
        "peak_rss_mb": collect(lambda r: r["resources"]["peak_rss_mb"]),
        "repeats": len(runs),
    }


def terminal_table(heads: dict[str, dict]) -> str:
    cols = [("req/s", "rps"), ("p50 ms", "p50_ms"), ("p95 ms", "p95_ms"), ("p99 ms", "p99_ms"),
            ("spike p95", "spike_p95_ms"), ("err %", "error_pct"), ("recover s", "recovery_s"),
            ("CPU s", "cpu_seconds"), ("CPU ms/req", "cpu_ms_per_request"), ("peak RSS MB", "peak_rss_mb")]
    lines = [f"{'':<14}" + "".join(f"{c:>12}" for c, _ in cols)]
    for target, head in heads.items():
        cells = []
        for _, key in cols:
            v = head.get(key)
            cells.append(f"{v['median']:>12g}" if v else f"{'-':>12}")
        lines.append(f"{target:<14}" + "".join(cells))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(DEFAULTS), default="spike")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a short run (under 2 minutes) for smoke tests")
    parser.add_argument("--targets", default="monolith,microservices")
    parser.add_argument("--out", default="", help="results folder (default results/<timestamp>-<shape>)")
    args = parser.parse_args(argv)

    opts = dict((QUICK if args.quick else DEFAULTS)[args.shape])
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or PROJECT_ROOT / "results" / f"{stamp}-{args.shape}{'-quick' if args.quick else ''}")
    (out / "logs").mkdir(parents=True, exist_ok=True)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    sut_cpus, locust_cpus = cpu_split()
    per_run = expected_seconds(args.shape, opts)
    print(f"comparing {', '.join(targets)} with the {args.shape} shape, {args.repeats} repeat(s), "
          f"about {per_run:.0f}s of load each; results in {out}", flush=True)

    runs: dict[str, list[dict]] = {t: [] for t in targets}
    workers = {}
    for r in range(1, args.repeats + 1):
        order = targets if r % 2 else list(reversed(targets))  # alternate, so drift hits both alike
        for target in order:
            run = run_one(target, args.shape, opts, out, f"{target}-{r}", sut_cpus, locust_cpus)
            runs[target].append(run)
            workers.update({f"{target}/{k}": v for k, v in run["workers"].items()})

    environment = environment_info(args.shape, opts, sut_cpus, locust_cpus, workers)
    heads = {t: headline(rs) for t, rs in runs.items()}
    (out / "summary.json").write_text(json.dumps(
        {"environment": environment, "headline": heads, "runs": runs}, indent=1))
    from loadtests import report
    notes = ["One machine: the system under test and the load generator share the host, "
             "pinned to separate CPUs where possible. Differences under ~20% are noise here.",
             "CPU seconds and memory cover every process of the deployment (gunicorn masters and workers), "
             "during the load only (startup and the shoppers' logins prepared before the run are excluded)."]
    peak_gen = max((r["generator"]["peak_cpu_percent"] for rs in runs.values() for r in rs), default=0)
    notes.append(f"Load generator (Locust) CPU: highest one-second reading {peak_gen:.0f}% of one core"
                 + (" - near its limit: the highest loads may be understated." if peak_gen >= 90 else
                    " - it was not the limit."))
    path = report.build(runs, out, title=f"Monolith vs microservices: {args.shape}", environment=environment,
                        notes=notes)
    print("\n" + terminal_table(heads))
    print(f"\nreport: {path}\nsummary: {out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
