"""Container CPU and memory, computed from a measured run instead of guessed.

    python3 deploy/sizing.py                                  # the table, from the recorded extract
    python3 deploy/sizing.py results/<run>/summary.json       # the table from another run
    python3 deploy/sizing.py results/<run>/summary.json --extract > deploy/sizing-spike-default.json
    python3 deploy/sizing.py --apply                          # write the sizes into deploy/ (k8s, Compose, Swarm)

The input is a ``make compare`` summary (``results/<run>/summary.json``): per process and per
repeat, the CPU seconds it used and its peak resident memory, plus the requests served and the
request rate during the spike. ``results/`` is not in git, so the numbers this deployment is sized
from are kept in ``deploy/sizing-spike-default.json`` (with the run's date and commit), and a
test checks that the manifests (Compose and Kubernetes) carry exactly what the rules below give.

The rules (deploy/README.md says why):

- One replica is one gunicorn worker process (the pods run one worker each; the autoscaler adds
  replicas). Its CPU is read per phase off the run's resource timeline (``cores``: the
  process's average cores in that phase, median of the repeats).
- CPU request = the cores it used at the spike's *baseline* rate, divided by the autoscalers'
  target utilisation (70%), rounded UP to a multiple of 50m (at least 50m): at the baseline a
  replica sits at the target, and the HPA adds replicas when the traffic grows.
- CPU limit = the request (Kubernetes' Guaranteed class for CPU; the autoscaling experiment,
  `make compare SCENARIO=autoscale`, runs every replica that way: deploy/README.md says what it
  costs and when to choose it).
- Compose has no autoscaler: a Compose service's CPU limit is what the process used during the
  spike's peak, divided by 70%, rounded up to 50m (at least its request); its reservation is
  the request.
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


TARGET_UTILISATION = 0.7     # the HPAs' averageUtilization (deploy/k8s/*/hpa.yaml)


def phase_cores(run: dict, name: str, phase: str) -> float | None:
    """A process's average cores during a phase of a run, from the cumulative CPU seconds of
    the resource timeline (the baseline skips its first 5 s: connections opening; the spike
    its rise)."""
    phases = {p["name"]: p for p in run.get("phases") or []}
    if phase not in phases:
        return None
    start, end = phases[phase]["start"], phases[phase]["end"]
    if phase == "baseline":
        start += 5
    if phase == "spike":
        start += float((run.get("shape_options") or {}).get("spike_rise") or 0)
    rows = [r for r in (run.get("resources") or {}).get("timeline") or [] if start <= r["t"] <= end]
    if len(rows) < 2:
        return None
    used = rows[-1]["cpu_by_process_s"].get(name, 0.0) - rows[0]["cpu_by_process_s"].get(name, 0.0)
    return round(used / (rows[-1]["t"] - rows[0]["t"]), 4)


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
                                                              "peak_rss_mb": [], "baseline_cores": [],
                                                              "spike_cores": []})
                row["cpu_seconds"].append(p["cpu_seconds"])
                row["peak_rss_mb"].append(p["peak_rss_mb"])
                row["baseline_cores"].append(phase_cores(run, p["name"], "baseline"))
                row["spike_cores"].append(phase_cores(run, p["name"], "spike"))
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
        base = statistics.median(c for c in m["baseline_cores"] if c is not None)
        spike = statistics.median(c for c in m["spike_cores"] if c is not None)
        peak = statistics.median(m["peak_rss_mb"])
        n_workers, threads = workers[name]
        mem_limit = _up(peak * 2, 32)
        if name in PASSWORD_HASHERS:
            mem_limit = max(mem_limit, _up(peak + n_workers * threads * SCRYPT_MIB, 32))
        request = max(50, _up(base / TARGET_UTILISATION * 1000, 50))
        sizes[name] = {
            "deployment": m["deployment"],
            "cpu_seconds": statistics.median(m["cpu_seconds"]),
            "cores_at_baseline": round(base, 3),
            "cores_at_spike": round(spike, 3),
            "peak_rss_mib": peak,
            "workers": n_workers,
            "cpu_request_m": request,
            "cpu_limit_m": request,
            "compose_cpu_limit_m": max(request, _up(spike / TARGET_UTILISATION * 1000, 50)),
            "memory_request_mi": _up(peak * 1.25, 16),
            "memory_limit_mi": mem_limit,
        }
    return sizes


def markdown(sizes: dict[str, dict]) -> str:
    head = ("| process | cores at the baseline | cores at the spike | CPU request = limit (one replica) "
            "| Compose CPU limit | peak RSS MiB | memory request | memory limit |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|")
    rows = [f"| {n} | {s['cores_at_baseline']:.3f} | {s['cores_at_spike']:.3f} | {s['cpu_request_m']}m "
            f"| {s['compose_cpu_limit_m']}m | {s['peak_rss_mib']:.1f} | {s['memory_request_mi']}Mi "
            f"| {s['memory_limit_mi']}Mi |" for n, s in sizes.items()]
    totals = {}
    for s in sizes.values():
        t = totals.setdefault(s["deployment"], [0, 0])
        t[0] += s["cpu_request_m"]
        t[1] += s["memory_request_mi"]
    foot = [f"| **{d} total requests** | | | **{c}m** | | | | **{m}Mi** | |" for d, (c, m) in totals.items()]
    return "\n".join([head, *rows, *foot])


K8S_FILES = {"monolith": "k8s/monolith/monolith.yaml"}
STACK_FILES = ["compose.yaml", "swarm/monolith.yaml", "swarm/microservices.yaml"]


def apply(sizes: dict[str, dict]) -> list[Path]:
    """Write the sizes into the Kubernetes, Compose and Swarm files (their resource lines only;
    comments and everything else stay as they are). Returns the files changed."""
    import re
    deploy = ROOT / "deploy"
    changed = []
    for name, sz in sizes.items():
        path = deploy / K8S_FILES.get(name, f"k8s/microservices/{name}.yaml")
        text = path.read_text()
        new = re.sub(r"requests: \{cpu: \w+, memory: \w+\}",
                     f"requests: {{cpu: {sz['cpu_request_m']}m, memory: {sz['memory_request_mi']}Mi}}", text, count=1)
        new = re.sub(r"limits: \{cpu: \w+, memory: \w+\}",
                     f"limits: {{cpu: {sz['cpu_limit_m']}m, memory: {sz['memory_limit_mi']}Mi}}", new, count=1)
        if new != text:
            path.write_text(new)
            changed.append(path)
    for rel in STACK_FILES:
        path = deploy / rel
        text = path.read_text()
        for name, sz in sizes.items():
            block = re.search(rf"(?ms)^  {re.escape(name)}:\n.*?(?=^  \S|\Z)", text)
            if not block:
                continue
            part = block.group(0)
            part = re.sub(r'reservations: \{cpus: "[\d.]+", memory: \w+\}',
                          f'reservations: {{cpus: "{sz["cpu_request_m"] / 1000:g}", memory: {sz["memory_request_mi"]}M}}', part)
            part = re.sub(r'limits: \{cpus: "[\d.]+", memory: \w+\}',
                          f'limits: {{cpus: "{sz["compose_cpu_limit_m"] / 1000:g}", memory: {sz["memory_limit_mi"]}M}}', part)
            text = text[:block.start()] + part + text[block.end():]
        if text != path.read_text():
            path.write_text(text)
            changed.append(path)
    return changed


def main(args: list[str]) -> int:
    if args and not args[0].startswith("-"):
        source = args[0]
        measured = extract(json.loads(Path(source).read_text()), source)
    else:
        measured = json.loads(EXTRACT.read_text())
    if "--extract" in args:
        print(json.dumps(measured, indent=1))
    elif "--apply" in args:
        for path in apply(size(measured)):
            print(f"sized {path.relative_to(ROOT)}")
    else:
        print(markdown(size(measured)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
