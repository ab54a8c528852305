"""`make compare`: the same load shape (or scenario) against each deployment in turn, then one report.

For each repeat and each target: a fresh data directory (same deterministic seed), the
deployment started on free ports, the system under test and Locust pinned to separate CPUs
where the machine has at least two, the system under test's CPU capped below one core (a
cgroup quota, ``--sut-cpu``; where cgroups cannot be written the run says so and uses the
whole core), CPU and memory of every process of the deployment sampled each second, Locust
run headless with the chosen shape. Then ``report.html``, ``summary.json`` and the raw CSVs
go to ``results/<timestamp>-<shape>/``.

The load is the open model by default (arrivals per second: loadtests/shapes.py). Before the
spike, each deployment's capacity is measured with a short open-model step test (the highest
rate whose p95 stays under the SLO with errors under 1%); both deployments then get the same
absolute schedule, sized from those capacities (``spike_schedule``): the baseline at 25% of
the lower capacity, the peak at 10x the baseline, capped at 2x the higher capacity. Explicit
``--baseline-rps`` / ``--peak-rps`` override it.

A scenario (loadtests/scenarios.py: spike, spike-scaled, slow-payment, billing-down,
redeploy) adds what happens mid-run (faults injected, a service killed or restarted, at the
phase boundaries), the worker counts of each deployment, and a verdict per claim. Every run
ends with an audit of the deployment's books (loadtests/audit.py).

    python -m loadtests.compare [--shape spike|ramp | --scenario NAME] [--repeats N] [--quick]
                                [--model open|closed] [--sut-cpu CORES] [--baseline-rps R --peak-rps R]
"""
import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from loadtests import arrivals, cgroups, report_numbers, scenarios, scrape
from loadtests.sampler import ResourceSampler, window
from loadtests.verdicts import scenario_of
from loadtests.sut import SUTS, base_env
from shop.web.settings import PROJECT_ROOT

# The closed model (--model closed): N users, each waiting for its answer, then thinking.
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
# The open model (the default): arrivals per second.
OPEN = {"model": "open", "slo-ms": 250, "max-in-flight": 1000, "request-timeout": 10, "shoppers": 250}
OPEN_QUICK = {**OPEN, "shoppers": 12}
CAPACITY = {"shape": "ramp", "ramp-start-rps": 50, "ramp-factor": 1.2, "ramp-step-seconds": 8,
            "ramp-max-rps": 4000, "ramp-max-error-pct": 1.0}
CAPACITY_QUICK = {"shape": "ramp", "ramp-start-rps": 25, "ramp-factor": 2.0, "ramp-step-seconds": 3,
                  "ramp-max-rps": 3200, "ramp-max-error-pct": 1.0}
SPIKE_TIMES = {"spike-warmup": 30, "spike-rise": 5, "spike-hold": 60, "spike-cooldown": 60}
SPIKE_RATES_QUICK = {"baseline-rps": 10, "peak-rps": 100}   # a quick run without the capacity test
SPIKE_TIMES_QUICK = {"spike-warmup": 6, "spike-rise": 2, "spike-hold": 8, "spike-cooldown": 8}
# How the spike is sized from the measured capacities (spike_schedule).
BASELINE_SHARE = 0.25       # baseline: this share of the lower capacity
SPIKE_FACTOR = 10           # peak: this many times the baseline (the holiday story) ...
PEAK_CAP = 2.0              # ... but at most this many times the higher capacity
SUT_CPU = 0.5               # cores the system under test may use (a cgroup quota)
START_TIMEOUT_S = 180       # at most this long for a deployment to start (a bound: starting waits for /healthz)
SUT_CPU_PERIOD_US = 10_000  # a short quota period: see cap_note()
MEASURED_WEIGHT = 8         # the system under test's CPU weight against other processes (8x)
LOCUST_NICE = -5            # and the load generator's priority (root only; others keep theirs)
PACKAGES = ["flask", "werkzeug", "gunicorn", "locust", "urllib3", "requests", "psutil"]


