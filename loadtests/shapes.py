"""Load shapes, in either load model. Which one runs, and its sizes, are command-line options
(also fields of the web UI's start form), with defaults sized for a 2-core laptop.

- ``--model open`` (the default): arrivals per second. The shape gives a request rate over
  time (loadtests/arrivals.py) and one ``Visitors`` user per load-generator process makes the
  visitors arrive at that rate, whether or not earlier ones were answered. This is the model
  that can show overload: a slow server does not make fewer visitors arrive.
- ``--model closed``: a number of users, each waiting for its answer, then thinking for
  0.5-3 s. A slow server receives fewer requests, so a closed model hides overload; it is
  kept to compare with and for runs that want "N concurrent users".

The shapes: ``spike`` (a baseline, a jump within seconds, a hold, back to the baseline),
``ramp`` (steps up until p95 or the error rate crosses its threshold: in the open model this
is the capacity step test of ``make compare``) and ``steady`` (the same load in three phases,
for the fault scenarios).

Locust runs one LoadTestShape class, ``ShopShape``; it hands each tick to the shape picked in
the form, so the same choice works in the browser and headless."""
import time

from locust import LoadTestShape

from loadtests import arrivals

SHAPES = ["spike", "ramp", "steady"]
MODELS = arrivals.MODELS
JUDGE_DELAY_S = 1.5   # results of a second reach the master within about a second


def add_options(parser) -> None:
    """Every option is added with ``parser.add_argument`` (not an argument group): only those
    show in the web UI's start form."""
    add = parser.add_argument
    add("--model", choices=MODELS, default="open", help="open: arrivals per second; closed: N users")
    add("--shape", choices=SHAPES, default="spike", help="the load shape to run")
    add("--slo-ms", type=float, default=250, help="latency target: goodput counts ok answers within it")
    # open model
    add("--baseline-rps", type=float, default=50, help="open spike: requests/s before and after the spike")
    add("--peak-rps", type=float, default=500, help="open spike: requests/s at the peak")
    add("--ramp-start-rps", type=float, default=25, help="open ramp: requests/s of the first step")
    add("--ramp-factor", type=float, default=1.2, help="open ramp: each step is this times the last")
    add("--ramp-max-rps", type=float, default=4000, help="open ramp: stop here at the latest")
    add("--steady-rps", type=float, default=50, help="open steady: requests/s before and after the fault")
    add("--fault-rps", type=float, default=0, help="open steady: requests/s during the fault phase (0: the same)")
    add("--max-in-flight", type=int, default=1000,
        help="open: visits one load-generator process runs at once; arrivals beyond are counted as dropped")
    add("--request-timeout", type=float, default=10, help="seconds a visitor waits for an answer")
    add("--seed", type=int, default=1, help="seed of the arrival times and the visitors' choices")
    # both models
    add("--spike-warmup", type=int, default=30, help="spike: seconds at baseline before the jump")
    add("--spike-rise", type=int, default=5, help="spike: seconds the jump takes")
    add("--spike-hold", type=int, default=60, help="spike: seconds held at the peak")
    add("--spike-cooldown", type=int, default=60, help="spike: seconds back at baseline")
    add("--ramp-step-seconds", type=int, default=15, help="ramp: seconds per step")
    add("--ramp-max-error-pct", type=float, default=1.0, help="ramp: saturated above this error rate")
    add("--steady-before", type=int, default=30, help="steady: seconds before the fault")
    add("--steady-fault", type=int, default=30, help="steady: seconds of the fault")
    add("--steady-after", type=int, default=45, help="steady: seconds after the fault")
    # closed model
    add("--spike-users", type=int, default=20, help="closed spike: baseline users")
    add("--spike-factor", type=int, default=10, help="closed spike: peak = baseline x factor")
    add("--ramp-start", type=int, default=100, help="closed ramp: users in the first step")
    add("--ramp-step", type=int, default=100, help="closed ramp: users added per step")
    add("--ramp-max-users", type=int, default=2000, help="closed ramp: stop here at the latest")
    add("--ramp-max-p95-ms", type=int, default=200, help="closed ramp: saturated when p95 exceeds this")
    add("--steady-users", type=int, default=60, help="closed steady: users throughout")


schedule = arrivals.schedule_for   # the open model's request rate over time, for the options' shape
ramp_rates = arrivals.ramp_rates


