"""Container CPU and memory, computed from a measured run instead of guessed.

    python3 deploy/sizing.py                                  # the table, from the recorded extract
    python3 deploy/sizing.py results/<run>/summary.json       # the table from another run
    python3 deploy/sizing.py results/<run>/summary.json --extract > deploy/sizing-spike-default.json

The input is a ``make compare`` summary (``results/<run>/summary.json``): per process and per
repeat, the CPU seconds it used and its peak resident memory, plus the requests served and the
request rate during the spike. ``results/`` is not in git, so the numbers this deployment is sized
from are kept in ``deploy/sizing-spike-default.json`` (with the run's date and commit), and a
test checks that the manifests (Compose and Kubernetes) carry exactly what the rules below give.

The rules (deploy/README.md says why):

- CPU request = cpu_seconds / requests * spike_rps, i.e. the process's average cores while it
  serves the spike's request rate (median of the repeats), rounded UP to a multiple of 50m.
- CPU limit = 1000m per gunicorn worker process: one worker is one Python process and uses
  at most about one core (the GIL), which every run reached during its login burst.
- memory request = peak RSS * 1.25 (25% headroom), rounded up to a multiple of 16 MiB.
- memory limit = peak RSS * 2, rounded up to a multiple of 32 MiB; for the processes that hash
  passwords (accounts, monolith) at least peak RSS + 32 MiB for every request thread, because
  each concurrent scrypt hash (werkzeug's default, n=2**15, r=8) allocates 32 MiB.
"""
import json
import math
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRACT = ROOT / "deploy" / "sizing-spike-default.json"
SCRYPT_MIB = 128 * 8 * 2**15 / 2**20          # memory of one scrypt hash: 128 * r * n bytes
PASSWORD_HASHERS = ("accounts", "monolith")    # processes that run scrypt on login/registration


def extract(summary: dict, source: str = "results/spike-default/summary.json") -> dict:
    """The numbers the sizing needs, per process and per repeat, from a make compare summary."""
    env = summary["environment"]
    out = {"source": source, "date_utc": env["date (UTC)"], "git_commit": env.get("git commit"),
           "shape": env.get("shape"), "shape_options": env.get("shape options"),
           "cpus": env.get("CPUs"), "cpus_for_the_system_under_test": env.get("CPUs for the system under test"),
           "processes": {}}
    for target, runs in summary["runs"].items():
        for run in runs:
            for p in run["resources"]["processes"]:
                row = out["processes"].setdefault(p["name"], {"deployment": target, "cpu_seconds": [],
                                                              "peak_rss_mb": [], "requests": [], "spike_rps": []})
                row["cpu_seconds"].append(p["cpu_seconds"])
                row["peak_rss_mb"].append(p["peak_rss_mb"])
                row["requests"].append(run["totals"]["all"]["requests"])
                row["spike_rps"].append(run["totals"]["spike"]["rps"])
    return out


def default_workers() -> dict[str, tuple[int, int]]:
    """(worker processes, threads per worker) of every process with the code's defaults."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from microservices.config import Config as MicroConfig
    from monolith.config import Config as MonolithConfig
    mono, micro = MonolithConfig.from_env({}), MicroConfig.from_env({})
    workers = {"monolith": (mono.workers, mono.threads), "gateway": (micro.gateway.workers, micro.gateway.threads)}
    workers.update({name: (p.workers, p.threads) for name, p in micro.services.items()})
    return workers


def _up(value: float, step: float) -> int:
    return int(math.ceil(round(value / step, 9)) * step)


def size(measured: dict, workers: dict[str, tuple[int, int]] | None = None) -> dict[str, dict]:
    """Requests and limits per process (CPU in millicores, memory in MiB), with the inputs."""
    workers = workers or default_workers()
    sizes = {}
    for name, m in measured["processes"].items():
        cores = statistics.median(c / r * s for c, r, s in zip(m["cpu_seconds"], m["requests"], m["spike_rps"]))
        peak = statistics.median(m["peak_rss_mb"])
        n_workers, threads = workers[name]
        mem_limit = _up(peak * 2, 32)
        if name in PASSWORD_HASHERS:
            mem_limit = max(mem_limit, _up(peak + n_workers * threads * SCRYPT_MIB, 32))
        sizes[name] = {
            "deployment": m["deployment"],
            "cpu_seconds": statistics.median(m["cpu_seconds"]),
            "cores_at_spike": round(cores, 3),
            "peak_rss_mib": peak,
            "workers": n_workers,
            "cpu_request_m": max(50, _up(cores * 1000, 50)),
            "cpu_limit_m": 1000 * n_workers,
            "memory_request_mi": _up(peak * 1.25, 16),
            "memory_limit_mi": mem_limit,
        }
    return sizes


def markdown(sizes: dict[str, dict]) -> str:
    head = ("| process | CPU s (median) | cores at spike rate | CPU request | workers | CPU limit "
            "| peak RSS MiB | memory request | memory limit |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = [f"| {n} | {s['cpu_seconds']:.2f} | {s['cores_at_spike']:.3f} | {s['cpu_request_m']}m "
            f"| {s['workers']} | {s['cpu_limit_m']}m | {s['peak_rss_mib']:.1f} | {s['memory_request_mi']}Mi "
            f"| {s['memory_limit_mi']}Mi |" for n, s in sizes.items()]
    totals = {}
    for s in sizes.values():
        t = totals.setdefault(s["deployment"], [0, 0])
        t[0] += s["cpu_request_m"]
        t[1] += s["memory_request_mi"]
    foot = [f"| **{d} total requests** | | | **{c}m** | | | | **{m}Mi** | |" for d, (c, m) in totals.items()]
    return "\n".join([head, *rows, *foot])


def main(args: list[str]) -> int:
    if args and not args[0].startswith("-"):
        source = args[0]
        measured = extract(json.loads(Path(source).read_text()), source)
    else:
        measured = json.loads(EXTRACT.read_text())
    if "--extract" in args:
        print(json.dumps(measured, indent=1))
    else:
        print(markdown(size(measured)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