def cpu_split() -> tuple[set[int] | None, set[int] | None]:
    """(CPUs for the system under test, CPUs for Locust); None where there is nothing to split."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return None, None
    return set(cpus[:-1]), {cpus[-1]}


def expected_seconds(shape: str, opts: dict) -> float:
    if shape == "ramp" and "ramp-start-rps" in opts:
        rates = arrivals.step_rates(opts["ramp-start-rps"], opts["ramp-factor"], opts["ramp-max-rps"])
        return len(rates) * opts["ramp-step-seconds"]
    if shape == "spike":
        return opts["spike-warmup"] + opts["spike-rise"] + opts["spike-hold"] + opts["spike-cooldown"]
    if shape == "steady":
        return opts["steady-before"] + opts["steady-fault"] + opts["steady-after"]
    steps = (opts["ramp-max-users"] - opts["ramp-start"]) // opts["ramp-step"] + 2
    return steps * opts["ramp-step-seconds"]


def spike_schedule(capacities: dict[str, float | None], below_first: float | None = None) -> dict:
    """The same absolute spike for every deployment, from their measured capacities. A
    deployment that held not even the first step counts as ``below_first`` (the step below it)."""
    known = [c if c else below_first for c in capacities.values()]
    known = [c for c in known if c]
    if not known:
        raise RuntimeError("no deployment held even the capacity test's first step: nothing to size the spike from")
    low, high = min(known), max(known)
    baseline = round(BASELINE_SHARE * low, 1)
    peak = round(min(SPIKE_FACTOR * baseline, PEAK_CAP * high), 1)
    return {"baseline-rps": baseline, "peak-rps": peak}


class CpuCap:
    """The system under test's CPU limit for one run (a cgroup quota), or none where cgroups
    cannot be written (the reason is kept for the report). The deployment starts in the group
    without a limit and the quota is applied when the load starts (``apply``): the shoppers'
    logins before the run (deliberately slow password hashing, outside the measurement) need
    not crawl under it."""

    def __init__(self, cores: float | None, name: str):
        self.cores, self.group, self.reason, self.applied = cores, None, None, False
        if not cores:
            self.reason = "no CPU limit asked for (--sut-cpu 0)"
            return
        self.reason = cgroups.unavailable()
        if self.reason is None:
            self.group = cgroups.CpuGroup(name, period_us=SUT_CPU_PERIOD_US)
            # Whatever else runs on the machine gets less of the CPU than the system under test.
            self.group.set_weight(MEASURED_WEIGHT)

    def apply(self) -> None:
        if self.group and not self.applied:
            self.group.set_limit(self.cores)
            self.applied = True

    def lift(self) -> None:
        """The load is over: checking health and the books after it need not crawl either."""
        if self.group:
            self.group.set_limit(None)

    def entered(self):
        return self.group.entered() if self.group else contextlib.nullcontext()

    def describe(self) -> str:
        if self.group is None:
            return f"none: {self.reason}"
        return f"{self.cores:g} core (cgroup CPU quota, {SUT_CPU_PERIOD_US // 1000} ms period)"

    def throttling(self) -> dict | None:
        return self.group.throttling() if self.group else None

    def close(self):
        if self.group:
            self.group.close()


class NodeCap:
    """The CPU limits of the autoscaling scenario: a node in a box (loadtests/autoscaler.py)
    instead of one quota for the whole deployment. Each deployable gets its own cgroup, with
    replicas x its manifest's request (limit = request), and, with ``autoscale``, an HPA
    following deploy/k8s's policies, within the node's CPU budget. Same calls as CpuCap: the
    node starts with the load (``apply``) and its report is taken when the load ends (``lift``)."""

    def __init__(self, kind, spec: dict):
        """``kind``: the deployment's SUT class (its name and processes); ``sut`` is set once made."""
        from loadtests import autoscaler, manifests
        self.sut, self.spec, self.node, self.report = None, spec, None, None
        self.cores = spec["budget"]
        self.deployables = {n: d for n, d in manifests.read(kind.name).items() if n in kind.processes}
        if spec.get("time_factor"):
            self.deployables = manifests.time_scaled(self.deployables, spec["time_factor"])
        self.env = autoscaler.start_env(self.deployables)   # start at the minimum replicas
        self.applied = False

    def entered(self):
        return contextlib.nullcontext()

    def apply(self) -> None:
        from loadtests import autoscaler
        if not self.applied:
            self.applied = True
            self.node = autoscaler.Node(self.sut, self.deployables, budget=self.spec["budget"],
                                        sync_s=self.spec["sync_s"], autoscale=self.spec["autoscale"],
                                        period_us=self.spec.get("period_us", cgroups.PERIOD_US),
                                        name=f"compare-{os.getpid()}-{self.sut.name}")
            self.node.start()
            for group in self.node.groups.values():   # as CpuCap: ahead of the machine's other processes
                group.set_weight(MEASURED_WEIGHT)

    def throttling(self) -> dict | None:
        return None   # per deployable, in the node's timeline

    def lift(self) -> None:
        if self.node is not None and self.report is None:
            self.report = self.node.stop()   # the processes leave their groups, without limits

    def describe(self) -> str:
        mode = "autoscaled (HPA)" if self.spec["autoscale"] else "fixed at the minimum replicas"
        return (f"a node of {self.cores:g} core: each deployable in its own cgroup, replicas x its request "
                f"(limit = request), {self.spec.get('period_us', cgroups.PERIOD_US) // 1000} ms period, {mode}")

    def close(self) -> None:
        self.lift()

    @property
    def group(self):
        return self.node


