"""The HPA algorithm (loadtests/hpa.py) with a fake clock, against the examples of the
Kubernetes documentation ("Horizontal Pod Autoscaling": Algorithm details, Scaling
policies, Stabilization window, Default behavior) and the project's own manifests."""

from loadtests import manifests
from loadtests.hpa import HPA
from loadtests.manifests import SCALE_DOWN_DEFAULT, SCALE_UP_DEFAULT, Autoscaler, Policy, Rules

# Rules that never hold a change back, to look at one step of the algorithm at a time.
FREE_UP = Rules(0, (Policy("Pods", 1000, 15),))
FREE_DOWN = Rules(0, (Policy("Percent", 100, 15),))


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def hpa(min_replicas=1, max_replicas=100, target=50, up=FREE_UP, down=FREE_DOWN, clock=None):
    clock = clock or Clock()
    return HPA(Autoscaler(min_replicas, max_replicas, target, up, down), clock=clock), clock


def sync(h: HPA, current: int, utilization: float) -> int:
    """One controller sync: decide, and scale to the decision at once."""
    desired = h.recommend(current, utilization).desired
    h.scaled(current, desired)
    return desired


# -- Algorithm details -----------------------------------------------------------------------
def test_the_count_is_current_times_the_ratio_rounded_up():
    h, _ = hpa(target=50)
    # "if the current metric value is 200m, and the desired value is 100m, the number of
    # replicas will be doubled"; "50m ... you'll halve the number of replicas"
    assert h.recommend(3, 100).desired == 6
    assert h.recommend(4, 25).desired == 2
    assert h.recommend(3, 25).desired == 2              # ceil(1.5)
    h, _ = hpa(target=75)
    assert h.recommend(50, 90).desired == 60            # 50 x 90/75 (the v1.33 tolerance post)


def test_no_change_within_the_10_percent_tolerance_both_ends_included():
    h, _ = hpa(target=50)
    for utilization in (46, 50, 54, 55, 45):             # ratios 0.92 ... 1.1 and 0.9
        r = h.recommend(4, utilization)
        assert (r.proposed, r.desired) == (4, 4), utilization
    assert h.recommend(4, 56).desired == 5               # 1.12 x 4 = 4.48
    assert h.recommend(4, 44).desired == 4               # 0.88 x 4 = 3.52, rounded up: no pod less
    assert h.recommend(10, 44).desired == 9              # 0.88 x 10 = 8.8 -> 9


def test_utilisation_counts_in_whole_percent_as_the_controller_computes_it():
    h, _ = hpa(target=50)
    r = h.recommend(4, 55.9)                              # 55%: ratio 1.1, within the tolerance
    assert (r.utilization, r.desired) == (55, 4)
    assert h.recommend(4, 56.0).desired == 5


def test_each_direction_can_have_its_own_tolerance():
    h, _ = hpa(target=50, up=Rules(0, FREE_UP.policies, tolerance=0.0), down=Rules(0, FREE_DOWN.policies, tolerance=0.5))
    assert h.recommend(4, 51).desired == 5               # any rise scales up
    assert h.recommend(4, 26).desired == 4               # 0.52: within a 50% scale-down tolerance
    assert h.recommend(4, 24).desired == 2


def test_min_and_max_replicas_bound_the_count():
    h, _ = hpa(min_replicas=2, max_replicas=4, target=50)
    r = h.recommend(3, 500)
    assert (r.proposed, r.desired, r.limited_by) == (30, 4, "TooManyReplicas")
    r = h.recommend(3, 0)
    assert (r.desired, r.limited_by) == (2, "TooFewReplicas")
    assert h.recommend(7, 50).desired == 4                # a count above the max comes back at once
    assert h.recommend(1, 500).desired == 2               # ... and one below the min


