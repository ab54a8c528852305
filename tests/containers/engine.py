"""The Docker engine, Compose and Swarm, driven from the tests through their command lines.

Nothing here sleeps for a fixed time: every wait polls for a condition (a container's health, a
port answering, a resource gone) until a deadline, and fails saying what it waited for, with the
containers' logs.

    DOCKER=/usr/bin/docker     the docker client to use (default: `docker` on PATH)
    COMPOSE="docker compose"   the Compose to use (default: the v2 plugin if present, else docker-compose)
"""
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
SWARM_DIR = ROOT / "deploy" / "swarm"


class EngineError(AssertionError):
    pass


def docker_cli() -> str:
    """$DOCKER, else the first docker client here that can build with BuildKit (which reads each
    Dockerfile's own .dockerignore): clients before 23.0 have it built in, later ones need the
    buildx plugin. A machine can have two clients, e.g. a newer one in /usr/local/bin without
    buildx and Debian's docker.io one in /usr/bin."""
    if os.environ.get("DOCKER"):
        return shutil.which(os.environ["DOCKER"]) or os.environ["DOCKER"]
    found = []
    for cli in (shutil.which("docker"), "/usr/bin/docker", "/usr/local/bin/docker"):
        if cli and os.access(cli, os.X_OK) and os.path.realpath(cli) not in map(os.path.realpath, found):
            found.append(cli)
    if not found:
        raise EngineError("no docker client: install Docker (Debian: apt-get install docker.io docker-compose)")
    for cli in found:
        if run([cli, "buildx", "version"], check=False, timeout=30).returncode == 0:
            return cli
        version = run([cli, "version", "--format", "{{.Client.Version}}"], check=False, timeout=30).stdout
        major = version.strip().split(".")[0]
        if major.isdigit() and int(major) < 23:
            return cli
    return found[0]


def run(argv, *, check=True, env=None, timeout=600, input=None) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, input=input)
    if check and out.returncode != 0:
        raise EngineError(f"`{shlex.join(map(str, argv))}` exited {out.returncode}:\n"
                          f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out


def wait_for(check, *, timeout: float, what: str, interval: float = 0.5, on_timeout=None):
    """Poll ``check()`` until it returns something truthy (returned); it may raise to fail at once."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = on_timeout() if on_timeout else ""
            raise EngineError(f"timed out after {timeout:.0f} s waiting for {what}\n{detail}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_environ() -> dict:
    """This process's environment without what would change what Compose or Swarm reads from the
    files: a developer's own SHOP_* settings, published ports, Compose's project settings."""
    skip = ("COMPOSE_PROJECT_NAME", "COMPOSE_FILE", "COMPOSE_PROFILES", "LOCUST_TARGET")
    return {k: v for k, v in os.environ.items()
            if not k.startswith("SHOP_") and not k.endswith("_PUBLISH_PORT") and k not in skip}


class Docker:
    def __init__(self, cli: str | None = None):
        self.cli = cli or docker_cli()

    def __call__(self, *args, **kw) -> subprocess.CompletedProcess:
        return run([self.cli, *args], **kw)

    def answers(self) -> str:
        """Empty if the engine answers, else why not."""
        out = run([self.cli, "info", "--format", "{{.ServerVersion}}"], check=False, timeout=30)
        return "" if out.returncode == 0 and out.stdout.strip() else (out.stderr.strip() or "no answer")

    def ids(self, *filters: str, all=True) -> list[str]:
        args = ["ps", "-q", "--no-trunc"] + (["-a"] if all else [])
        for f in filters:
            args += ["--filter", f]
        return self(*args).stdout.split()

    def inspect(self, *ids: str, kind: str = "container") -> list[dict]:
        if not ids:
            return []
        return json.loads(self(kind, "inspect", *ids).stdout)

    def logs(self, ids, tail: int = 40) -> str:
        parts = []
        for c in self.inspect(*ids):
            out = self("logs", "--tail", str(tail), c["Id"], check=False)
            parts.append(f"---- {c['Name'].lstrip('/')} ({c['State']['Status']}, health "
                         f"{(c['State'].get('Health') or {}).get('Status')}):\n{out.stdout}{out.stderr}")
        return "\n".join(parts)

    def exec(self, container: str, *argv: str, env: dict | None = None, check=False):
        extra = [a for k, v in (env or {}).items() for a in ("-e", f"{k}={v}")]
        return self("exec", *extra, container, *argv, check=check, timeout=60)

    def wait_healthy(self, filters: list[str], expected: set[str], name_of, *, timeout: float = 300) -> list[dict]:
        """Wait until exactly the ``expected`` containers run and their own healthchecks pass.
        Fails at once if one exits, restarts or turns unhealthy."""
        def check():
            containers = [c for c in self.inspect(*self.ids(*filters)) if name_of(c) in expected]
            by_name = {name_of(c): c for c in containers}
            for c in containers:
                name = name_of(c)
                state = c["State"]
                health = (state.get("Health") or {}).get("Status")
                if state["Status"] in ("exited", "dead") or state.get("OOMKilled") or c.get("RestartCount", 0) \
                        or health == "unhealthy":
                    raise EngineError(f"{name} failed to start: status {state['Status']}, exit code "
                                      f"{state['ExitCode']}, health {health}, OOM-killed {state.get('OOMKilled')}, "
                                      f"restarts {c.get('RestartCount', 0)}\n{self.logs([c['Id']], tail=80)}")
            if set(by_name) == expected and all(
                    (c["State"].get("Health") or {}).get("Status") == "healthy" for c in by_name.values()):
                return list(by_name.values())
            return None
        return wait_for(check, timeout=timeout, what=f"{', '.join(sorted(expected))} to be healthy",
                        on_timeout=lambda: self.logs(self.ids(*filters)))

    # ---- checks shared by Compose and Swarm ----------------------------------------------------
    def cgroup_limits(self, container: str) -> dict:
        """The CPU quota and memory limit the kernel enforces, read inside the container from its
        cgroup (v2 or v1): {"cpus": float | None, "memory": int | None} (None: no limit)."""
        script = ("if [ -f /sys/fs/cgroup/cpu.max ]; then echo v2; cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/memory.max; "
                  "else echo v1; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us "
                  "/sys/fs/cgroup/memory/memory.limit_in_bytes; fi")
        _, quota, period, memory = self.exec(container, "sh", "-c", script, check=True).stdout.split()
        cpus = None if quota in ("max", "-1") else int(quota) / int(period)
        memory = None if memory == "max" or int(memory) >= 2 ** 62 else int(memory)
        return {"cpus": cpus, "memory": memory}


def byte_value(text) -> int:
    """Compose's and Swarm's memory sizes ("704M", "1.5g", "512k", bytes): binary units, as Docker
    reads them (docker/go-units RAMInBytes)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmg]?)b?", str(text).strip().lower())
    if not match:
        raise ValueError(f"not a memory size: {text!r}")
    return int(float(match.group(1)) * 1024 ** " kmg".index(match.group(2) or " "))


