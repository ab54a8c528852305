"""Reading configuration from the environment, with working local defaults.

Each deployable has ONE config module that uses these (``monolith/config.py``,
``microservices/config.py``); nothing else reads the environment. What both deployables are
configured with is ``ShopSettings``, which both ``Config`` classes extend."""
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEV_SECRET = "dev-only-secret-change-me-in-production"


def env_str(name: str, default: str, env=None) -> str:
    value = (env if env is not None else os.environ).get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int, env=None, minimum: int | None = None) -> int:
    raw = env_str(name, str(default), env)
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"configuration error: {name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise SystemExit(f"configuration error: {name} must be at least {minimum}, got {value}")
    return value


def env_bool(name: str, default: bool, env=None) -> bool:
    return env_str(name, "1" if default else "0", env).lower() in ("1", "true", "yes", "on")


def forwarded_allow_ips(env=None) -> str:
    """SHOP_FORWARDED_ALLOW_IPS: the proxies (addresses or networks, comma-separated) whose
    forwarding headers are believed: gunicorn's X-Forwarded-Proto and SCRIPT_NAME, and the
    client address the login limit counts (X-Forwarded-For). Empty (the default): none."""
    return env_str("SHOP_FORWARDED_ALLOW_IPS", "", env)


def metrics_host(env=None) -> str:
    """SHOP_METRICS_HOST: where the metrics ports listen (loopback: for an operator, not the public)."""
    return env_str("SHOP_METRICS_HOST", "127.0.0.1", env)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False   # a name, "0.0.0.0", "": reachable from elsewhere


def login_limit_settings(env) -> dict:
    """The login limits (shop/accounts/limits.py: LoginLimits' fields)."""
    return {"per_account": env_int("SHOP_LOGIN_LIMIT_ACCOUNT", 10, env, minimum=0),
            "per_client": env_int("SHOP_LOGIN_LIMIT_CLIENT", 100, env, minimum=0),
            "window": env_int("SHOP_LOGIN_LIMIT_WINDOW_S", 300, env, minimum=1)}


INSECURE_SECRET_WARNING = (
    "WARNING: SHOP_SECRET is not set: tokens are signed with the published development secret, "
    "so anyone who can reach the shop could forge them. Fine on your laptop (the shop listens on "
    "loopback only); set SHOP_SECRET anywhere else.")


def check_secret(secret: str, hosts, allow_insecure: bool = False) -> str | None:
    """Starting with the published development secret: anyone could sign tokens for any user.
    Refused (SystemExit) when a process listens on an address other machines reach; on
    loopback (a laptop) the warning to print is returned (None: the secret is the operator's
    own). ``allow_insecure`` (SHOP_ALLOW_INSECURE_SECRET=1, as in deploy/) is for a throwaway
    try-out only."""
    if secret != DEV_SECRET:
        return None
    exposed = sorted({h for h in hosts if not is_loopback(h)})
    if exposed and not allow_insecure:
        raise SystemExit(
            f"refusing to start: SHOP_SECRET is the published development secret and the shop would "
            f"listen on {', '.join(exposed) or repr('')}, so anyone could forge sign-in tokens. Set "
            "SHOP_SECRET to a long random string, the same for every process (e.g. `python3 -c "
            "'import secrets; print(secrets.token_hex(32))'`).")
    return INSECURE_SECRET_WARNING


def data_dir(env=None) -> Path:
    return Path(env_str("SHOP_DATA_DIR", str(PROJECT_ROOT / "data"), env)).resolve()


@dataclass(frozen=True)
class AdmissionSettings:
    enabled: bool = True       # SHOP_ADMISSION: 0 turns shedding off (to compare)
    max_queue_ms: int = 100    # SHOP_MAX_QUEUE_MS: longest wait for a thread before a fast 503
    max_in_flight: int = 256   # SHOP_MAX_IN_FLIGHT: requests in flight per gevent worker process

    @classmethod
    def from_env(cls, env=None) -> "AdmissionSettings":
        return cls(enabled=env_bool("SHOP_ADMISSION", True, env),
                   max_queue_ms=env_int("SHOP_MAX_QUEUE_MS", 100, env, minimum=1),
                   max_in_flight=env_int("SHOP_MAX_IN_FLIGHT", 256, env, minimum=1))



@dataclass(frozen=True)
class ShopSettings:
    """The settings every deployable of the shop shares, read in one place (``shared_from_env``).
    Each deployable's ``Config`` extends this with its own processes and ports."""
    data_dir: Path = Path("data")
    secret: str = DEV_SECRET
    allow_insecure_secret: bool = False   # start with the development secret on a public address
    token_ttl: int = 86_400
    access_log: bool = True
    log_format: str = "json"              # or "text"
    tracing: str = "off"                  # or "console", "otlp"
    seed_shoppers: bool = True            # the load tests' accounts, with one published password
    # An unfinished checkout older than this is undone by recovery (its worker died mid-way).
    checkout_recover_after: float = 60.0
    admin_token: str = ""                 # the admin API (faults, recovery) is off without one
    admission: AdmissionSettings = field(default_factory=AdmissionSettings)  # load shedding
    forwarded_allow_ips: str = ""         # proxies whose forwarding headers are believed: none
    metrics_host: str = "127.0.0.1"       # where the metrics ports listen
    # The login limits, shop/accounts/limits.py's LoginLimits fields (per_account, per_client, window).
    login_limits: dict = field(default_factory=lambda: login_limit_settings({}))

    @staticmethod
    def shared_from_env(env=None) -> dict:
        """The shared settings' values from the environment, as keyword arguments of a Config."""
        return dict(
            data_dir=data_dir(env),
            secret=env_str("SHOP_SECRET", DEV_SECRET, env),
            allow_insecure_secret=env_bool("SHOP_ALLOW_INSECURE_SECRET", False, env),
            token_ttl=env_int("SHOP_TOKEN_TTL", 86_400, env, minimum=1),
            access_log=env_bool("SHOP_ACCESS_LOG", True, env),
            log_format=env_str("SHOP_LOG_FORMAT", "json", env).lower(),
            tracing=env_str("SHOP_TRACING", "off", env).lower(),
            seed_shoppers=env_bool("SHOP_SEED_SHOPPERS", True, env),
            checkout_recover_after=env_int("SHOP_CHECKOUT_RECOVER_AFTER_MS", 60000, env, minimum=1) / 1000,
            admin_token=env_str("SHOP_ADMIN_TOKEN", "", env),
            admission=AdmissionSettings.from_env(env),
            forwarded_allow_ips=forwarded_allow_ips(env),
            metrics_host=metrics_host(env),
            login_limits=login_limit_settings(env),
        )


@dataclass(frozen=True)
class Serving:
    """What gunicorn's hooks need to know about the process group they serve."""
    name: str                            # monolith, gateway, catalog, ...: in every log line
    log_format: str = "json"             # or "text"
    forwarded_allow_ips: str = ""        # the proxies whose forwarding headers gunicorn believes
    metrics_address: str | None = None   # host:port of the master's /metrics; None: none
    metrics_dir: Path | None = None      # PROMETHEUS_MULTIPROC_DIR: where the workers leave their numbers