def cap_note(cap_text: str) -> str:
    return (f"CPU limit of the system under test: {cap_text}. One Locust core can generate about what one "
            "core of the monolith serves, so the shop gets less than a core to be pushed past its capacity. "
            f"The quota period is {SUT_CPU_PERIOD_US // 1000} ms, not Kubernetes' 100 ms: with 100 ms, bursts "
            "within a period are throttled for tens of milliseconds, which on this load halves what a "
            "deployment serves within the SLO (measured on the monolith at 0.5 core: about 260 against "
            "540 requests/s).")


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


def _progress(label: str, elapsed: float, total: float, history_csv: Path, sampler: ResourceSampler,
              schedule=None, started_file: Path | None = None):
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
    line = f"  {label:<22} [{bar:<20}] {elapsed:4.0f}/{total:.0f}s  "
    if schedule is None:
        line += f"users {users:>4}  req/s {rps:>5}  p95 {p95:>5} ms"
    else:   # the open model: the recorder's exact numbers of the last whole second
        try:
            last = json.loads(Path(f"{started_file}".removesuffix(".started") + ".progress").read_text())
            line += (f"offered {last['offered']:>5}/s  ended {last['requests']:>5}/s  good {last['good']:>5}/s  "
                     f"p95 {last['p95_ms']:6.0f} ms  errors {last['error_pct']:4.1f}%")
        except (OSError, ValueError, KeyError):
            line += "signing in shoppers, or starting" if not started_file.exists() else "starting"
    print(f"{line}  SUT CPU {cpu:5.0f}%", flush=True)


def why_no_results(log: Path) -> str:
    """One line saying why a Locust run wrote no results, from the end of its log."""
    try:
        lines = [line.strip() for line in log.read_text().splitlines() if line.strip()]
    except OSError:
        return f"its log {log} is missing"
    for line in reversed(lines):
        if "Error" in line or "error" in line or "Traceback" in line:
            return f"{line[-300:]} (see {log})"
    return f"see {log}"


@contextlib.contextmanager
def placed(cpus, cap: "CpuCap | None" = None):
    """Processes started inside run on ``cpus`` and under ``cap`` (see pinned, CpuCap)."""
    with cgroups.pinned(cpus), (cap.entered() if cap else contextlib.nullcontext()):
        yield


class Timeline:
    """Runs a scenario's actions at their times, counted from the moment Locust's shape clock
    started (the recorder writes it next to the run file). Actions run in the caller's (main)
    thread, even those that block (a restart): a process started from a short-lived thread
    would be killed when that thread ends (the launcher's PR_SET_PDEATHSIG follows the thread
    that forked, not the process). Locust keeps running meanwhile; only the progress line waits."""

    def __init__(self, sut, actions: list, times: dict[str, float], started_file: Path, placed=None):
        self.sut, self.started_file = sut, started_file
        self.placed = placed or contextlib.nullcontext  # where (re)started processes must run
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
            with self.placed():  # a process (re)started by the action runs on the SUT's CPUs, under its cap
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
            scenario: "scenarios.Scenario | None" = None, cap_cores: float | None = None,
            env_extra: dict | None = None, node: dict | None = None) -> dict:
    data_dir = out / "data" / label
    env = base_env(len(sut_cpus) if sut_cpus else None)
    # The scenarios scale, restart and cap the gateway's gunicorn workers (spike-scaled,
    # autoscale): the Python gateway, unless GATEWAY says otherwise (`make bench` has both).
    env.setdefault("GATEWAY", "python")
    if scenario is not None:
        env.update(scenario.env.get(target, {}))
        # Checkouts cut short by a dying worker are undone this long after they started.
        env.setdefault("SHOP_CHECKOUT_RECOVER_AFTER_MS", "5000")
    env.update(env_extra or {})
    if node is not None:   # the autoscaling scenario: the deployment starts at its minimum replicas
        cap = NodeCap(SUTS[target], node)
        env = {**env, **cap.env}
    else:
        cap = CpuCap(cap_cores, f"compare-{os.getpid()}-{label}")
    sut = cap.sut = SUTS[target](data_dir, env)
    try:
        for attempt in range(3):
            try:
                with placed(sut_cpus, cap):   # the deployment's processes inherit both
                    sut.start(START_TIMEOUT_S)
                break
            except Exception as err:  # a free port taken meanwhile by another process: new ports
                if "Address already in use" not in str(err) or attempt == 2:
                    raise
                print(f"  {label}: a port was taken before the deployment could bind it; again on other ports",
                      flush=True)
                sut.stop()
                sut = cap.sut = SUTS[target](data_dir, env)
        return _load(target, shape, opts, out, label, sut, cap, data_dir, locust_cpus, sut_cpus, scenario)
    finally:
        sut.stop()
        cap.close()