# -- Stabilization window ----------------------------------------------------------------------
def test_a_scale_down_waits_for_the_highest_recommendation_of_its_window():
    """"the algorithm looks into previously computed desired states, and uses the highest
    value from the specified interval" (scaleDown.stabilizationWindowSeconds: 300)."""
    h, clock = hpa(target=50, down=Rules(300, FREE_DOWN.policies))
    assert sync(h, 5, 50) == 5            # t=0: 5 is right
    clock.advance(15)
    assert sync(h, 5, 40) == 5            # t=15: 4 would do (0.8 x 5), but 5 is in the window
    seen = []
    while clock.now < 1000 + 330:
        clock.advance(15)
        seen.append((clock.now - 1000, sync(h, seen[-1][1] if seen else 5, 20)))
    by_time = dict(seen)
    # Every proposal from t=30 on is 2 (0.4 x 5); the 5 of t=0 holds until it is 300 s old,
    # then the 4 of t=15 until that one is.
    assert all(count == 5 for t, count in seen if t < 300), seen
    assert by_time[300] == 4 and by_time[315] == 2


def test_a_scale_up_waits_for_the_lowest_recommendation_of_its_window():
    h, clock = hpa(target=50, up=Rules(60, FREE_UP.policies))
    r = h.recommend(1, 200)               # t=0: 4 wanted, but the window holds the first count, 1
    assert (r.proposed, r.desired, r.limited_by) == (4, 1, "ScaleUpStabilized")
    for _ in range(3):
        clock.advance(15)
        assert sync(h, 1, 200) == 1       # t=15, 30, 45
    clock.advance(15)
    assert sync(h, 1, 200) == 4           # t=60: the 1 of t=0 has left the window
    clock.advance(15)
    assert sync(h, 4, 25) == 2            # t=75: 2 proposed; scale-down has no window here
    clock.advance(15)
    r = h.recommend(2, 400)               # t=90: 16 proposed, but the 2 of t=75 is in the window
    assert (r.proposed, r.desired, r.limited_by) == (16, 2, "ScaleUpStabilized")


def test_without_windows_every_proposal_applies_at_once():
    h, clock = hpa(target=50)
    assert sync(h, 2, 100) == 4
    clock.advance(15)
    assert sync(h, 4, 10) == 1


# -- Scaling policies ------------------------------------------------------------------------
def test_the_manifests_scale_up_doubles_at_most_every_15_seconds():
    up = Rules(0, (Policy("Percent", 100, 15),))
    h, clock = hpa(max_replicas=8, target=70, up=up)
    assert sync(h, 1, 700) == 2           # t=0: 10 wanted
    clock.advance(5)
    r = h.recommend(2, 700)               # t=5: the period still holds the +1 of t=0: 1 -> 2 at most
    assert (r.desired, r.limited_by) == (2, "ScaleUpLimit")
    clock.advance(10)
    assert sync(h, 2, 700) == 4           # t=15: the +1 is 15 s old, out of the period
    clock.advance(15)
    r = h.recommend(4, 700)
    assert (r.desired, r.limited_by) == (8, "TooManyReplicas")


def test_the_default_scale_up_allows_the_larger_of_100_percent_and_4_pods():
    h, _ = hpa(target=50, up=SCALE_UP_DEFAULT)
    assert h.recommend(1, 5000).desired == 5              # +4 pods beats +100%
    assert h.recommend(10, 5000).desired == 20            # +100% beats +4 pods
    h, _ = hpa(target=50, up=Rules(0, SCALE_UP_DEFAULT.policies, "Min"))
    assert h.recommend(1, 5000).desired == 2              # selectPolicy Min: the smaller change
    assert h.recommend(10, 5000).desired == 14


def test_the_documented_scale_down_example_80_to_10_replicas():
    """Pods 4 and Percent 10 per 60 s, the larger change selected: "if there are 80 replicas
    and the target has to be scaled down to 10 replicas then during the first step 8 replicas
    will be reduced. In the next iteration when the number of replicas is 72, 10% of the pods
    is 7.2 but the number is rounded up to 8. ... When the number of replicas falls below 40
    the first policy (Pods) is applied and 4 replicas will be reduced at a time.\""""
    down = Rules(0, (Policy("Pods", 4, 60), Policy("Percent", 10, 60)))
    h, clock = hpa(min_replicas=10, target=50, down=down)
    counts = [80]
    while counts[-1] > 10:
        counts.append(sync(h, counts[-1], 1))             # almost idle: down to the minimum, 10
        clock.advance(60)
    assert counts[:3] == [80, 72, 64]
    steps = [a - b for a, b in zip(counts, counts[1:])]
    below_40 = [s for a, s in zip(counts, steps) if a <= 40]
    assert below_40 == [4] * (len(below_40) - 1) + [2], counts        # the last step stops at 10


