"""The resources of a comparison run are counted over the load only, on the load's clock."""
from loadtests.sampler import window


def _resources(n=10, start=100.0):
    return {
        "cpu_seconds": float(n - 1), "peak_rss_mb": 99.0, "avg_rss_mb": 99.0,
        "processes": [{"name": "a", "pid": 1, "cpu_seconds": 9.0, "peak_rss_mb": 9.0},
                      {"name": "b", "pid": 2, "cpu_seconds": 0.9, "peak_rss_mb": 1.0}],
        "timeline": [{"t": i, "epoch": start + i, "cpu_percent": 1.0, "rss_mb": 10.0 + i,
                      "cpu_total_s": 1.1 * i, "cpu_by_process_s": {"a": 1.0 * i, "b": 0.1 * i}}
                     for i in range(n)],
    }


def test_cpu_is_counted_from_the_last_sample_before_the_load_to_the_end_of_it():
    res = window(_resources(), start_epoch=103.5, duration_s=4)
    # samples at 104..108 are inside; the one at 103 is the baseline: 8*1.1 - 3*1.1
    assert res["cpu_seconds"] == round(5 * 1.1, 2)
    assert {p["name"]: p["cpu_seconds"] for p in res["processes"]} == {"a": 5.0, "b": 0.5}


def test_the_timeline_is_moved_to_the_loads_clock_and_memory_follows_the_window():
    res = window(_resources(), start_epoch=103.5, duration_s=4)
    assert [r["t"] for r in res["timeline"]] == [0.5, 1.5, 2.5, 3.5, 4.5]
    assert res["peak_rss_mb"] == 18.0
    assert res["avg_rss_mb"] == 16.0


def test_too_few_samples_in_the_window_leaves_the_resources_as_they_were():
    original = _resources(n=3)
    assert window(original, start_epoch=500.0, duration_s=10) is original
