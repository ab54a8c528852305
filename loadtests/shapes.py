"""Load shapes. Which one runs, and its sizes and durations, are command-line options (also
fields of the web UI's start form: a Shape dropdown), with defaults sized for a 2-core laptop.

Locust runs one LoadTestShape class, ``ShopShape``; it hands each tick to the shape picked
in the form, so the same choice works in the browser and headless."""
import time

from locust import LoadTestShape

SHAPES = ["spike", "ramp", "steady"]


def add_options(parser) -> None:
    group = parser.add_argument_group("shop load shapes")
    group.add_argument("--shape", choices=SHAPES, default="spike", help="the load shape to run")
    group.add_argument("--spike-users", type=int, default=20, help="spike: baseline users")
    group.add_argument("--spike-factor", type=int, default=10, help="spike: peak = baseline x factor")
    group.add_argument("--spike-warmup", type=int, default=30, help="spike: seconds at baseline before the jump")
    group.add_argument("--spike-rise", type=int, default=5, help="spike: seconds the jump takes")
    group.add_argument("--spike-hold", type=int, default=60, help="spike: seconds held at the peak")
    group.add_argument("--spike-cooldown", type=int, default=60, help="spike: seconds back at baseline")
    group.add_argument("--ramp-start", type=int, default=100, help="ramp: users in the first step")
    group.add_argument("--ramp-step", type=int, default=100, help="ramp: users added per step")
    group.add_argument("--ramp-step-seconds", type=int, default=15, help="ramp: seconds per step")
    group.add_argument("--ramp-max-users", type=int, default=2000, help="ramp: stop here at the latest")
    group.add_argument("--ramp-max-p95-ms", type=int, default=200, help="ramp: saturated when p95 exceeds this")
    group.add_argument("--ramp-max-error-pct", type=float, default=1.0, help="ramp: saturated above this error rate")
    group.add_argument("--steady-users", type=int, default=60, help="steady: users throughout")
    group.add_argument("--steady-before", type=int, default=30, help="steady: seconds before the fault")
    group.add_argument("--steady-fault", type=int, default=30, help="steady: seconds of the fault")
    group.add_argument("--steady-after", type=int, default=45, help="steady: seconds after the fault")


class _Shape:
    def __init__(self, runner):
        self.runner = runner
        self.start_time = time.perf_counter()
        self.stop_reason: str | None = None

    def get_run_time(self) -> float:
        return time.perf_counter() - self.start_time

    def _opts(self):
        return self.runner.environment.parsed_options


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
        s = self.schedule()
        t = self.get_run_time()
        base, peak = s["baseline_users"], s["peak_users"]
        if t < s["spike_start"]:
            return base, base  # all baseline users within about a second
        if t < s["spike_end"]:
            return peak, max(1.0, (peak - base) / s["rise"])
        if t < s["end"]:
            return base, peak  # the crowd leaves at once
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
        return users, max(1.0, o.ramp_step / 2)


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
        s = self.schedule()
        if self.get_run_time() >= s["end"]:
            return None
        return s["users"], s["users"]  # all users within about a second


class ShopShape(LoadTestShape):
    """The one shape Locust sees; it runs the spike, the ramp or the steady load, as the
    --shape option says."""

    def __init__(self):
        super().__init__()
        self.current: _Shape | None = None

    def reset_time(self):
        super().reset_time()
        kind = self.runner.environment.parsed_options.shape
        self.current = {"ramp": RampShape, "steady": SteadyShape}.get(kind, SpikeShape)(self.runner)

    @property
    def name(self) -> str:
        return type(self.current).__name__.replace("Shape", "").lower() if self.current else "none"

    @property
    def stop_reason(self) -> str | None:
        return self.current.stop_reason if self.current else None

    def phases(self) -> list[dict]:
        return self.current.phases() if self.current else []

    def tick(self):
        if self.current is None:
            self.reset_time()
        return self.current.tick()