def test_a_policy_counts_the_changes_of_its_whole_period():
    down = Rules(0, (Policy("Pods", 4, 60), Policy("Percent", 10, 60)))
    h, clock = hpa(target=50, down=down)
    assert sync(h, 80, 6.75) == 72
    for _ in range(3):                    # t=15, 30, 45: 8 already removed within the minute
        clock.advance(15)
        r = h.recommend(72, 7.5)
        assert (r.desired, r.limited_by) == (72, "ScaleDownLimit")
    clock.advance(15)
    assert sync(h, 72, 7.5) == 64         # t=60: the period starts afresh


def test_select_policy_min_takes_the_policy_with_the_smallest_change():
    """"To ensure that no more than 5 Pods are removed per minute, you can add a second
    scale-down policy with a fixed size of 5, and set selectPolicy to minimum.\""""
    down = Rules(0, (Policy("Percent", 10, 60), Policy("Pods", 5, 60)), "Min")
    h, _ = hpa(target=50, down=down)
    assert h.recommend(100, 5).desired == 95              # 10% would be 10 pods: 5 it is
    assert h.recommend(30, 5).desired == 27               # 10% is 3 pods, fewer than 5


def test_select_policy_disabled_turns_a_direction_off():
    h, _ = hpa(target=50, down=Rules(0, FREE_DOWN.policies, "Disabled"))
    assert h.recommend(5, 1).desired == 5
    assert h.recommend(5, 500).desired == 50
    h, _ = hpa(target=50, up=Rules(0, FREE_UP.policies, "Disabled"))
    assert h.recommend(5, 500).desired == 5
    assert h.recommend(5, 1).desired == 1


def test_the_default_scale_down_waits_300_seconds_then_may_go_to_the_minimum():
    h, clock = hpa(min_replicas=2, target=50, down=SCALE_DOWN_DEFAULT)
    assert sync(h, 10, 50) == 10
    clock.advance(15)
    while clock.now < 1000 + 300:
        assert sync(h, 10, 1) == 10
        clock.advance(15)
    assert sync(h, 10, 1) == 2            # 100% in 15 s: straight to minReplicas


def test_scale_events_in_both_directions_count_towards_a_period():
    """The controller's period start is the current count minus what was added plus what was
    removed within the period, whichever direction is being limited."""
    h, clock = hpa(target=50, up=Rules(0, (Policy("Percent", 100, 15),)))
    assert sync(h, 4, 30) == 3            # t=0: one removed
    clock.advance(5)
    assert h.recommend(3, 5000).desired == 8   # the period started at 4: +100% of 4


# -- the project's manifests -----------------------------------------------------------------
def test_the_catalogs_manifest_policy_through_a_spike_and_the_calm_after_it():
    catalog = manifests.read("microservices")["catalog"]
    spec = catalog.autoscaler          # 70%, up x2 per 15 s, down 1 per 60 s after a 300 s window
    request = catalog.resources.cpu_request_m / 1000
    clock = Clock()
    h = HPA(spec, clock=clock)
    counts, current = [], spec.min_replicas
    for t in range(0, 1200, 15):
        load = 50 * request if t < 60 else 0.1 * request   # a spike for a minute, then calm
        utilization = 100 * load / (current * request)
        current = sync(h, current, utilization)
        counts.append((t, current))
        clock.advance(15)
    by_time = dict(counts)
    doubling = [min(spec.max_replicas, spec.min_replicas * 2 ** (k + 1)) for k in range(3)]
    assert [by_time[t] for t in (0, 15, 30)] == doubling        # doubling, capped at maxReplicas
    peak = max(c for _, c in counts)
    downs = [t for (t, c), (_, before) in zip(counts[1:], counts) if c < before]
    # The spike's last proposal was at t=45: nothing goes before it is 300 s old, then one pod a minute.
    assert downs == [345 + 60 * k for k in range(peak - spec.min_replicas)], counts
    assert counts[-1][1] == spec.min_replicas
