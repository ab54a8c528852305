"""Kubernetes' HorizontalPodAutoscaler algorithm for one scale target, on CPU utilisation,
as a small pure component: no processes, no sleeping; time comes from an injected clock.

What it does, in the order the controller does it (kubernetes.io, "Horizontal Pod
Autoscaling": "Algorithm details" and "Configurable scaling behavior"; the controller's
source, kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go and
replica_calculator.go, which settle what the page leaves open):

1. **The proposal.** ``desiredReplicas = ceil(currentReplicas x currentMetricValue /
   desiredMetricValue)``, the metric being the average CPU utilisation: CPU use over the CPU
   request, in whole percent (the controller computes ``usage x 100 / request`` in integers,
   so 77.9% counts as 77%). If the ratio is within the tolerance (``(1 - 0.1) <= ratio <=
   (1 + 0.1)`` by default, both ends included; ``behavior.scaleUp/scaleDown.tolerance`` set
   each side), the proposal is the current count. A current count outside minReplicas..
   maxReplicas is brought back inside it at once, without the steps below.
2. **Stabilisation.** Every proposal is recorded with its time. The proposal is then held
   between the lowest proposal of the scale-up window and the highest of the scale-down
   window (each window counting the proposal just made): a scale-down only goes as far as
   the highest recommendation of the last ``scaleDown.stabilizationWindowSeconds`` (default
   300 s), a scale-up only as far as the lowest of the last
   ``scaleUp.stabilizationWindowSeconds`` (default 0: none).
3. **Rate limits** (``behavior.scaleUp/scaleDown.policies``). Each policy bounds the change
   over its ``periodSeconds``, counted from the replica count at the period's start: the
   current count minus the pods added and plus the pods removed by scale events within the
   period (events strictly younger than ``periodSeconds``). A ``Pods`` policy allows
   ``value`` pods more (or fewer) than that; a ``Percent`` policy ``value`` percent, rounded
   up when adding (so that a small target still grows) and down when removing (the page's
   example: 10% of 72 replicas removes 8). ``selectPolicy: Max`` (the default) takes the
   policy allowing the largest change, ``Min`` the smallest, ``Disabled`` allows none.
   Then minReplicas and maxReplicas.

The caller tells it when a scale really happened (``scaled``): the rate limits are computed
from those events, as the controller computes them from the scale events it stored.

Not modelled (nothing here produces them): pods without metrics, and not-yet-ready pods'
CPU set aside during their first 5 minutes; the caller passes the serving replicas and
their utilisation. Several metrics (the largest proposal wins) and scaling to zero.
"""
import math
import time
from dataclasses import dataclass

from loadtests.manifests import Autoscaler, Rules


@dataclass(frozen=True)
class Recommendation:
    """One sync's decision, with the steps that led to it."""
    current: int
    utilization: int        # whole percent of the request, as the controller reads it
    proposed: int           # step 1 (the current count when within the tolerance)
    stabilized: int         # step 2
    desired: int            # step 3: what to scale to
    limited_by: str         # why desired differs from proposed ("" if it does not), in the
                            # controller's words: ScaleUpStabilized, ScaleDownStabilized,
                            # ScaleUpLimit, ScaleDownLimit, TooManyReplicas, TooFewReplicas


