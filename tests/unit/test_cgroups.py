"""The CPU-limit groups against fake cgroup trees (v1 and v2): what is written where."""
from pathlib import Path

import pytest

from loadtests import cgroups
from loadtests.cgroups import CpuGroup


def v1_tree(root: Path) -> Path:
    for controller, files in (("cpu", ["cpu.cfs_quota_us", "cpu.cfs_period_us", "cgroup.procs", "cpu.stat"]),
                              ("cpuacct", ["cpuacct.usage", "cgroup.procs"])):
        (root / controller).mkdir(parents=True)
        for f in files:
            (root / controller / f).write_text("")
    return root


def v2_tree(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "cgroup.procs").write_text("")
    return root


class FakeKernel:
    """mkdir makes a cgroup's files, as the kernel would."""

    def __init__(self, monkeypatch, layout):
        real_mkdir = Path.mkdir

        def mkdir(path, *args, **kwargs):
            real_mkdir(path, *args, **kwargs)
            names = (["cpu.cfs_quota_us", "cpu.cfs_period_us", "cgroup.procs", "cpu.stat"] if "/cpu/" in str(path)
                     else ["cpuacct.usage", "cgroup.procs"]) if layout == "v1" else \
                ["cpu.max", "cgroup.procs", "cpu.stat", "cgroup.subtree_control"]
            for n in names:
                if not (path / n).exists():
                    (path / n).write_text("")
        monkeypatch.setattr(Path, "mkdir", mkdir)


def test_v1_quota_is_cores_times_the_period(tmp_path, monkeypatch):
    root = v1_tree(tmp_path / "cg")
    FakeKernel(monkeypatch, "v1")
    group = CpuGroup("monolith", root=root)
    folder = root / "cpu" / cgroups.PARENT / "monolith"
    assert (folder / "cpu.cfs_quota_us").read_text() == "-1"   # no limit until one is set
    group.set_limit(0.5)
    assert (folder / "cpu.cfs_period_us").read_text() == "100000"
    assert (folder / "cpu.cfs_quota_us").read_text() == "50000"
    assert group.limit == 0.5
    group.set_limit(None)
    assert (folder / "cpu.cfs_quota_us").read_text() == "-1"


def test_v2_writes_cpu_max_and_enables_the_controller(tmp_path, monkeypatch):
    root = v2_tree(tmp_path / "cg")
    FakeKernel(monkeypatch, "v2")
    group = CpuGroup("catalog", root=root)
    assert "cpu" in (root / "cgroup.subtree_control").read_text()
    group.set_limit(1.25)
    assert (root / cgroups.PARENT / "catalog" / "cpu.max").read_text() == "125000 100000"
    group.set_limit(None)
    assert (root / cgroups.PARENT / "catalog" / "cpu.max").read_text() == "max 100000"


def test_members_are_written_to_both_v1_controllers(tmp_path, monkeypatch):
    root = v1_tree(tmp_path / "cg")
    FakeKernel(monkeypatch, "v1")
    group = CpuGroup("gateway", root=root)
    group.add(4242)
    assert (root / "cpu" / cgroups.PARENT / "gateway" / "cgroup.procs").read_text() == "4242"
    assert (root / "cpuacct" / cgroups.PARENT / "gateway" / "cgroup.procs").read_text() == "4242"


def test_usage_and_throttling_are_read_in_seconds(tmp_path, monkeypatch):
    root = v1_tree(tmp_path / "cg")
    FakeKernel(monkeypatch, "v1")
    group = CpuGroup("monolith", root=root)
    (root / "cpuacct" / cgroups.PARENT / "monolith" / "cpuacct.usage").write_text("2500000000\n")
    (root / "cpu" / cgroups.PARENT / "monolith" / "cpu.stat").write_text(
        "nr_periods 40\nnr_throttled 12\nthrottled_time 1500000000\n")
    assert group.usage_seconds() == 2.5
    assert group.throttling() == {"periods": 40, "throttled_periods": 12, "throttled_s": 1.5}


def test_a_limit_must_be_positive(tmp_path, monkeypatch):
    FakeKernel(monkeypatch, "v1")
    group = CpuGroup("x", root=v1_tree(tmp_path / "cg"))
    with pytest.raises(ValueError):
        group.set_limit(0)


def test_no_controller_says_why_in_one_sentence(tmp_path):
    reason = cgroups.unavailable(tmp_path)
    assert reason and "cpu controller" in reason and "\n" not in reason
    with pytest.raises(OSError, match="cannot be set"):
        CpuGroup("x", root=tmp_path)
