"""The web UI additions (`make demo`, `make load`): what a user sees in Locust's web UI.

- **The start form.** Locust renders our options as "Custom parameters", one text field each,
  sorted by name, collapsed. ``FIELDS`` says how each is labelled and grouped, and for which
  model and shape it matters; a small script (``loadtests/static/shop-ui.js``, added to
  Locust's page) opens that section, puts the fields in their groups with their labels, shows
  only the sizes of the chosen model and shape, and hides Locust's own "Number of users" and
  "Ramp up" fields (the shape decides them) and the Host field (the Target decides the URL).
  It changes no field's name or value, so the form sends what Locust expects.
- **What the run is doing.** ``RunState``: idle, preparing (the shoppers are signed in inside
  ``test_start``, which can take a while), running, stopping (the summary is being written),
  stopped (saved; complete or stopped early). Locust's own state is "ready" while
  ``test_start`` runs, and its page goes back to the start form on "ready" and stops asking:
  so the state it is told (``/stats/requests`` and the page's template) follows ours, and a
  banner says what is happening (``/shop/status``).
- **The comparison.** Every run is saved under ``results/ui/`` (loadtests/recorder.py). The
  Comparison tab and ``/comparison`` compare the latest *complete* run of each target by
  default (a run stopped early never silently replaces one), with the report's ratios and
  its "better" rule; ``/comparison?monolith=FILE&microservices=FILE`` picks others. Both say
  when a run was not pinned to CPUs or the machine was busy: a browser run is a demo, not a
  measurement to set beside the README's.
"""
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from loadtests import report_numbers as numbers
from loadtests import targets

TARGETS = ["monolith", "microservices"]
STATIC = Path(__file__).resolve().parent / "static"
BUSY_LOAD_PER_CPU = 0.5     # a 1-minute load average above this share of the CPUs: the machine was busy
STARTING_TIMEOUT_S = 30     # a Start that never reached test_start goes back to idle
COMPARISON_TITLE = "Latest complete run of each"

# -- the start form ------------------------------------------------------------------------------
GROUPS = [("deployment", "Deployment"), ("load", "Load model and shape"), ("sizes", "Sizes"),
          ("generator", "Load generator")]
BOTH, OPEN, CLOSED = ("open", "closed"), ("open",), ("closed",)
ALL_SHAPES = ("spike", "ramp", "steady")


@dataclass(frozen=True)
class Field:
    dest: str
    label: str
    group: str
    models: tuple = BOTH
    shapes: tuple = ALL_SHAPES