class HPA:
    """One HorizontalPodAutoscaler's controller state: its recent proposals and scale events."""

    def __init__(self, spec: Autoscaler, clock=time.monotonic):
        self.spec = spec
        self.clock = clock
        self._proposals: list[tuple[float, int]] = []        # (when, proposed count)
        self._events: list[tuple[float, int]] = []           # (when, +added or -removed)

    # -- the decision --------------------------------------------------------------------
    def recommend(self, current: int, utilization: float) -> Recommendation:
        """The replica count for ``current`` serving replicas at ``utilization`` percent of
        their CPU request (e.g. 95.0). Scaling is the caller's; then call ``scaled``."""
        if current < 1:
            raise ValueError("an autoscaled target has at least one replica")
        spec, now = self.spec, self.clock()
        percent = int(max(0.0, utilization))   # the controller's integer arithmetic
        if not self._proposals:                # recordInitialRecommendation
            self._proposals.append((now, current))
        if current > spec.max_replicas:
            return Recommendation(current, percent, spec.max_replicas, spec.max_replicas, spec.max_replicas,
                                  "TooManyReplicas")
        if current < spec.min_replicas:
            return Recommendation(current, percent, spec.min_replicas, spec.min_replicas, spec.min_replicas,
                                  "TooFewReplicas")
        proposed = self._proposal(current, percent)
        stabilized = self._stabilize(now, current, proposed)
        desired, limit = self._rate_limit(now, current, stabilized)
        if limit:
            why = limit
        elif stabilized != proposed:
            why = "ScaleUpStabilized" if proposed > current else "ScaleDownStabilized"
        else:
            why = ""
        return Recommendation(current, percent, proposed, stabilized, desired, why)

    def scaled(self, before: int, after: int) -> None:
        """A scale from ``before`` to ``after`` replicas happened now (the controller's
        storeScaleEvent): the policies' periods count it."""
        if after != before:
            self._events.append((self.clock(), after - before))

    # -- the steps -----------------------------------------------------------------------
    def _proposal(self, current: int, percent: int) -> int:
        ratio = percent / self.spec.target_utilization
        if 1.0 - self.spec.scale_down.tolerance <= ratio <= 1.0 + self.spec.scale_up.tolerance:
            return current
        return math.ceil(ratio * current)

    def _stabilize(self, now: float, current: int, proposed: int) -> int:
        up_window = self.spec.scale_up.stabilization_window_s
        down_window = self.spec.scale_down.stabilization_window_s
        lowest = highest = proposed
        for when, count in self._proposals:
            if when > now - up_window:
                lowest = min(lowest, count)
            if when > now - down_window:
                highest = max(highest, count)
        self._proposals.append((now, proposed))
        # Proposals older than both windows never count again.
        keep = now - max(up_window, down_window)
        self._proposals = [(w, c) for w, c in self._proposals if w > keep or w == now]
        return min(max(current, lowest), highest)

    def _changed_within(self, now: float, period: float) -> tuple[int, int]:
        """Pods added and pods removed by scale events within the last ``period`` seconds."""
        recent = [change for when, change in self._events if when > now - period]
        return sum(c for c in recent if c > 0), -sum(c for c in recent if c < 0)

    def _rate_limit(self, now: float, current: int, desired: int) -> tuple[int, str]:
        spec = self.spec
        self._forget_events(now)
        if desired > current:
            limit = max(self._up_limit(now, current, spec.scale_up), current)
            highest = min(spec.max_replicas, limit)
            if desired > highest:
                return highest, "ScaleUpLimit" if spec.max_replicas > limit else "TooManyReplicas"
        elif desired < current:
            limit = min(self._down_limit(now, current, spec.scale_down), current)
            lowest = max(spec.min_replicas, limit)
            if desired < lowest:
                return lowest, "ScaleDownLimit" if spec.min_replicas < limit else "TooFewReplicas"
        return desired, ""

    def _period_start(self, now: float, current: int, period: float) -> int:
        added, removed = self._changed_within(now, period)
        return current - added + removed

    def _up_limit(self, now: float, current: int, rules: Rules) -> int:
        if rules.select_policy == "Disabled" or not rules.policies:
            return current
        allowed = []
        for policy in rules.policies:
            start = self._period_start(now, current, policy.period_s)
            allowed.append(start + policy.value if policy.type == "Pods"
                           else math.ceil(start * (1 + policy.value / 100)))
        return min(allowed) if rules.select_policy == "Min" else max(allowed)

    def _down_limit(self, now: float, current: int, rules: Rules) -> int:
        if rules.select_policy == "Disabled" or not rules.policies:
            return current
        allowed = []
        for policy in rules.policies:
            start = self._period_start(now, current, policy.period_s)
            # int() truncates towards zero, as Go's int32(float64) does
            allowed.append(start - policy.value if policy.type == "Pods"
                           else int(start * (1 - policy.value / 100)))
        # Removing: the largest change is the lowest count.
        return max(allowed) if rules.select_policy == "Min" else min(allowed)

    def _forget_events(self, now: float) -> None:
        longest = max([p.period_s for p in self.spec.scale_up.policies + self.spec.scale_down.policies], default=0)
        self._events = [(w, c) for w, c in self._events if w > now - longest]
