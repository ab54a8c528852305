"""The monolith's configuration: the only place it reads the environment."""
from dataclasses import dataclass, field
from pathlib import Path

from shop.web.admission import AdmissionSettings
from shop.web.gunicorn import pid_file
from shop.web.settings import (DEV_SECRET, check_secret, data_dir, env_bool, env_int, env_str, forwarded_allow_ips,
                               login_limit_settings, metrics_host)


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    threads: int = 8
    data_dir: Path = Path("data")
    secret: str = DEV_SECRET
    token_ttl: int = 86_400
    access_log: bool = True
    seed_shoppers: bool = True   # the load tests' accounts, with one published password
    # An unfinished checkout older than this is undone by recovery (its worker died mid-way).
    checkout_recover_after: float = 60.0
    admin_token: str = ""        # the admin API (fault injection) is off without one
    admission: AdmissionSettings = field(default_factory=AdmissionSettings)  # load shedding
    allow_insecure_secret: bool = False   # start with the development secret on a public address
    # Metrics are served by the gunicorn master on a port of their own, not the public one (0: none).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9000
    forwarded_allow_ips: str = ""  # proxies whose forwarding headers are believed: none
    # The login limits, shop/accounts/limits.py's LoginLimits fields (per_account, per_client, window).
    login_limits: dict = field(default_factory=login_limit_settings)

    def check_secret(self) -> str | None:
        """SystemExit if the development secret would be used on a public address; else the
        warning to print, if any (shop/web/settings.py: check_secret)."""
        return check_secret(self.secret, [self.host, *([self.metrics_host] if self.metrics_port else [])],
                            self.allow_insecure_secret)

    def secret_warning(self) -> str | None:
        """The warning to print on a laptop; None when the secret is the operator's own, or when
        check_secret refuses (the app does, as it loads: monolith/app.py)."""
        try:
            return self.check_secret()
        except SystemExit:
            return None

    @property
    def metrics_address(self) -> str | None:
        return f"{self.metrics_host}:{self.metrics_port}" if self.metrics_port else None

    @property
    def database(self) -> Path:
        return self.data_dir / "monolith" / "shop.db"

    @property
    def faults_file(self) -> Path:
        """The payment path's injected faults, shared by every worker (shop/billing/faults.py)."""
        return self.data_dir / "monolith" / "faults.json"

    @property
    def metrics_dir(self) -> Path:
        """Where gunicorn's workers leave their metrics for /metrics to add up."""
        return self.data_dir / "metrics" / "monolith"

    @property
    def pid_file(self) -> Path:
        """The gunicorn master's pid, for make scale (shop/web/gunicorn.py: pid_file)."""
        return pid_file(self.data_dir, "monolith")

    @classmethod
    def from_env(cls, env=None) -> "Config":
        return cls(
            host=env_str("MONOLITH_HOST", "127.0.0.1", env),
            port=env_int("MONOLITH_PORT", 8000, env, minimum=1),
            workers=env_int("MONOLITH_WORKERS", 2, env, minimum=1),
            threads=env_int("MONOLITH_THREADS", 8, env, minimum=1),
            data_dir=data_dir(env),
            secret=env_str("SHOP_SECRET", DEV_SECRET, env),
            token_ttl=env_int("SHOP_TOKEN_TTL", 86_400, env, minimum=1),
            access_log=env_bool("SHOP_ACCESS_LOG", True, env),
            seed_shoppers=env_bool("SHOP_SEED_SHOPPERS", True, env),
            admin_token=env_str("SHOP_ADMIN_TOKEN", "", env),
            checkout_recover_after=env_int("SHOP_CHECKOUT_RECOVER_AFTER_MS", 60000, env, minimum=1) / 1000,
            admission=AdmissionSettings.from_env(env),
            allow_insecure_secret=env_bool("SHOP_ALLOW_INSECURE_SECRET", False, env),
            metrics_host=metrics_host(env),
            metrics_port=env_int("MONOLITH_METRICS_PORT", 9000, env, minimum=0),
            forwarded_allow_ips=forwarded_allow_ips(env),
            login_limits=login_limit_settings(env),
        )