class Compose:
    """One Compose project: `up`, wait for health, `down -v`. Works with Compose v2 (`docker
    compose`) and v1 (`docker-compose` 1.29, which has no `--wait`)."""

    def __init__(self, docker: Docker, project: str, env: dict, profiles: list[str]):
        self.docker, self.project, self.profiles = docker, project, profiles
        self.base = self.command(docker)
        self._env_dir = tempfile.TemporaryDirectory(prefix="compose-env-")
        # An empty env file: a developer's deploy/.env must not change what the test runs.
        env_file = Path(self._env_dir.name) / "empty.env"
        env_file.write_text("")
        self.env = {**clean_environ(), **env}
        if self.version == 1:
            # v1 builds through the docker CLI with BuildKit only when told to; BuildKit reads
            # deploy/docker/<Dockerfile>.dockerignore (the legacy builder would send the whole
            # repository). The CLI it calls is `docker` on PATH: make that ours.
            shim = Path(self._env_dir.name) / "bin"
            shim.mkdir()
            (shim / "docker").symlink_to(docker.cli)
            self.env.update(COMPOSE_DOCKER_CLI_BUILD="1", DOCKER_BUILDKIT="1",
                            PATH=f"{shim}{os.pathsep}{self.env.get('PATH', '')}")
        self.args = [*self.base, "--env-file", str(env_file), "-p", project, "-f", str(COMPOSE_FILE)]

    @staticmethod
    def command(docker: Docker) -> list[str]:
        if os.environ.get("COMPOSE"):
            return shlex.split(os.environ["COMPOSE"])
        if run([docker.cli, "compose", "version"], check=False).returncode == 0:
            return [docker.cli, "compose"]
        if shutil.which("docker-compose"):
            return [shutil.which("docker-compose")]
        raise EngineError("no Compose: install the compose plugin or docker-compose")

    @property
    def version(self) -> int:
        out = run([*self.base, "version", "--short"], check=False).stdout.strip()
        return 1 if out.startswith("1.") else 2

    def __call__(self, *args, profiles=None, timeout=900, check=True):
        prof = [a for p in (self.profiles if profiles is None else profiles) for a in ("--profile", p)]
        return run([*self.args, *prof, *args], env=self.env, timeout=timeout, check=check)

    def config(self) -> dict:
        import yaml
        return yaml.safe_load(self("config").stdout)

    def filters(self) -> list[str]:
        return [f"label=com.docker.compose.project={self.project}"]

    def containers(self) -> list[dict]:
        return self.docker.inspect(*self.docker.ids(*self.filters()))

    @staticmethod
    def service_of(container: dict) -> str:
        return container["Config"]["Labels"]["com.docker.compose.service"]

    def up(self, services: set[str], timeout: float = 300) -> list[dict]:
        self("up", "-d", "--no-build", timeout=timeout)
        return self.docker.wait_healthy(self.filters(), services, self.service_of, timeout=timeout)

    def down(self, all_profiles: list[str]):
        """Remove every container, network and volume of the project, and check that none is left."""
        self("down", "-v", "--remove-orphans", "-t", "20", profiles=all_profiles, check=False, timeout=300)
        (label,) = self.filters()
        left = {"container": self.docker.ids(label),
                "network": self.docker("network", "ls", "-q", "--filter", label).stdout.split(),
                "volume": self.docker("volume", "ls", "-q", "--filter", label).stdout.split()}
        left = {kind: ids for kind, ids in left.items() if ids}
        for kind, ids in left.items():     # clean up anyway, then report
            self.docker(kind, "rm", *(["-f"] if kind == "container" else []), *ids, check=False)
        self._env_dir.cleanup()
        if left:
            raise EngineError(f"`compose down -v` left {left} of project {self.project} (now removed)")
