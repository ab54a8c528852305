"""How long a graceful restart takes, with and without a client holding an idle kept-alive
connection to the process (no load otherwise). The redeploy scenario's restart times vary
with exactly that: a stopping gunicorn worker keeps idle kept-alive connections for up to 2 s.

    .venv/bin/python -m loadtests.restart_timing                          # orders, microservices
    .venv/bin/python -m loadtests.restart_timing --target monolith --process monolith

Each deployment is started fresh on free ports in a temporary folder and stopped afterwards."""
import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import requests

from loadtests.sut import SUTS, base_env


def measure(sut, process: str, url: str, repeats: int) -> dict[str, list[float]]:
    times = {"no connection held": [], "an idle kept-alive connection held": []}
    sut.restart(process)  # the first restart after start-up also waits for start-up's clients
    for _ in range(repeats):
        times["no connection held"].append(round(sut.restart(process), 2))
    for _ in range(repeats):
        with requests.Session() as held:
            held.get(f"{url}/healthz", timeout=5)  # answered, then kept open and idle
            times["an idle kept-alive connection held"].append(round(sut.restart(process), 2))
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=sorted(SUTS), default="microservices")
    parser.add_argument("--process", default="orders", help="the process to restart (monolith: monolith)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.process not in SUTS[args.target].processes:
        print(f"no process '{args.process}' in the {args.target}; one of "
              f"{', '.join(SUTS[args.target].processes)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        sut = SUTS[args.target](Path(folder), base_env()).start()
        try:
            # The process's own port (its workers hold the idle connection), not its metrics port.
            url = sut.url if args.target == "monolith" else sut.cluster.processes[args.process].url
            times = measure(sut, args.process, url, max(1, args.repeats))
        finally:
            sut.stop()
    for case, values in times.items():
        print(f"{args.target}/{args.process}, {case}: median {statistics.median(values):.2f} s "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