FIELDS = [
    Field("target", "Target: the deployment to load (it decides the URL)", "deployment"),
    Field("model", "Model: open = visitors arrive at a rate; closed = N users who wait for each answer", "load"),
    Field("shape", "Shape: spike, ramp (steps up until the SLO breaks) or steady (three phases)", "load"),
    Field("slo_ms", "SLO: p95 latency target, ms (goodput counts ok answers within it)", "load"),
    # open model: rates
    Field("baseline_rps", "Baseline rate, requests/s (before and after the spike)", "sizes", OPEN, ("spike",)),
    Field("peak_rps", "Peak rate, requests/s", "sizes", OPEN, ("spike",)),
    Field("ramp_start_rps", "First step, requests/s", "sizes", OPEN, ("ramp",)),
    Field("ramp_factor", "Each step's rate, × the last one", "sizes", OPEN, ("ramp",)),
    Field("ramp_max_rps", "Stop at the latest at, requests/s", "sizes", OPEN, ("ramp",)),
    Field("steady_rps", "Rate, requests/s (before and after the middle phase)", "sizes", OPEN, ("steady",)),
    Field("fault_rps", "Rate in the middle phase, requests/s (0: the same)", "sizes", OPEN, ("steady",)),
    # closed model: users
    Field("spike_users", "Baseline users", "sizes", CLOSED, ("spike",)),
    Field("spike_factor", "Peak users = baseline users ×", "sizes", CLOSED, ("spike",)),
    Field("ramp_start", "Users in the first step", "sizes", CLOSED, ("ramp",)),
    Field("ramp_step", "Users added per step", "sizes", CLOSED, ("ramp",)),
    Field("ramp_max_users", "Stop at the latest at, users", "sizes", CLOSED, ("ramp",)),
    Field("ramp_max_p95_ms", "Saturated when p95 exceeds, ms", "sizes", CLOSED, ("ramp",)),
    Field("steady_users", "Users throughout", "sizes", CLOSED, ("steady",)),
    # both models: timings
    Field("spike_warmup", "Seconds at the baseline before the jump", "sizes", BOTH, ("spike",)),
    Field("spike_rise", "Seconds the jump takes", "sizes", BOTH, ("spike",)),
    Field("spike_hold", "Seconds held at the peak", "sizes", BOTH, ("spike",)),
    Field("spike_cooldown", "Seconds back at the baseline after the peak", "sizes", BOTH, ("spike",)),
    Field("ramp_step_seconds", "Seconds per step", "sizes", BOTH, ("ramp",)),
    Field("ramp_max_error_pct", "Saturated above this error rate, %", "sizes", BOTH, ("ramp",)),
    Field("steady_before", "Seconds of the first phase", "sizes", BOTH, ("steady",)),
    Field("steady_fault", "Seconds of the middle phase (nothing is injected from the browser)", "sizes", BOTH,
          ("steady",)),
    Field("steady_after", "Seconds of the last phase", "sizes", BOTH, ("steady",)),
    # the load generator
    Field("max_in_flight", "Visits in flight per load-generator process (beyond: counted as dropped)",
          "generator", OPEN),
    Field("request_timeout", "Seconds a visitor waits for an answer", "generator"),
    Field("seed", "Random seed (arrival times, the visitors' choices)", "generator"),
]


def camel(dest: str) -> str:
    """The field name Locust's form uses for an option (it camelCases them)."""
    head, *rest = dest.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def form_spec(environment) -> dict:
    """What the page's script needs: every field's label, group and when it applies, the
    groups in order, and the URL each target stands for."""
    order = {g: i for i, (g, _) in enumerate(GROUPS)}
    return {
        "groups": [{"key": g, "title": title, "order": 100 * (i + 1)} for i, (g, title) in enumerate(GROUPS)],
        "fields": [{"dest": f.dest, "name": camel(f.dest), "label": f.label, "group": f.group,
                    "order": 100 * (order[f.group] + 1) + 1 + i, "models": list(f.models), "shapes": list(f.shapes)}
                   for i, f in enumerate(FIELDS)],
        "urls": {t: url_for_target(environment, t) for t in TARGETS},
    }


