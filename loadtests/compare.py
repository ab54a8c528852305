"""`make compare`: the same load shape (or scenario) against each deployment in turn, then one report.

For each repeat and each target: a fresh data directory (same deterministic seed), the
deployment started on free ports, the system under test and Locust pinned to separate CPUs
where the machine has at least two, CPU and memory of every process of the deployment
sampled each second, Locust run headless with the chosen shape. Then ``report.html``,
``summary.json`` and the raw CSVs go to ``results/<timestamp>-<shape>/``.

A scenario (loadtests/scenarios.py: spike, spike-scaled, slow-payment, billing-down,
redeploy) adds what happens mid-run (faults injected, a service killed or restarted, at the
phase boundaries), the worker counts of each deployment, and a verdict per claim. Every run
ends with an audit of the deployment's books (loadtests/audit.py).

    python -m loadtests.compare [--shape spike|ramp | --scenario NAME] [--repeats N] [--quick]
"""
import argparse
import contextlib
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

from loadtests import scenarios, scrape
from loadtests.sampler import ResourceSampler, window
from loadtests.verdicts import scenario_of
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
    if shape == "steady":
        return opts["steady-before"] + opts["steady-fault"] + opts["steady-after"]
    steps = (opts["ramp-max-users"] - opts["ramp-start"]) // opts["ramp-step"] + 2
    return steps * opts["ramp-step-seconds"]


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=5).stdout.strip() or "-"
    except (OSError, subprocess.SubprocessError):
        return "-"


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
    commit = git_commit()
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


@contextlib.contextmanager
def pinned(cpus):
    """Run the block with this process pinned to ``cpus`` (None: as it is); processes started
    inside inherit the pinning."""
    before = os.sched_getaffinity(0) if cpus else None
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        if before:
            os.sched_setaffinity(0, before)


class Timeline:
    """Runs a scenario's actions at their times, counted from the moment Locust's shape clock
    started (the recorder writes it next to the run file). Actions run in the caller's (main)
    thread, even those that block (a restart): a process started from a short-lived thread
    would be killed when that thread ends (the launcher's PR_SET_PDEATHSIG follows the thread
    that forked, not the process). Locust keeps running meanwhile; only the progress line waits."""

    def __init__(self, sut, actions: list, times: dict[str, float], started_file: Path, cpus=None):
        self.sut, self.started_file, self.cpus = sut, started_file, cpus
        self.pending = sorted(actions, key=lambda a: times[a.at])
        self.times = times
        self.t0: float | None = None
        self.events: list[dict] = []

    def poll(self) -> None:
        if self.t0 is None:
            try:
                self.t0 = float(self.started_file.read_text())
            except (OSError, ValueError):
                return
        now = time.time() - self.t0
        while self.pending and self.times[self.pending[0].at] <= now:
            action = self.pending.pop(0)
            event = {"t": round(now, 2), "label": action.label}
            self.events.append(event)
            self._run(action, event)
            now = time.time() - self.t0

    def _run(self, action, event) -> None:
        try:
            with pinned(self.cpus):  # a process (re)started by the action runs on the SUT's CPUs
                result = action.run(self.sut)
            if isinstance(result, (int, float, str)):
                event["result"] = result
        except Exception as err:  # the run goes on; the report says the action failed
            event["error"] = f"{type(err).__name__}: {err}"
        event["done_t"] = round(time.time() - self.t0, 2)
        print(f"    {event['t']:6.1f}s  {action.label}" + (f"  FAILED: {event['error']}" if "error" in event else ""),
              flush=True)

    def join(self, timeout: float = 120) -> None:
        """Kept for callers; actions already ran in the caller's thread."""


def run_one(target: str, shape: str, opts: dict, out: Path, label: str, sut_cpus, locust_cpus,
            scenario: "scenarios.Scenario | None" = None) -> dict:
    data_dir = out / "data" / label
    env = base_env(len(sut_cpus) if sut_cpus else None)
    if scenario is not None:
        env.update(scenario.env.get(target, {}))
        # Checkouts cut short by a dying worker are undone this long after they started.
        env.setdefault("SHOP_CHECKOUT_RECOVER_AFTER_MS", "5000")
    sut = SUTS[target](data_dir, env)
    with pinned(sut_cpus):   # the deployment's processes inherit this
        sut.start()
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
    timeline = Timeline(sut, scenario.actions.get(target, []) if scenario else [],
                        scenario.action_times(opts) if scenario else {}, Path(f"{run_file}.started"),
                        sut_cpus)
    sampler = ResourceSampler(sut.roots).start()  # asks again each time: a restart changes the pids
    started = time.monotonic()
    total = expected_seconds(shape, opts) + 5
    try:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=preexec)
        generator = ResourceSampler({"locust": proc.pid}).start()  # was the load generator the limit?
        deadline = started + total * 2 + 120   # bounded whatever happens
        last_progress = started
        while proc.poll() is None:
            time.sleep(0.25)
            timeline.poll()
            if time.monotonic() - last_progress >= 5:
                last_progress = time.monotonic()
                _progress(label, time.monotonic() - started, total, raw / f"{label}_stats_history.csv", sampler)
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"locust did not finish in time for {label}; see {log.name}")
        timeline.join()
        resources = sampler.stop()
        generator_use = generator.stop()
        metrics_after = scrape.scrape(sut.metrics_urls())
        books = scenarios.settle_and_audit(sut, data_dir, target, wait_s=30)
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
    run["events"] = timeline.events
    run["audit"] = books
    run["resilience"] = scrape.outcomes(metrics_before, metrics_after)
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


