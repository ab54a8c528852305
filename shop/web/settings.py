"""Reading configuration from the environment, with working local defaults.

Each deployable has ONE config module that uses these (``monolith/config.py``,
``microservices/config.py``); nothing else reads the environment."""
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


def data_dir(env=None) -> Path:
    return Path(env_str("SHOP_DATA_DIR", str(PROJECT_ROOT / "data"), env)).resolve()