class _Shape:
    def __init__(self, runner):
        self.runner = runner
        self.start_time = time.perf_counter()
        self.stop_reason: str | None = None

    def get_run_time(self) -> float:
        """Seconds since the run started. The clock stands still until the recorder has
        started (Locust ticks the shape while the shoppers are still being signed in)."""
        recorder = getattr(self.runner.environment, "shop_recorder", None)
        if recorder is not None and recorder.t0 is None:
            self.start_time = time.perf_counter()
            return 0.0
        return time.perf_counter() - self.start_time

    def _opts(self):
        return self.runner.environment.parsed_options

    def _processes(self) -> int:
        """Load-generator processes: the workers in distributed mode, else this one."""
        return max(1, getattr(self.runner, "worker_count", 1) or 1)


# -- the open model -------------------------------------------------------------------------
class OpenShape(_Shape):
    """One Visitors user per load-generator process while the schedule runs; the visitors
    follow the schedule themselves (loadtests/visitors.py)."""

    def __init__(self, runner):
        super().__init__(runner)
        self.schedule = schedule(self._opts())

    def phases(self) -> list[dict]:
        o = self._opts()
        if o.shape == "spike":
            start = o.spike_warmup
            end = start + o.spike_rise + o.spike_hold
            return [{"name": "baseline", "start": 0, "end": start}, {"name": "spike", "start": start, "end": end},
                    {"name": "after", "start": end, "end": self.schedule.end}]
        if o.shape == "steady":
            start, end = o.steady_before, o.steady_before + o.steady_fault
            return [{"name": "before", "start": 0, "end": start}, {"name": "fault", "start": start, "end": end},
                    {"name": "after", "start": end, "end": self.schedule.end}]
        return []

    def users(self):
        from loadtests.visitors import Visitors
        n = self._processes()
        return n, n, [Visitors]

    def tick(self):
        if self.get_run_time() >= self.schedule.end:
            return None
        return self.users()


