"""Reading configuration from the environment, with working local defaults.

Each deployable has ONE config module that uses these (``monolith/config.py``,
``microservices/config.py``); nothing else reads the environment."""
import ipaddress
import os
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


def login_limit_settings(env=None) -> dict:
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