def _load(target, shape, opts, out, label, sut, cap, data_dir, locust_cpus, sut_cpus, scenario) -> dict:
    raw = out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    run_file = out / "runs" / f"{label}.json"
    for stale in (Path(f"{run_file}.started"), Path(f"{run_file}.progress")):   # an earlier run into this folder
        stale.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "locust", "-f", str(PROJECT_ROOT / "loadtests" / "locustfile.py"),
           "--headless", "--only-summary", "--exit-code-on-error", "0", "--stop-timeout", "5",
           "--target", target, f"--{target}-url", sut.url, "--shape", shape,
           "--run-file", str(run_file), "--csv", str(raw / label), "--csv-full-history",
           "--results-dir", str(out), "--tokens-file", str(out / f"tokens-{target}.json")]
    for key, value in opts.items():
        if key != "shape":
            cmd += [f"--{key}", str(value)]
    log = open(out / "logs" / f"{label}-locust.log", "w")
    def preexec():
        if locust_cpus:
            os.sched_setaffinity(0, locust_cpus)
        try:   # a busy machine disturbs the load generator less (root only; else it keeps its priority)
            os.setpriority(os.PRIO_PROCESS, 0, LOCUST_NICE)
        except OSError:
            pass
    metrics_before = scrape.scrape(sut.metrics_urls())
    timeline = Timeline(sut, scenario.actions.get(target, []) if scenario else [],
                        scenario.action_times(opts) if scenario else {}, Path(f"{run_file}.started"),
                        lambda: placed(sut_cpus, cap))
    sampler = ResourceSampler(sut.roots).start()  # asks again each time: a restart changes the pids
    started = time.monotonic()
    total = expected_seconds(shape, opts) + 5
    rate = arrivals.schedule_for(argparse.Namespace(**{k.replace("-", "_"): v for k, v in {"shape": shape, **opts}.items()})) \
        if opts.get("model") == "open" else None
    proc = None
    try:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=preexec)
        generator = ResourceSampler({"locust": proc.pid}).start()  # was the load generator the limit?
        deadline = started + total * 2 + 120   # bounded whatever happens
        last_progress = started
        while proc.poll() is None:
            time.sleep(0.25)
            if Path(f"{run_file}.started").exists():   # the load (the shape's clock) has started
                cap.apply()
            timeline.poll()
            if time.monotonic() - last_progress >= 5:
                last_progress = time.monotonic()
                _progress(label, time.monotonic() - started, total, raw / f"{label}_stats_history.csv", sampler,
                          rate, Path(f"{run_file}.started"))
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"locust did not finish in time for {label}; see {log.name}")
        timeline.join()
        resources = sampler.stop()
        generator_use = generator.stop()
        metrics_after = scrape.scrape(sut.metrics_urls())
        throttling = cap.throttling()
        cap.lift()
        books = scenarios.settle_and_audit(sut, data_dir, target, wait_s=30)
    finally:
        if proc is not None and proc.poll() is None:   # interrupted: Locust must not outlive the run
            proc.kill()
            proc.wait()
        if sampler._thread.is_alive():
            sampler.stop()
        log.close()
    if not run_file.exists():
        raise RuntimeError(f"locust wrote no results for {label}: {why_no_results(out / 'logs' / (label + '-locust.log'))}")
    run = json.loads(run_file.read_text())
    if run.get("started_epoch"):
        resources = window(resources, run["started_epoch"], run["duration_s"])
    requests = run["totals"]["all"]["requests"]
    resources["cpu_ms_per_request"] = round(1000 * resources["cpu_seconds"] / requests, 3) if requests else None
    run["resources"] = resources
    run["timings"] = scrape.timings(metrics_before, metrics_after)  # from the deployment's own metrics
    gen_window = window(generator_use, run["started_epoch"], run["duration_s"]) if run.get("started_epoch") else generator_use
    gen_cpu = [r["cpu_percent"] for r in gen_window["timeline"]] or [0.0]
    generator = run.setdefault("generator", {})   # what Locust measured of itself (summary.generator_use)
    generator["inside_peak_cpu_percent"] = generator.get("peak_cpu_percent")
    # Read from outside (all its processes together); the larger of the two is reported.
    generator["outside_peak_cpu_percent"] = max(gen_cpu)
    generator["peak_cpu_percent"] = max(gen_cpu + [generator.get("peak_cpu_percent") or 0])
    generator["avg_cpu_percent"] = round(sum(gen_cpu) / len(gen_cpu), 1)
    run["cpu_limit"] = {"cores": cap.cores if cap.group else None, "described": cap.describe(),
                        "throttling": throttling}
    if isinstance(cap, NodeCap):
        run["node"] = cap.report
    run["workers"] = sut.workers()
    run["events"] = timeline.events
    run["audit"] = books
    run["resilience"] = scrape.outcomes(metrics_before, metrics_after)
    run_file.write_text(json.dumps(run))
    return run