# -- what the run is doing -------------------------------------------------------------------------
@dataclass
class RunState:
    """The run as the web UI shows it. Updated by the locustfile's test_start / test_stop."""
    phase: str = "idle"          # idle | starting | preparing | running | stopping | stopped | failed
    message: str = ""
    target: str = ""
    url: str = ""
    model: str = ""
    shape: str = ""
    since: float = field(default_factory=time.time)
    started: float | None = None  # when the load started (after the preparation)
    planned_s: float | None = None
    needed: int = 0
    prepared = None               # () -> shoppers signed in so far
    saved: str = ""
    complete: bool | None = None
    duration_s: float | None = None
    loadavg_start: tuple | None = None
    history: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _to(self, phase: str, message: str = "") -> None:
        with self._lock:
            self.phase, self.message, self.since = phase, message, time.time()
            self.history.append([phase, round(self.since, 2)])
            del self.history[:-50]

    def starting(self, target: str, url: str) -> None:
        self.target, self.url, self.saved, self.complete, self.duration_s = target, url, "", None, None
        self.started = None
        self._to("starting")

    def preparing(self, target: str, url: str, model: str, shape: str, needed: int, prepared) -> None:
        self.target, self.url, self.model, self.shape = target, url, model, shape
        self.needed, self.prepared, self.saved, self.complete, self.started = needed, prepared, "", None, None
        self.loadavg_start = load_average()
        self._to("preparing")

    def running(self, planned_s: float | None) -> None:
        self.started, self.planned_s = time.time(), planned_s
        self._to("running")

    def stopping(self) -> None:
        if self.phase in ("running", "preparing", "starting"):
            self._to("stopping")

    def stopped(self, saved: str, complete: bool, duration_s: float) -> None:
        self.saved, self.complete, self.duration_s = saved, complete, duration_s
        self._to("stopped")

    def failed(self, message: str) -> None:
        self._to("failed", message)

    def idle(self) -> None:
        if self.phase != "stopped":
            self._to("idle")

    def locust_state(self, runner_state: str) -> str:
        """The state Locust's page is told. It shows the start form on "ready" and polls only
        while "spawning" or "running": so a run being prepared is "spawning", and one whose
        summary is still being written stays "running" until it is saved."""
        if self.phase == "starting" and time.time() - self.since > STARTING_TIMEOUT_S:
            self.idle()
        if self.phase in ("starting", "preparing"):
            return "spawning"
        if self.phase == "running":
            return runner_state if runner_state in ("spawning", "running") else "spawning"
        if self.phase == "stopping":
            return "running"
        if self.phase in ("stopped", "failed") and runner_state in ("ready", "stopped", "cleanup"):
            return "stopped"
        return runner_state

    def status(self) -> dict:
        now = time.time()
        done = None
        if self.phase == "preparing" and self.prepared is not None:
            try:
                done = min(self.needed, int(self.prepared()))
            except Exception:   # a status line must never fail the page
                done = None
        elapsed = round(now - self.started, 1) if self.started and self.phase in ("running", "stopping") else None
        return {"phase": self.phase, "message": self.message or self.sentence(done, elapsed), "target": self.target,
                "url": self.url, "model": self.model, "shape": self.shape, "elapsed_s": elapsed,
                "planned_s": self.planned_s, "needed": self.needed, "prepared": done, "saved": self.saved,
                "complete": self.complete, "duration_s": self.duration_s, "history": list(self.history)}

    def sentence(self, done, elapsed) -> str:
        what = f"the {self.target} ({self.url})" if self.target else "the target"
        if self.phase == "idle":
            return "Ready: pick the Target, the Model and the Shape with its sizes, then press Start."
        if self.phase == "starting":
            return f"Starting a run against {what} ..."
        if self.phase == "preparing":
            progress = f", {done} of {self.needed} done" if done is not None else ""
            return (f"Preparing the run against {what}: signing in {self.needed} shopper accounts{progress}. "
                    "The load starts when they are ready (logins are kept out of the numbers).")
        if self.phase == "running":
            of = f" of {self.planned_s:.0f}" if self.planned_s else ""
            return (f"Running: {self.shape}, {self.model} model, against {what}"
                    + (f": {elapsed:.0f}{of} s" if elapsed is not None else "") + ".")
        if self.phase == "stopping":
            return f"Stopping the run against {what}: writing its summary ..."
        if self.phase == "stopped":
            if self.complete:
                return (f"Stopped: the run against {what} is complete ({self.duration_s:.0f} s) and saved. "
                        "Open the Comparison tab, or /comparison for the charts.")
            return (f"Stopped early after {self.duration_s or 0:.0f} s: the run against {what} is saved, marked "
                    "as stopped early; the comparison keeps using the latest complete run of each target.")
        return self.message


def load_average() -> tuple | None:
    try:
        return tuple(round(x, 2) for x in os.getloadavg())
    except OSError:
        return None


