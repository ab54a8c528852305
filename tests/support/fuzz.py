"""Fuzzing both deployments with schemathesis against docs/openapi.json.

Each run starts both deployments fresh (real gunicorn, free ports, throwaway data: what the
fuzzer creates, and the failed logins it makes from 127.0.0.1, stay out of every other test),
registers one user per deployment for the endpoints that need a token, and runs schemathesis'
command line against each with every check, as tests/fuzz/schemathesis.toml adjusts them
(one left out, and which statuses reject a request; the file says why).

Any other failure (a 5xx, a status, header, content type or body the document does not
describe, a schema-violating request accepted, ...) fails the run.

    python -m tests.support.fuzz                      # the deep run (make fuzz)
    python -m tests.support.fuzz --max-examples 20    # the bounded one CI runs (tests/fuzz)
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from shop.web.settings import PROJECT_ROOT

SCHEMA = PROJECT_ROOT / "docs" / "openapi.json"
SETTINGS = PROJECT_ROOT / "tests" / "fuzz" / "schemathesis.toml"
EXCLUDED_CHECKS = ["positive_data_acceptance"]   # why: tests/fuzz/schemathesis.toml


def schemathesis_argv(url: str, token: str, *, max_examples: int, seed: int | None,
                      max_time: int | None = None, workers: int = 1) -> list[str]:
    """One worker: with two, schemathesis 4.32.5 once failed inside hypothesis (a KeyError in
    its source-inspection cache, a race between its threads), a fuzzer error, not the shop's."""
    argv = [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(SETTINGS),
            "run", str(SCHEMA), "--url", url, "--checks", "all", "--exclude-checks", ",".join(EXCLUDED_CHECKS),
            "--max-examples", str(max_examples), "--workers", str(workers),
            "--header", f"Authorization: Bearer {token}",
            "--request-timeout", "30", "--no-color"]
    if seed is not None:
        argv += ["--seed", str(seed)]
    if max_time:
        argv += ["--max-time", str(max_time)]
    return argv


def fuzz(deployment, *, max_examples: int, seed: int | None, max_time: int | None = None,
         workdir: Path | None = None) -> tuple[int, str]:
    """Run schemathesis against one started deployment: (exit code, its report)."""
    from tests.support.client import Api
    token = Api(deployment.url).new_user("fuzz")["token"]
    workdir = workdir or Path(tempfile.mkdtemp(prefix="fuzz-"))
    proc = subprocess.run(schemathesis_argv(deployment.url, token, max_examples=max_examples, seed=seed,
                                            max_time=max_time),
                          cwd=workdir,   # schemathesis and hypothesis keep their files here, not in the repo
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    return proc.returncode, proc.stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=200, help="test cases per operation (default 200)")
    parser.add_argument("--max-time", type=int, default=None, help="seconds per deployment, at most")
    parser.add_argument("--seed", type=int, default=None, help="reproduce a run (default: a new one)")
    parser.add_argument("--only", choices=["monolith", "microservices"], help="one deployment only")
    args = parser.parse_args(argv)
    from tests.support.deployments import Microservices, Monolith
    failed = []
    for cls in (Monolith, Microservices):
        if args.only and cls.name != args.only:
            continue
        data = Path(tempfile.mkdtemp(prefix=f"fuzz-{cls.name}-"))
        deployment = cls(data).start()
        try:
            print(f"== {cls.name}: schemathesis, {args.max_examples} examples per operation", flush=True)
            code, report = fuzz(deployment, max_examples=args.max_examples, seed=args.seed,
                                max_time=args.max_time, workdir=data)
            print(report, flush=True)
            if code != 0:
                failed.append(cls.name)
        finally:
            deployment.stop()
    print("fuzzing: " + (f"FAILED on {', '.join(failed)}" if failed else "no failure on either deployment"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