def headline(runs: list[dict]) -> dict:
    """The median of each headline number over the repeats, with its min and max, keyed by the
    report's labels: the one list is ``report_numbers.HEADLINE``."""
    heads = {}
    for metric in report_numbers.HEADLINE:
        cell = report_numbers.cell_for(runs, metric)
        if cell.values:
            heads[metric.label] = {"median": round(cell.median, 2), "min": cell.low, "max": cell.high}
    heads["repeats"] = len(runs)
    return heads


def terminal_table(runs: dict[str, list[dict]]) -> str:
    """The report's headline table as text: a row per number, a column per deployment, the ratio
    and which is better (the report's own noise rules)."""
    rows = report_numbers.headline_rows(runs)
    targets = report_numbers.ordered_targets(runs)
    width = max((len(r.label) for r in rows), default=10)
    lines = [f"{'':<{width}}" + "".join(f"{t:>15}" for t in targets) + f"{'ratio':>16}  better"]
    for row in rows:
        cells = "".join(f" {report_numbers.cell_text(row.cells[t], row.metric)['main']:>14}" for t in targets)
        lines.append(f"{row.label:<{width}}{cells} {row.ratio:>15}  {row.better}")
    return "\n".join(lines)


def report_notes(runs: dict[str, list[dict]], environment: dict | None = None) -> list[str]:
    environment = environment or {}
    notes = ["One machine: the system under test and the load generator share the host, "
             "pinned to separate CPUs where possible. Differences under ~20% are noise here.",
             "CPU seconds and memory cover every process of the deployment (gunicorn masters and workers), "
             "during the load only (startup and the shoppers' logins prepared before the run are excluded)."]
    if environment.get("CPU limit of the system under test"):
        notes.append(cap_note(environment["CPU limit of the system under test"]))
    peak_gen = max((r.get("generator", {}).get("peak_cpu_percent") or 0 for rs in runs.values() for r in rs),
                   default=0)
    saturated = [f"{t} run {i}" for t, rs in runs.items() for i, r in enumerate(rs, 1)
                 if (r.get("generator") or {}).get("saturated")]
    text = f"Load generator (Locust) CPU: highest one-second reading {peak_gen:.0f}% of one core"
    if saturated:
        text += (f" - it was the limit in {', '.join(saturated)}: it sent requests late or ran out of CPU for "
                 "3 seconds or more, so the load offered there was less than the shape asked for.")
    elif peak_gen >= 90:
        text += " - near its limit: the highest loads may be understated."
    else:
        text += " - it was not the limit."
    notes.append(text)
    return notes


