"""The shop images' entry point: run ONE process of the shop, chosen by ``SHOP_PROCESS``.

    SHOP_PROCESS=monolith | gateway | accounts | catalog | cart | orders | billing | tax | shipping

There is one source of truth for how a process is started, and this file is not it:

- the services and the gateway get the command AND the environment that the launcher
  (``microservices/launcher.py``, ``make run-micro``) gives them: this builds the launcher's
  ``Cluster`` (which starts nothing) and takes that process's ``argv`` and ``env``;
- the monolith is started by ``python -m monolith``'s own ``main()``.

Both read every setting from the environment through the config modules
(``monolith/config.py``, ``microservices/config.py``) and end in ``shop.web.gunicorn.gunicorn_argv`` (the monolith's through ``monolith/serve.py``).
The process then *replaces* this script (exec): gunicorn is PID 1 and receives the container's
SIGTERM itself (graceful shutdown, ``--graceful-timeout 10``).

    entrypoint.py [PROCESS]            exec the process (PROCESS overrides SHOP_PROCESS)
    entrypoint.py --print [PROCESS]    print the command instead of running it
    entrypoint.py --healthcheck        GET /healthz of this container's process; exit 0 if 200

It also refuses to start with a token-signing key anybody knows (the development default or
the Kubernetes placeholder): tokens signed with it could be forged by anyone. Set
``SHOP_SECRET``; ``SHOP_ALLOW_INSECURE_SECRET=1`` overrides the check for a throwaway try-out.
"""
import os
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # /app in the images, the repository on a laptop
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PLACEHOLDER_PREFIX = "REPLACE-ME"  # deploy/k8s/base/secret.yaml ships a value starting with this


def processes() -> list[str]:
    """The processes this image can run: the monolith's image holds no microservices code, and
    the services' image no monolith."""
    names = ["monolith"] if (ROOT / "monolith").is_dir() else []
    if (ROOT / "microservices").is_dir():
        from microservices.config import SERVICE_PORTS
        names += ["gateway", *SERVICE_PORTS]
    return names


def _chosen(process: str | None, env) -> str:
    name = (process or env.get("SHOP_PROCESS") or "").strip()
    if name not in processes():
        shown = repr(name) if name else "nothing"
        raise SystemExit(f"entrypoint: SHOP_PROCESS must be one of {', '.join(processes())} "
                         f"(got {shown})")
    return name


def _cluster_process(process: str, env):
    from microservices.launcher import Cluster
    # The images run the Python gateway (Dockerfile.service sets GATEWAY=python and installs
    # no Envoy); the same default here when this script runs outside an image.
    return Cluster(env={"GATEWAY": "python", **env}, sink=None).processes[process]


def argv_for(process: str, env=None) -> list[str]:
    """The gunicorn command line of one process, exactly as the project builds it."""
    env = os.environ if env is None else env
    process = _chosen(process, env)
    if process == "monolith":
        # The monolith's one command line (monolith/serve.py), as `python -m monolith` runs it.
        from monolith import serve
        from monolith.config import Config
        return serve.argv(Config.from_env(env))
    return list(_cluster_process(process, env).argv)


def port_for(process: str, env=None) -> int:
    env = os.environ if env is None else env
    process = _chosen(process, env)
    if process == "monolith":
        from monolith.config import Config
        return Config.from_env(env).port
    from microservices.config import Config
    config = Config.from_env(env)
    return config.gateway.port if process == "gateway" else config.services[process].port


def healthcheck_url(process: str | None = None, env=None) -> str:
    return f"http://127.0.0.1:{port_for(process, env)}/healthz"


def healthcheck(env=None) -> int:
    env = os.environ if env is None else env
    process = _chosen(None, env)
    # The gateway's /healthz asks every service in turn (answering 200 "degraded" if one is
    # down), so it may take up to one internal call timeout: give it longer.
    timeout = 8 if process == "gateway" else 3
    try:
        with urllib.request.urlopen(healthcheck_url(process, env), timeout=timeout) as response:
            return 0 if response.status == 200 else 1
    except OSError as err:
        print(f"healthcheck: {process}: {err}", file=sys.stderr)
        return 1


def check_secret(env) -> None:
    from shop.web.settings import DEV_SECRET
    if env.get("SHOP_ALLOW_INSECURE_SECRET", "") in ("1", "true", "yes"):
        return
    secret = env.get("SHOP_SECRET", "")
    if not secret or secret == DEV_SECRET or secret.startswith(PLACEHOLDER_PREFIX):
        raise SystemExit(
            "entrypoint: refusing to start: SHOP_SECRET is unset or a publicly known value, so "
            "anyone could forge sign-in tokens. Set it to a long random string (the same for "
            "every process), e.g. `python3 -c 'import secrets; print(secrets.token_hex(32))'`; "
            "see deploy/README.md. For a throwaway try-out only: SHOP_ALLOW_INSECURE_SECRET=1.")


def run(process: str | None = None) -> None:
    env = os.environ
    process = _chosen(process, env)
    check_secret(env)
    if process == "monolith":
        from monolith.__main__ import main
        main()  # prints where it listens, then execs gunicorn
        raise SystemExit("entrypoint: `python -m monolith` returned instead of starting gunicorn")
    proc = _cluster_process(process, env)
    print(f"{process}: listening on {proc.argv[proc.argv.index('--bind') + 1]}", flush=True)
    os.execve(proc.argv[0], proc.argv, proc.env)


def main(args: list[str]) -> int:
    if args[:1] == ["--healthcheck"]:
        return healthcheck()
    if args[:1] == ["--print"]:
        print(" ".join(argv_for(args[1] if len(args) > 1 else None)))
        return 0
    if len(args) > 1 or (args and args[0].startswith("-")):
        raise SystemExit(f"usage: entrypoint.py [--print | --healthcheck] [PROCESS]  (got {' '.join(args)})")
    run(args[0] if args else None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
