"""The resource sampler's bookkeeping (loadtests/sampler.py) on fake process readings: what a
restart, a stop, a worker missing for one sample and a process seen late add up to. The real
processes are in tests/load/test_sampler.py."""
from loadtests.sampler import ResourceSampler


class Processes:
    """pid -> (cpu seconds, rss MB); a pid not listed is gone."""

    def __init__(self, **readings):
        self.readings = {int(k[1:]): v for k, v in readings.items()}

    def read(self, pid):
        return self.readings.get(pid)


def sampler(procs, roots):
    s = ResourceSampler(lambda: dict(roots), interval=3600, read=procs.read)
    s.sample()
    s._baseline_taken = True   # as start() does, without its thread
    return s


def test_a_root_there_at_the_start_counts_from_then():
    procs, roots = Processes(p10=(5.0, 50.0)), {"svc": 10}
    s = sampler(procs, roots)
    procs.readings[10] = (7.5, 60.0)
    s.sample()
    assert s.cpu_seconds("svc") == 2.5


def test_a_restarted_root_counts_from_its_birth_and_keeps_what_the_old_one_spent():
    procs, roots = Processes(p10=(5.0, 50.0)), {"svc": 10}
    s = sampler(procs, roots)
    procs.readings[10] = (6.0, 50.0)
    s.sample()                                   # 1.0 s so far
    del procs.readings[10]
    roots["svc"] = 11                            # restarted, first seen with 3 s already spent
    procs.readings[11] = (3.0, 40.0)
    s.sample()
    assert s.cpu_seconds("svc") == 1.0 + 3.0
    procs.readings[11] = (3.5, 40.0)
    s.sample()
    assert s.cpu_seconds("svc") == 4.5


def test_a_stopped_root_keeps_its_last_reading():
    procs, roots = Processes(p10=(1.0, 50.0)), {"svc": 10}
    s = sampler(procs, roots)
    procs.readings[10] = (2.0, 50.0)
    s.sample()
    del procs.readings[10]                       # billing-down: no process for a while
    s.sample()
    s.sample()
    assert s.cpu_seconds("svc") == 1.0


def test_a_tree_that_dips_for_one_sample_never_goes_back():
    """A worker that exited but is not reaped yet is missing from its master's tree."""
    procs, roots = Processes(p10=(1.0, 50.0)), {"svc": 10}
    s = sampler(procs, roots)
    procs.readings[10] = (4.0, 50.0)
    s.sample()
    procs.readings[10] = (2.5, 50.0)
    s.sample()
    assert s.cpu_seconds("svc") == 3.0
    procs.readings[10] = (4.2, 50.0)             # reaped: counted in the master's children times
    s.sample()
    assert round(s.cpu_seconds("svc"), 6) == 3.2


def test_the_total_adds_up_every_root():
    procs = Processes(p10=(1.0, 10.0), p20=(2.0, 20.0))
    s = sampler(procs, {"a": 10, "b": 20})
    procs.readings.update({10: (1.5, 10.0), 20: (3.0, 20.0)})
    assert s.sample() == {"cpu_seconds": 1.5, "rss_mb": 30.0}