def main(argv=None) -> int:
    # SIGTERM (kill, a CI timeout) unwinds like Ctrl-C: every started deployment and Locust is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(DEFAULTS), default="spike")
    parser.add_argument("--scenario", choices=sorted(scenarios.SCENARIOS), default="",
                        help="a scenario (its own shape, faults and verdicts); overrides --shape")
    parser.add_argument("--model", choices=arrivals.MODELS, default="open",
                        help="open: arrivals per second (the default); closed: N users who wait for each answer")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a short run (under 2 minutes) for smoke tests")
    parser.add_argument("--targets", default="monolith,microservices")
    parser.add_argument("--sut-cpu", type=float, default=SUT_CPU,
                        help=f"cores the system under test may use (a cgroup quota; default {SUT_CPU}, 0: no limit)")
    parser.add_argument("--baseline-rps", type=float, default=None, help="open spike: the baseline rate, instead "
                        "of 25%% of the lower measured capacity")
    parser.add_argument("--peak-rps", type=float, default=None, help="open spike: the peak rate, instead of 10x "
                        "the baseline capped at 2x the higher capacity")
    parser.add_argument("--steady-rps", type=float, default=None, help="open steady scenarios: the rate before and "
                        "after the fault, instead of one sized from the capacities")
    parser.add_argument("--fault-rps", type=float, default=None, help="open steady scenarios: the rate during the "
                        "fault phase (overload: instead of 2x each deployment's capacity)")
    parser.add_argument("--no-capacity", action="store_true", help="skip the capacity step test (then give the "
                        "rates explicitly; the report has no capacity to compare them with)")
    parser.add_argument("--capacity-from", metavar="SUMMARY", default="",
                        help="take each deployment's capacity from an earlier run's summary.json instead of "
                             "measuring it again (the same SLO and CPU limit: it is checked)")
    parser.add_argument("--slo-ms", type=float, default=OPEN["slo-ms"], help="the latency target (p95) in ms")
    parser.add_argument("--admission", choices=["on", "off"], default="on",
                        help="the deployments' admission control (load shedding): off to see its effect")
    parser.add_argument("--out", default="", help="results folder (default results/<timestamp>-<shape>)")
    parser.add_argument("--rebuild", metavar="FOLDER", default="",
                        help="no load: recompute the verdicts and the report of an earlier run from its summary.json")
    args = parser.parse_args(argv)
    if args.rebuild:
        return rebuild(Path(args.rebuild))

    scenario = scenarios.SCENARIOS[args.scenario] if args.scenario else None
    if scenario is not None and scenario.node and cgroups.unavailable():
        print(f"The {scenario.name} scenario cannot run here: {cgroups.unavailable()}.", file=sys.stderr)
        return 2
    if scenario is None and args.shape == "spike":
        scenario = scenarios.SCENARIOS["spike"]
    if scenario is not None:
        args.shape = scenario.shape
    name = scenario.name if scenario else args.shape
    suffix = ("-quick" if args.quick else "") + ("-closed" if args.model == "closed" else "") + \
        ("-no-admission" if args.admission == "off" else "")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or PROJECT_ROOT / "results" / f"{stamp}-{name}{suffix}")
    (out / "logs").mkdir(parents=True, exist_ok=True)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    sut_cpus, locust_cpus = cpu_split()
    env_extra = {"SHOP_ADMISSION": "0" if args.admission == "off" else "1"}
    cap_reason = cgroups.unavailable() if args.sut_cpu else "no CPU limit asked for (--sut-cpu 0)"
    cap = None if cap_reason else args.sut_cpu
    if cap_reason and args.sut_cpu:
        print(f"note: {cap_reason}", flush=True)

    capacity_runs, capacities = {}, {}
    if args.capacity_from and args.model == "open" and needs_capacity(scenario, args):
        capacity_runs, capacities = earlier_capacities(Path(args.capacity_from), targets, args.slo_ms, cap)
    elif args.model == "open" and needs_capacity(scenario, args):
        capacity_opts = {**(OPEN_QUICK if args.quick else OPEN), **(CAPACITY_QUICK if args.quick else CAPACITY),
                         "slo-ms": args.slo_ms}
        print(f"measuring each deployment's capacity (open-model step test, SLO p95 {args.slo_ms:g} ms, "
              f"errors < {capacity_opts['ramp-max-error-pct']:g}%); results in {out}", flush=True)
        for target in targets:
            run = run_one(target, "ramp", capacity_opts, out, f"{target}-capacity", sut_cpus, locust_cpus,
                          None, cap, env_extra)
            capacity_runs[target] = run
            capacities[target] = (run.get("capacity") or {}).get("rps")
            print(f"  {target}: capacity {capacities[target]} req/s ({run.get('stop_reason')})", flush=True)

    per_target = {t: load_options(scenario, args, capacities, t) for t in targets}
    shape = args.shape
    per_run = expected_seconds(shape, per_target[targets[0]])
    print(f"comparing {', '.join(targets)}: {name} ({args.model} model, {shape} shape), {args.repeats} repeat(s), "
          f"about {per_run:.0f}s of load each; results in {out}", flush=True)
    if args.model == "open":
        for t in targets:
            rates = {k: v for k, v in per_target[t].items() if k.endswith("-rps")}
            print(f"  {t}: " + ", ".join(f"--{k} {v:g}" for k, v in rates.items()), flush=True)

    runs: dict[str, list[dict]] = {t: [] for t in targets}
    fixed_runs: dict[str, list[dict]] = {t: [] for t in targets}
    workers = {}
    for r in range(1, args.repeats + 1):
        order = targets if r % 2 else list(reversed(targets))  # alternate, so drift hits both alike
        for target in order:
            if scenario is not None and scenario.node:
                # The same spike on the node in a box, without and with the autoscaler.
                for autoscale in ((False, True) if r % 2 else (True, False)):
                    spec = node_spec(args.quick, autoscale)
                    label = f"{target}-{r}-{'autoscaled' if autoscale else 'fixed'}"
                    run = run_one(target, shape, per_target[target], out, label, sut_cpus, locust_cpus,
                                  scenario, None, env_extra, node=spec)
                    run["capacity_rps"] = capacities.get(target)
                    (runs if autoscale else fixed_runs)[target].append(run)
                continue
            run = run_one(target, shape, per_target[target], out, f"{target}-{r}", sut_cpus, locust_cpus,
                          scenario, cap, env_extra)
            run["capacity_rps"] = capacities.get(target)
            runs[target].append(run)
            workers.update({f"{target}/{k}": v for k, v in run["workers"].items()})

    environment = environment_info(shape, per_target[targets[0]], sut_cpus, locust_cpus, workers)
    environment["load model"] = args.model
    environment["CPU limit of the system under test"] = (f"{cap:g} core (cgroup quota, {SUT_CPU_PERIOD_US // 1000} ms "
                                                         "period)" if cap else f"none: {cap_reason}")
    environment["admission control"] = args.admission
    if "microservices" in targets:
        environment["gateway of the microservices"] = (
            os.environ.get("GATEWAY") or "python (the default here: the scenarios scale the gateway's workers; "
            "GATEWAY=envoy make compare for Envoy)")
    environment["priority"] = (f"the system under test's cgroup has {MEASURED_WEIGHT}x the default CPU weight and "
                               f"Locust runs at nice {LOCUST_NICE}, so other processes on the machine disturb "
                               "the measurement less (root only)")
    if args.quick:
        environment["QUICK"] = "a smoke run of the pipeline, not a measurement"
    if capacities:
        environment["capacity (req/s)"] = ", ".join(f"{t} {c}" for t, c in capacities.items())
    if capacity_runs and args.capacity_from:
        environment["capacity (req/s)"] += f" (measured by an earlier run: {args.capacity_from})"
    if len(targets) > 1 and args.model == "open":
        for t in targets:
            environment[f"shape options: {t}"] = ", ".join(f"--{k} {v}" for k, v in per_target[t].items()
                                                         if k.endswith("-rps"))
    if scenario is not None:
        environment["scenario"] = f"{scenario.name}: {scenario.claim}"
    if scenario is not None and scenario.node:
        environment["CPU limit of the system under test"] = (
            f"a node of {scenarios.NODE_BUDGET:g} core: each deployable its own cgroup quota, replicas x its "
            "request (deploy/k8s; limit = request), Kubernetes' 100 ms period")
        environment["autoscaler"] = (f"Kubernetes' HPA algorithm with deploy/k8s's policies, sync every "
                                     f"{node_spec(args.quick, True)['sync_s']:g} s"
                                     + (" (windows and periods x 0.2: a quick run)" if args.quick else ""))
    return finish(out, name, scenario, shape, environment, runs, capacity_runs, fixed_runs)