class OpenRampShape(OpenShape):
    """The capacity step test: rates rise step by step (geometrically) until a step's second
    half breaks the SLO (p95 above --slo-ms), has errors above --ramp-max-error-pct, or drops
    arrivals; its last good step is the capacity. Each step is judged on the recorder's exact
    numbers (loadtests/recorder.py), a moment after it ends so every result has arrived."""

    def __init__(self, runner):
        super().__init__(runner)
        self.rates = ramp_rates(self._opts())
        self.steps: list[dict] = []

    def phases(self) -> list[dict]:
        return [{"name": f"{s['rps']:g} req/s", "start": s["start"], "end": s["end"], "target_rps": s["rps"]}
                for s in self.steps]

    def tick(self):
        o = self._opts()
        t = self.get_run_time()
        seconds = o.ramp_step_seconds
        index = int(t // seconds)
        while len(self.steps) < min(index + 1, len(self.rates)):
            i = len(self.steps)
            self.steps.append({"rps": self.rates[i], "start": i * seconds, "end": (i + 1) * seconds})
        judged = int((t - JUDGE_DELAY_S) // seconds) - 1   # the last step whose results are all in
        for step in self.steps[:judged + 1]:
            if "verdict" not in step:
                step["verdict"] = self._judge(step)
                if step["verdict"]:
                    self.stop_reason = f"saturated at {step['rps']:g} req/s: {step['verdict']}"
                    self.steps = [s for s in self.steps if s["start"] <= step["start"]]
                    return None
        if index >= len(self.rates) and judged >= len(self.rates) - 1:
            self.stop_reason = f"reached --ramp-max-rps={o.ramp_max_rps:g} without saturating"
            return None
        return self.users()

    def _judge(self, step) -> str:
        """'' if the step held, else why not."""
        o = self._opts()
        recorder = self.runner.environment.shop_recorder
        mid = step["start"] + (step["end"] - step["start"]) / 2
        w = recorder.window(mid, step["end"])
        if w["dropped"]:
            return f"{w['dropped']} arrivals dropped by the load generator"
        if not w["requests"]:
            return "no request completed"
        if w["error_pct"] > o.ramp_max_error_pct:
            return f"errors {w['error_pct']:.1f}% > {o.ramp_max_error_pct:g}%"
        if w["p95_ms"] > o.slo_ms:
            return f"p95 {w['p95_ms']:.0f} ms > {o.slo_ms:g} ms"
        return ""


# -- the closed model -----------------------------------------------------------------------
class SpikeShape(_Shape):
    """Steady baseline, a jump to `factor` times within seconds, a hold, then back to baseline."""

    def schedule(self) -> dict:
        o = self._opts()
        base = max(1, o.spike_users)
        warm, rise, hold, cool = o.spike_warmup, max(1, o.spike_rise), o.spike_hold, o.spike_cooldown
        return {"baseline_users": base, "peak_users": base * max(1, o.spike_factor),
                "spike_start": warm, "spike_end": warm + rise + hold, "end": warm + rise + hold + cool,
                "rise": rise}

    def phases(self) -> list[dict]:
        s = self.schedule()
        return [{"name": "baseline", "start": 0, "end": s["spike_start"]},
                {"name": "spike", "start": s["spike_start"], "end": s["spike_end"]},
                {"name": "after", "start": s["spike_end"], "end": s["end"]}]

    def tick(self):
        from loadtests.journeys import CLOSED_USERS
        s = self.schedule()
        t = self.get_run_time()
        base, peak = s["baseline_users"], s["peak_users"]
        if t < s["spike_start"]:
            return base, base, CLOSED_USERS  # all baseline users within about a second
        if t < s["spike_end"]:
            return peak, max(1.0, (peak - base) / s["rise"]), CLOSED_USERS
        if t < s["end"]:
            return base, peak, CLOSED_USERS  # the crowd leaves at once
        return None


class RampShape(_Shape):
    """Steps up until p95 latency or the error rate crosses its threshold: the saturation point."""

    def __init__(self, runner):
        super().__init__(runner)
        self.steps: list[dict] = []

    def phases(self) -> list[dict]:
        return [{"name": f"{s['users']} users", "start": s["start"], "end": s["end"], "users": s["users"]}
                for s in self.steps]

    def _breach(self) -> str | None:
        o = self._opts()
        total = self.runner.stats.total
        p95 = total.get_current_response_time_percentile(0.95) or 0
        rps = total.current_rps or 0
        err_pct = 100.0 * (total.current_fail_per_sec or 0) / rps if rps else 0.0
        if p95 > o.ramp_max_p95_ms:
            return f"p95 {p95:.0f} ms > {o.ramp_max_p95_ms} ms"
        if err_pct > o.ramp_max_error_pct:
            return f"errors {err_pct:.1f}% > {o.ramp_max_error_pct}%"
        return None

    def tick(self):
        from loadtests.journeys import CLOSED_USERS
        o = self._opts()
        t = self.get_run_time()
        index = int(t // o.ramp_step_seconds)
        users = o.ramp_start + index * o.ramp_step
        if not self.steps or self.steps[-1]["index"] != index:
            if self.steps:  # a step just ended: judge it on its last seconds
                self.steps[-1]["end"] = t
                reason = self._breach()
                if reason:
                    self.stop_reason = f"saturated at {self.steps[-1]['users']} users: {reason}"
                    return None
            if users > o.ramp_max_users:
                self.stop_reason = f"reached --ramp-max-users={o.ramp_max_users} without saturating"
                return None
            self.steps.append({"index": index, "users": users, "start": t, "end": None})
        return users, max(1.0, o.ramp_step / 2), CLOSED_USERS


class SteadyShape(_Shape):
    """The same users throughout, in three phases: before, during and after a fault that the
    scenario runner (loadtests/scenarios.py) injects at the phase boundaries."""

    def schedule(self) -> dict:
        o = self._opts()
        start = o.steady_before
        end = start + o.steady_fault
        return {"users": max(1, o.steady_users), "fault_start": start, "fault_end": end,
                "end": end + o.steady_after}

    def phases(self) -> list[dict]:
        s = self.schedule()
        return [{"name": "before", "start": 0, "end": s["fault_start"]},
                {"name": "fault", "start": s["fault_start"], "end": s["fault_end"]},
                {"name": "after", "start": s["fault_end"], "end": s["end"]}]

    def tick(self):
        from loadtests.journeys import CLOSED_USERS
        s = self.schedule()
        if self.get_run_time() >= s["end"]:
            return None
        return s["users"], s["users"], CLOSED_USERS  # all users within about a second


CLOSED = {"spike": SpikeShape, "ramp": RampShape, "steady": SteadyShape}


class ShopShape(LoadTestShape):
    """The one shape Locust sees; it runs the shape and model the options say."""

    def __init__(self):
        super().__init__()
        self.current: _Shape | None = None

    def reset_time(self):
        super().reset_time()
        o = self.runner.environment.parsed_options
        if getattr(o, "model", "open") == "open":
            self.current = (OpenRampShape if o.shape == "ramp" else OpenShape)(self.runner)
        else:
            self.current = CLOSED.get(o.shape, SpikeShape)(self.runner)

    @property
    def name(self) -> str:
        if self.current is None:
            return "none"
        return self.runner.environment.parsed_options.shape

    @property
    def stop_reason(self) -> str | None:
        return self.current.stop_reason if self.current else None

    def phases(self) -> list[dict]:
        return self.current.phases() if self.current else []

    def tick(self):
        if self.current is None:
            self.reset_time()
        return self.current.tick()
