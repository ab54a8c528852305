"""Open-model traffic: how many requests per second a load shape asks for at each moment, and
the arrival times of the visitors that make them. Pure functions, no Locust.

In an open model, visitors arrive at a rate of their own, whether or not earlier ones have
been answered, as they do on a real shop: a slow server does not make fewer people click.
A closed model (N users, each waiting for its answer before the next request) offers less
load as the server slows down, and so hides overload ("Open Versus Closed: A Cautionary
Tale", Schroeder et al., NSDI 2006).

A ``Schedule`` is a piecewise-linear rate in requests per second over time. Arrivals are a
non-homogeneous Poisson process with that rate, drawn by thinning (Lewis and Shedler, 1979):
candidates come at the schedule's highest rate, and each is kept with probability
rate(t) / highest rate, which is exact for any rate function bounded by that maximum."""
import math
import random
from dataclasses import dataclass

MODELS = ["open", "closed"]


@dataclass(frozen=True)
class Schedule:
    """Requests per second over time: straight lines between (second, rate) points, the first
    point's rate before it and the last one's after it; ``end`` is when the load stops."""
    points: tuple[tuple[float, float], ...]
    end: float

    def __post_init__(self):
        if not self.points:
            raise ValueError("a schedule needs at least one point")
        times = [t for t, _ in self.points]
        if times != sorted(times):
            raise ValueError("schedule points must be in time order")
        if any(r < 0 for _, r in self.points):
            raise ValueError("a rate cannot be negative")

    def rate(self, t: float) -> float:
        points = self.points
        if t >= self.end:
            return 0.0
        if t <= points[0][0]:
            return points[0][1]
        for (t0, r0), (t1, r1) in zip(points, points[1:]):
            if t < t1:
                if t1 == t0:
                    return r1
                return r0 + (r1 - r0) * (t - t0) / (t1 - t0)
        return points[-1][1]

    @property
    def peak(self) -> float:
        return max(r for _, r in self.points)

    def expected_count(self, start: float, end: float) -> float:
        """Expected arrivals in [start, end): the integral of the rate (exact for straight lines)."""
        cuts = sorted({start, end, *(t for t, _ in self.points if start < t < end),
                       *([self.end] if start < self.end < end else [])})
        total = 0.0
        for a, b in zip(cuts, cuts[1:]):
            total += (self.rate(a) + self._rate_before(b)) / 2 * (b - a)
        return total

    def _rate_before(self, t: float) -> float:
        """The rate just before t (the left limit: at a jump, the old rate)."""
        return self.rate(t - 1e-9) if t > 0 else self.rate(t)

    def scaled(self, factor: float) -> "Schedule":
        """The same shape at ``factor`` times the rate (one load generator's share)."""
        return Schedule(tuple((t, r * factor) for t, r in self.points), self.end)


def spike(baseline: float, peak: float, warmup: float, rise: float, hold: float, cooldown: float) -> Schedule:
    """Baseline, a straight rise to the peak within ``rise`` seconds, a hold, then back to the
    baseline at once (the crowd leaves) for ``cooldown`` seconds."""
    rise = max(rise, 0.001)
    top_end = warmup + rise + hold
    return Schedule(((0.0, baseline), (warmup, baseline), (warmup + rise, peak), (top_end, peak),
                     (top_end, baseline)), top_end + cooldown)


def constant(rate: float, seconds: float) -> Schedule:
    return Schedule(((0.0, rate),), seconds)


def phased(phases: list[tuple[float, float]]) -> Schedule:
    """(seconds, rate) phases one after the other, each rate held for its seconds."""
    points, t = [], 0.0
    for seconds, rate in phases:
        points += [(t, rate), (t + seconds, rate)]
        t += seconds
    return Schedule(tuple(points), t)


def steps(rates: list[float], step_seconds: float) -> Schedule:
    """Each rate held for ``step_seconds``, one after the other (the capacity step test)."""
    return phased([(step_seconds, r) for r in rates])


def step_rates(start: float, factor: float, highest: float) -> list[float]:
    """start, start x factor, ... up to ``highest`` (geometric: the same relative resolution
    at 50 requests/s and at 2,000)."""
    if start <= 0 or factor <= 1:
        raise ValueError("the step test needs a start above 0 and a factor above 1")
    rates, r = [], float(start)
    while r <= highest * 1.0001:
        rates.append(round(r, 1))
        r *= factor
    return rates


def arrivals(schedule: Schedule, rng: random.Random, start: float = 0.0, end: float | None = None):
    """Arrival times (seconds, in order) of a Poisson process with the schedule's rate, from
    ``start`` to ``end`` (default: the schedule's end)."""
    end = schedule.end if end is None else min(end, schedule.end)
    top = schedule.peak
    if top <= 0:
        return
    t = start
    while True:
        t += rng.expovariate(top)
        if t >= end:
            return
        if rng.random() * top < schedule.rate(t):
            yield t


def poisson_interval(mean: float, confidence_sigmas: float = 4.0) -> tuple[float, float]:
    """The range a Poisson count with this mean falls in with overwhelming probability
    (normal approximation, +-``confidence_sigmas`` standard deviations)."""
    spread = confidence_sigmas * math.sqrt(mean)
    return max(0.0, mean - spread), mean + spread


def schedule_for(o) -> Schedule:
    """The open model's request rate over time for a load shape's options (loadtests/shapes.py:
    ``o.shape`` and its ``spike_*``, ``steady_*``, ``ramp_*`` and ``*_rps`` options)."""
    if o.shape == "spike":
        return spike(o.baseline_rps, o.peak_rps, o.spike_warmup, o.spike_rise, o.spike_hold, o.spike_cooldown)
    if o.shape == "steady":
        during = getattr(o, "fault_rps", 0) or o.steady_rps
        return phased([(o.steady_before, o.steady_rps), (o.steady_fault, during), (o.steady_after, o.steady_rps)])
    return steps(ramp_rates(o), o.ramp_step_seconds)


def ramp_rates(o) -> list[float]:
    return step_rates(o.ramp_start_rps, o.ramp_factor, o.ramp_max_rps)