def earlier_capacities(summary_path: Path, targets: list[str], slo_ms: float, cap) -> tuple[dict, dict]:
    """The capacity step tests of an earlier run (its summary.json), refused unless that run had
    the same SLO and the same CPU limit of the system under test: else its capacity is another's."""
    if not summary_path.is_file():
        raise SystemExit(f"--capacity-from: no such file {summary_path}")
    summary = json.loads(summary_path.read_text())
    runs = {t: r for t, r in (summary.get("capacity_runs") or {}).items() if t in targets}
    missing = [t for t in targets if t not in runs]
    if missing:
        raise SystemExit(f"--capacity-from: {summary_path} has no capacity test of {', '.join(missing)}")
    limit = (summary.get("environment") or {}).get("CPU limit of the system under test", "")
    wanted = f"{cap:g} core" if cap else "none"
    for t, run in runs.items():
        measured_slo = (run.get("slo") or {}).get("latency_ms", slo_ms)
        if measured_slo != slo_ms:
            raise SystemExit(f"--capacity-from: {t}'s capacity was measured with an SLO of {measured_slo} ms")
    if not str(limit).startswith(wanted):
        raise SystemExit(f"--capacity-from: that run's CPU limit was '{limit}', this one's is {wanted}")
    capacities = {t: (r.get("capacity") or {}).get("rps") for t, r in runs.items()}
    for t, c in capacities.items():
        print(f"  {t}: capacity {c} req/s (from {summary_path})", flush=True)
    return runs, capacities


def node_spec(quick: bool, autoscale: bool) -> dict:
    spec = {"budget": scenarios.NODE_BUDGET, "sync_s": scenarios.NODE_SYNC_S, "autoscale": autoscale,
            "period_us": cgroups.PERIOD_US}
    if quick:
        spec.update(scenarios.NODE_QUICK)
    return spec