def run_environment(environment) -> dict:
    """What a browser run records about the machine (make compare records its own)."""
    state = getattr(environment, "shop_run", None)
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        cpus = list(range(os.cpu_count() or 1))
    return {"cpus": os.cpu_count(), "locust_cpus": cpus,
            "pinned": False, "cpu_limit": None,
            "loadavg_start": list(state.loadavg_start) if state and state.loadavg_start else None,
            "loadavg_end": list(load_average() or []) or None,
            "note": "a web-UI run: the shop and Locust were not pinned to separate CPUs and the shop's CPU was "
                    "not capped (make compare does both)"}


class _SpawnRateWarning(logging.Filter):
    """Locust warns "spawn rate is very high (>100)" when a shape asks for users faster than
    100/s. The closed spike asks for that only to let its crowd leave at once (users are
    stopped, not started), which is cheap; the warning on every such run says nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "spawn rate is very high" not in record.getMessage()


def quiet_spawn_rate_warning() -> None:
    log = logging.getLogger("locust.runners")
    if not any(isinstance(f, _SpawnRateWarning) for f in log.filters):
        log.addFilter(_SpawnRateWarning())


# -- saved runs and the comparison -----------------------------------------------------------------
_CACHE: dict[Path, tuple[float, dict]] = {}


def _read(path: Path) -> dict | None:
    try:
        mtime = path.stat().st_mtime
        cached = _CACHE.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
        run = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(run, dict) or run.get("target") not in TARGETS:
        return None
    _CACHE[path] = (mtime, run)
    return run


def saved_runs(results_dir: Path) -> list[tuple[str, dict]]:
    """(file name, run) of every browser run saved under results/ui/, newest first."""
    folder = Path(results_dir) / "ui"
    if not folder.is_dir():
        return []
    found = [(p.name, _read(p)) for p in folder.glob("*.json") if not p.name.startswith("latest-")]
    found = [(name, run) for name, run in found if run is not None]
    return sorted(found, key=lambda x: (x[1].get("started_epoch") or 0, x[0]), reverse=True)


def is_complete(run: dict) -> bool:
    """Runs saved before runs were marked count as complete."""
    return not run.get("stopped_early")


def describe(run: dict) -> str:
    when = (run.get("started_at") or "").replace("T", " ").replace("+00:00", " UTC")
    state = "complete" if is_complete(run) else (f"stopped early after {run.get('duration_s') or 0:.0f}"
                                                 f" of {run.get('planned_duration_s') or 0:.0f} s")
    return f"{run.get('shape')}, {run.get('model') or 'closed'} model, {when}, {state}"


def choose(saved: list[tuple[str, dict]], wanted: dict | None = None) -> dict[str, tuple[str, dict]]:
    """The runs to compare: those asked for by file name, else the latest complete run of each
    target, else (no complete one) its latest run."""
    wanted = wanted or {}
    chosen = {}
    for t in TARGETS:
        mine = [(name, run) for name, run in saved if run.get("target") == t]
        picked = next(((n, r) for n, r in mine if n == wanted.get(t)), None)
        picked = picked or next(((n, r) for n, r in mine if is_complete(r)), None) or (mine[0] if mine else None)
        if picked:
            chosen[t] = picked
    return chosen


def latest_runs(results_dir: Path) -> dict[str, dict]:
    """The run of each target the comparison uses by default."""
    return {t: run for t, (_, run) in choose(saved_runs(results_dir)).items()}


def environment_text(run: dict) -> str:
    env = run.get("environment") or {}
    if not env:
        return numbers.DASH
    pinned = "pinned" if env.get("pinned") else "not pinned"
    load = env.get("loadavg_start")
    busy = f"; load average {load[0]:g} on {env.get('cpus')} CPUs at the start" if load else ""
    return pinned + busy


def warnings(chosen: dict[str, tuple[str, dict]], saved: list[tuple[str, dict]]) -> list[str]:
    out = []
    runs = {t: r for t, (_, r) in chosen.items()}
    if any(not (r.get("environment") or {}).get("pinned", True) for r in runs.values()):
        out.append("Browser runs are not pinned to separate CPUs and the shop's CPU is not capped: the shop and "
                   "Locust share the machine. Compare these runs with each other, not with the README's numbers "
                   "(make compare measures those, pinned and capped).")
    for t, r in runs.items():
        env = r.get("environment") or {}
        load, cpus = env.get("loadavg_start"), env.get("cpus") or 1
        if load and load[0] > BUSY_LOAD_PER_CPU * cpus:
            out.append(f"The machine was busy when the {t} run started (load average {load[0]:g} on {cpus} CPUs): "
                       "other work shared the CPUs, so its numbers are noisier than usual.")
    for t, (name, r) in chosen.items():
        newer = [(n, x) for n, x in saved if x.get("target") == t
                 and (x.get("started_epoch") or 0) > (r.get("started_epoch") or 0)]
        for n, x in newer:
            out.append(f"A newer {t} run ({describe(x)}) is not compared: only complete runs replace one; "
                       f"pick it on /comparison to see it.")
        if not is_complete(r):
            out.append(f"The {t} run compared was stopped early ({describe(r)}): there is no complete one yet.")
    out += [c for c in numbers.caveats({t: [r] for t, r in runs.items()})
            if not c.startswith(("One run per target", "Stopped early"))]
    return out


def comparison_rows(runs: dict[str, dict]) -> list[dict]:
    """The Comparison tab's rows: which runs, their environment, then the report's headline
    numbers that apply to them, with the ratio and which did better."""
    def side(read):
        return {t: (read(runs[t]) if t in runs else "no run yet") for t in TARGETS}

    rows = [{"metric": "Run compared", **side(describe), "ratio": "", "better": ""},
            {"metric": "Environment", **side(environment_text), "ratio": "", "better": ""},
            {"metric": "URL", **side(lambda r: r.get("url") or numbers.DASH), "ratio": "", "better": ""}]
    grouped = {t: [r] for t, r in runs.items()}
    for row in numbers.headline_rows(grouped):
        cells = {t: (numbers.cell_text(row.cells[t], row.metric)["main"] if t in row.cells else "no run yet")
                 for t in TARGETS}
        rows.append({"metric": row.label, **cells, "ratio": row.ratio, "better": row.better})
    return rows


def comparison_data(results_dir: Path, wanted: dict | None = None) -> dict:
    saved = saved_runs(results_dir)
    chosen = choose(saved, wanted)
    runs = {t: r for t, (_, r) in chosen.items()}
    return {"rows": comparison_rows(runs), "warnings": warnings(chosen, saved) if chosen else [],
            "chosen": {t: {"file": n, "describe": describe(r)} for t, (n, r) in chosen.items()},
            "saved": [{"file": n, "target": r.get("target"), "describe": describe(r)} for n, r in saved],
            "link": "/comparison" + ("?" + "&".join(f"{t}={n}" for t, (n, _) in chosen.items()) if chosen else "")}


# -- installing it in Locust's web UI ------------------------------------------------------------
def install(environment) -> None:
    web_ui = environment.web_ui
    if web_ui is None:
        return
    from flask import Response, jsonify, request, send_from_directory

    results_dir = Path(environment.parsed_options.results_dir)
    state: RunState = getattr(environment, "shop_run", None) or RunState()
    environment.shop_run = state
    web_ui.template_args["extended_tabs"] = [{"title": "Comparison", "key": "comparison"}]
    web_ui.template_args["extended_tables"] = [{"key": "comparison", "structure": [
        {"key": "metric", "title": COMPARISON_TITLE}, {"key": "monolith", "title": "Monolith"},
        {"key": "microservices", "title": "Microservices"},
        {"key": "ratio", "title": "Ratio (micro / mono; a difference when one is 0)"},
        {"key": "better", "title": "Better (over 20% and the noise floor)"}]}]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "/comparison", "title": "Comparison charts of the saved runs (opens a page)"}]
    web_ui.template_args["shop_form"] = form_spec(environment)
    web_ui.template_args["shop_comparison_title"] = COMPARISON_TITLE
    app = web_ui.app

    original_update = web_ui.update_template_args

    def update_template_args():
        original_update()
        runner = environment.runner
        web_ui.template_args["state"] = state.locust_state(runner.state if runner else "ready")
        if state.phase not in ("idle",) and state.url:
            web_ui.template_args["host"] = state.url   # the header shows the URL the Target picked
        web_ui.template_args["shop_form"] = form_spec(environment)

    web_ui.update_template_args = update_template_args

    @app.before_request
    def refuse_when_target_down():
        if request.path != "/swarm" or request.method != "POST":
            return None
        target = request.form.get("target") or environment.parsed_options.target
        if target not in TARGETS:
            return jsonify({"success": False, "message": f"Unknown target {target!r}.", "host": ""})
        url = url_for_target(environment, target)
        message = targets.not_running_message(target, url, targets.health(url))
        if message:
            return jsonify({"success": False, "message": message, "host": url})
        runner = environment.runner
        if runner is None or runner.state not in ("running", "spawning"):
            state.starting(target, url)
        return None

    @app.after_request
    def shop_additions(response):
        if request.path == "/" and response.mimetype == "text/html" and response.status_code == 200:
            page = response.get_data(as_text=True)
            tags = ('<link rel="stylesheet" href="./shop/ui.css">'
                    '<script src="./shop/ui.js" defer></script>')
            if "</body>" in page and "shop/ui.js" not in page:
                response.set_data(page.replace("</body>", f"{tags}</body>", 1))
        if request.path == "/swarm" and response.is_json:
            data = response.get_json()
            if data.get("success"):  # show the URL the Target picked, not what the Host field said
                data["host"] = url_for_target(environment, request.form.get("target")
                                              or environment.parsed_options.target)
                response.set_data(json.dumps(data))
        if request.path == "/stats/requests" and response.is_json:
            data = response.get_json()
            runner = environment.runner
            data["state"] = state.locust_state(runner.state if runner else "ready")
            data["extended_stats"] = [{"key": "comparison", "data": comparison_data(results_dir)["rows"]}]
            response.set_data(json.dumps(data))
        return response

    @app.route("/shop/status")
    def shop_status():
        runner = environment.runner
        return jsonify({**state.status(), "locust_state": runner.state if runner else None,
                        "saved_runs": len(saved_runs(results_dir))})

    def shop_static(name):
        response = send_from_directory(STATIC, name, max_age=0)
        response.headers["Cache-Control"] = "no-store"
        return response

    app.add_url_rule("/shop/ui.js", "shop_ui_js", lambda: shop_static("shop-ui.js"))
    app.add_url_rule("/shop/ui.css", "shop_ui_css", lambda: shop_static("shop-ui.css"))

    @app.route("/comparison.json")
    def comparison_json():
        return jsonify(comparison_data(results_dir, dict(request.args)))

    @app.route("/comparison")
    def comparison_page():
        from loadtests import report
        data = comparison_data(results_dir, dict(request.args))
        runs = {t: [r] for t, (_, r) in choose(saved_runs(results_dir), dict(request.args)).items()}
        if not runs:
            return Response(report.render("comparison-empty.html.j2"), mimetype="text/html")
        environment_rows = {f"{t}: {k}": v for t, rs in runs.items() for k, v in (rs[0].get("environment") or {}).items()}
        return Response(report.render_html(runs, title="Browser runs, side by side", template="comparison.html.j2",
                                           picker=data, environment=environment_rows), mimetype="text/html")


def url_for_target(environment, target: str) -> str:
    o = environment.parsed_options
    return o.monolith_url if target == "monolith" else o.microservices_url