def report_notes(runs: dict[str, list[dict]]) -> list[str]:
    notes = ["One machine: the system under test and the load generator share the host, "
             "pinned to separate CPUs where possible. Differences under ~20% are noise here.",
             "CPU seconds and memory cover every process of the deployment (gunicorn masters and workers), "
             "during the load only (startup and the shoppers' logins prepared before the run are excluded)."]
    peak_gen = max((r.get("generator", {}).get("peak_cpu_percent", 0) for rs in runs.values() for r in rs),
                   default=0)
    notes.append(f"Load generator (Locust) CPU: highest one-second reading {peak_gen:.0f}% of one core"
                 + (" - near its limit: the highest loads may be understated." if peak_gen >= 90 else
                    " - it was not the limit."))
    return notes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(DEFAULTS), default="spike")
    parser.add_argument("--scenario", choices=sorted(scenarios.SCENARIOS), default="",
                        help="a scenario (its own shape, faults and verdicts); overrides --shape")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a short run (under 2 minutes) for smoke tests")
    parser.add_argument("--targets", default="monolith,microservices")
    parser.add_argument("--out", default="", help="results folder (default results/<timestamp>-<shape>)")
    parser.add_argument("--rebuild", metavar="FOLDER", default="",
                        help="no load: recompute the verdicts and the report of an earlier run from its summary.json")
    args = parser.parse_args(argv)
    if args.rebuild:
        return rebuild(Path(args.rebuild))

    scenario = scenarios.SCENARIOS[args.scenario] if args.scenario else None
    if scenario is not None:
        args.shape = scenario.shape
        opts = scenario.opts(args.quick)
    else:
        opts = dict((QUICK if args.quick else DEFAULTS)[args.shape])
    name = scenario.name if scenario else args.shape
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or PROJECT_ROOT / "results" / f"{stamp}-{name}{'-quick' if args.quick else ''}")
    (out / "logs").mkdir(parents=True, exist_ok=True)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    sut_cpus, locust_cpus = cpu_split()
    per_run = expected_seconds(args.shape, opts)
    print(f"comparing {', '.join(targets)}: {name} ({args.shape} shape), {args.repeats} repeat(s), "
          f"about {per_run:.0f}s of load each; results in {out}", flush=True)

    runs: dict[str, list[dict]] = {t: [] for t in targets}
    workers = {}
    for r in range(1, args.repeats + 1):
        order = targets if r % 2 else list(reversed(targets))  # alternate, so drift hits both alike
        for target in order:
            run = run_one(target, args.shape, opts, out, f"{target}-{r}", sut_cpus, locust_cpus, scenario)
            runs[target].append(run)
            workers.update({f"{target}/{k}": v for k, v in run["workers"].items()})

    environment = environment_info(args.shape, opts, sut_cpus, locust_cpus, workers)
    if scenario is not None:
        environment["scenario"] = f"{scenario.name}: {scenario.claim}"
    return finish(out, name, scenario, args.shape, environment, runs)


def finish(out: Path, name: str, scenario, shape: str, environment: dict, runs: dict[str, list[dict]]) -> int:
    """The verdicts, summary.json and report.html of finished runs, and the terminal summary."""
    heads = {t: headline(rs) for t, rs in runs.items()}
    verdicts = (scenario or scenarios.SCENARIOS["spike"]).verdicts(runs) if (scenario or shape == "spike") else []
    audits = {t: [(r.get("audit") or {}).get("ok") for r in rs] for t, rs in runs.items()}
    from loadtests import report
    notes = report_notes(runs)
    preface = scenarios.section(scenario or scenarios.SCENARIOS["spike"], verdicts, runs) if verdicts else ""
    path = report.build(runs, out, title=f"Monolith vs microservices: {name}", environment=environment,
                        notes=notes, preface=preface)
    (out / "summary.json").write_text(json.dumps(  # last: a failure above leaves the old one
        {"environment": environment, "scenario": name, "verdicts": verdicts, "audits_ok": audits,
         "headline": heads, "runs": runs}, indent=1))
    print("\n" + terminal_table(heads))
    for v in verdicts:
        values = ", ".join(f"{t} {v['values'].get(t)}" for t in ("monolith", "microservices"))
        print(f"  {v['measure']}: {values} -> better: {v['better']}")
    for t, oks in audits.items():
        print(f"  audit {t}: " + ", ".join({True: "consistent", False: "FINDINGS (see the report)",
                                             None: "not audited"}[ok] for ok in oks))
    for t, rs in runs.items():
        down = sorted({n for r in rs for n, ok in ((r.get("audit") or {}).get("health") or {}).items() if not ok})
        if down:
            print(f"  {t}: NOT answering after the run: {', '.join(down)}")
    print(f"\nreport: {path}\nsummary: {out / 'summary.json'}")
    return 0


def rebuild(out: Path) -> int:
    """Recompute the verdicts and rewrite the report of an earlier comparison from its
    summary.json, with this version's analysis (no new load is run)."""
    if not (out / "summary.json").is_file():
        print(f"no summary.json in {out}: nothing to rebuild", file=sys.stderr)
        return 2
    summary = json.loads((out / "summary.json").read_text())
    environment = summary["environment"]
    name = scenario_of(summary)
    scenario = scenarios.SCENARIOS.get(name)   # none for the ramp: no verdicts
    shape = scenario.shape if scenario else environment.get("shape", name)
    environment["report rebuilt"] = f"{dt.datetime.now():%Y-%m-%d %H:%M} at commit {git_commit()}, from summary.json"
    return finish(out, name, scenario, shape, environment, summary["runs"])


if __name__ == "__main__":
    sys.exit(main())
