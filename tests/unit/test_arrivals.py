"""The open model's schedules and arrival times (loadtests/arrivals.py): pure functions, so
every expected value is worked out by hand or is a statistical bound with a fixed seed."""
import argparse
import random

import pytest

from loadtests import arrivals
from loadtests.arrivals import Schedule


def test_a_spike_is_baseline_a_straight_rise_a_hold_and_an_immediate_fall():
    s = arrivals.spike(baseline=10, peak=100, warmup=30, rise=5, hold=60, cooldown=20)
    assert s.end == 115
    assert s.rate(0) == s.rate(29.9) == 10
    assert s.rate(32.5) == pytest.approx(55)          # half-way up the rise
    assert s.rate(35) == s.rate(94.9) == 100
    assert s.rate(95) == s.rate(114.9) == 10          # the crowd leaves at once
    assert s.rate(115) == 0                           # the end: no more arrivals
    assert s.peak == 100


def test_expected_count_integrates_the_rate_exactly():
    s = arrivals.spike(baseline=10, peak=100, warmup=30, rise=5, hold=60, cooldown=20)
    assert s.expected_count(0, 30) == pytest.approx(300)
    assert s.expected_count(30, 35) == pytest.approx(5 * 55)          # the rise: its mean rate
    assert s.expected_count(90, 100) == pytest.approx(5 * 100 + 5 * 10)  # across the fall
    assert s.expected_count(0, 200) == pytest.approx(300 + 275 + 6000 + 200)


def test_poisson_counts_per_second_match_the_rate_with_a_fixed_seed():
    rate, seconds = 200.0, 200
    times = list(arrivals.arrivals(arrivals.constant(rate, seconds), random.Random(7)))
    assert times == sorted(times) and 0 <= times[0] and times[-1] < seconds
    low, high = arrivals.poisson_interval(rate * seconds)
    assert low <= len(times) <= high
    per_second = [0] * seconds
    for t in times:
        per_second[int(t)] += 1
    mean = sum(per_second) / seconds
    variance = sum((c - mean) ** 2 for c in per_second) / (seconds - 1)
    # A Poisson count's variance equals its mean (a constant-rate "pacing" would have ~0).
    assert 0.75 * mean < variance < 1.3 * mean
    lo1, hi1 = arrivals.poisson_interval(rate)
    assert all(lo1 <= c <= hi1 for c in per_second)


def test_a_varying_rate_is_followed_by_thinning():
    s = arrivals.spike(baseline=20, peak=400, warmup=50, rise=1, hold=50, cooldown=50)
    times = list(arrivals.arrivals(s, random.Random(11)))
    for start, end in [(0, 50), (51, 101), (101, 151)]:
        expected = s.expected_count(start, end)
        low, high = arrivals.poisson_interval(expected)
        count = sum(1 for t in times if start <= t < end)
        assert low <= count <= high, (start, end, count, expected)


def test_arrivals_can_start_late_and_the_same_seed_gives_the_same_times():
    s = arrivals.constant(50, 10)
    a = list(arrivals.arrivals(s, random.Random(3), start=4))
    assert a and min(a) >= 4
    assert a == list(arrivals.arrivals(s, random.Random(3), start=4))
    assert list(arrivals.arrivals(arrivals.constant(0, 10), random.Random(3))) == []


def test_scaled_gives_one_load_generator_its_share():
    s = arrivals.spike(10, 100, 1, 1, 1, 1).scaled(0.25)
    assert s.rate(0) == 2.5 and s.peak == 25 and s.end == 4


def test_step_rates_are_geometric_up_to_the_highest():
    assert arrivals.step_rates(50, 2, 400) == [50, 100, 200, 400]
    assert arrivals.step_rates(100, 1.5, 400) == [100, 150, 225, 337.5]
    with pytest.raises(ValueError):
        arrivals.step_rates(10, 1, 100)


def test_steps_and_phases_hold_each_rate_for_its_time():
    s = arrivals.steps([10, 20, 40], 5)
    assert s.end == 15 and [s.rate(t) for t in (0, 4.9, 5, 9.9, 10, 14.9)] == [10, 10, 20, 20, 40, 40]
    p = arrivals.phased([(3, 10), (2, 50), (4, 10)])
    assert p.end == 9 and [p.rate(t) for t in (0, 2.9, 3, 4.9, 5, 8.9)] == [10, 10, 50, 50, 10, 10]


def test_schedule_for_reads_the_shape_options():
    o = argparse.Namespace(shape="steady", steady_rps=30, fault_rps=90, steady_before=10, steady_fault=5,
                           steady_after=10)
    s = arrivals.schedule_for(o)
    assert (s.rate(5), s.rate(12), s.rate(20), s.end) == (30, 90, 30, 25)
    o.fault_rps = 0                       # 0: the same rate throughout
    assert arrivals.schedule_for(o).rate(12) == 30
    ramp = argparse.Namespace(shape="ramp", ramp_start_rps=25, ramp_factor=2, ramp_max_rps=100, ramp_step_seconds=4)
    assert arrivals.schedule_for(ramp).points[-1] == (12, 100)


def test_a_schedule_must_be_in_order_and_not_negative():
    with pytest.raises(ValueError):
        Schedule(((5, 1), (1, 1)), 10)
    with pytest.raises(ValueError):
        Schedule(((0, -1),), 10)