def needs_capacity(scenario, args) -> bool:
    """The capacity step test sizes the spike and the overload; the fault scenarios' steady
    load is sized from it too, except in a quick run (a smoke run uses a small fixed rate)."""
    if scenario is None or args.no_capacity:
        return False     # a plain ramp is itself the step test
    if args.quick:       # a smoke run: only where the pipeline under test is the sizing itself
        return scenario.name in ("spike", "overload")
    return True          # even with explicit rates: the report shows where the peak falls against each


def load_options(scenario, args, capacities: dict, target: str) -> dict:
    """The Locust options of one deployment's runs: the shape's timings and the load's size."""
    if args.model == "closed":
        if scenario is not None:
            return dict(scenario.opts(args.quick))
        return dict((QUICK if args.quick else DEFAULTS)[args.shape])
    opts = {**(OPEN_QUICK if args.quick else OPEN), "slo-ms": args.slo_ms}
    if scenario is None:       # the plain ramp: the capacity step test itself
        return {**opts, **{k: v for k, v in (CAPACITY_QUICK if args.quick else CAPACITY).items() if k != "shape"}}
    if scenario.load == "spike":
        steps = CAPACITY_QUICK if args.quick else CAPACITY
        sized = (spike_schedule(capacities, steps["ramp-start-rps"] / steps["ramp-factor"]) if capacities
                 else dict(SPIKE_RATES_QUICK))
        if args.baseline_rps is not None:
            sized["baseline-rps"] = args.baseline_rps
        if args.peak_rps is not None:
            sized["peak-rps"] = args.peak_rps
        return {**opts, **(SPIKE_TIMES_QUICK if args.quick else SPIKE_TIMES), **sized}
    timing = scenario.steady_times(args.quick)
    if scenario.load == "overload":
        own = capacities.get(target) or min((c for c in capacities.values() if c), default=None)
        if own is None and (args.steady_rps is None or args.fault_rps is None):
            raise SystemExit("overload needs the capacity test, or both --steady-rps and --fault-rps")
        sized = {"steady-rps": round(scenarios.OVERLOAD_BEFORE * own, 1),
                 "fault-rps": round(scenarios.OVERLOAD_FACTOR * own, 1)} if own else {}
    elif capacities and all(capacities.values()):
        sized = {"steady-rps": round(BASELINE_SHARE * min(capacities.values()), 1)}
    else:
        sized = {"steady-rps": scenarios.STEADY_RPS_QUICK if args.quick else scenarios.STEADY_RPS}
    if args.steady_rps is not None:
        sized["steady-rps"] = args.steady_rps
    if args.fault_rps is not None:
        sized["fault-rps"] = args.fault_rps
    return {**opts, **timing, **sized}


def finish(out: Path, name: str, scenario, shape: str, environment: dict, runs: dict[str, list[dict]],
           capacity_runs: dict | None = None, fixed_runs: dict | None = None) -> int:
    """The verdicts, summary.json and report.html of finished runs, and the terminal summary."""
    capacity_runs = capacity_runs or {}
    fixed_runs = {t: rs for t, rs in (fixed_runs or {}).items() if rs}
    for t, rs in fixed_runs.items():      # each autoscaled run meets its twin of the same repeat
        for run, twin in zip(runs.get(t, []), rs):
            run["fixed"] = twin
    heads = {t: headline(rs) for t, rs in runs.items()}
    verdicts = (scenario or scenarios.SCENARIOS["spike"]).verdicts(runs) if (scenario or shape == "spike") else []
    audits = {t: [(r.get("audit") or {}).get("ok") for r in rs] for t, rs in runs.items()}
    from loadtests import report
    notes = report_notes(runs, environment)
    preface = scenarios.section(scenario or scenarios.SCENARIOS["spike"], verdicts, runs,
                                quick=bool(environment.get("QUICK"))) if verdicts else ""
    if fixed_runs:
        from loadtests import node_report
        preface += node_report.section(runs)
    path = report.build(runs, out, title=f"Monolith vs microservices: {name}", environment=environment,
                        notes=notes, preface=preface, capacity_runs=capacity_runs)
    (out / "summary.json").write_text(json.dumps(  # last: a failure above leaves the old one
        {"environment": environment, "scenario": name, "verdicts": verdicts, "audits_ok": audits,
         "headline": heads, "runs": {t: [{k: v for k, v in r.items() if k != "fixed"} for r in rs]
                                         for t, rs in runs.items()},
         "capacity_runs": capacity_runs, "fixed_runs": fixed_runs}, indent=1))
    print("\n" + terminal_table(runs))
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
    return finish(out, name, scenario, shape, environment, summary["runs"], summary.get("capacity_runs"),
                  summary.get("fixed_runs"))


if __name__ == "__main__":
    sys.exit(main())
