"""The monolith's configuration: the only place it reads the environment.

``Config`` is the shared settings (shop/web/settings.py: ``ShopSettings``) plus the
monolith's own: one gunicorn process group, one database."""
from dataclasses import dataclass
from pathlib import Path

from shop.web.settings import Serving, ShopSettings, check_secret, env_int, env_str
from shop.web.worker_files import pid_file

NAME = "monolith"


@dataclass(frozen=True)
class Config(ShopSettings):
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    threads: int = 8
    # Metrics are served by the gunicorn master on a port of their own, not the public one (0: none).
    metrics_port: int = 9000

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
        """The gunicorn master's pid, for make scale (shop/web/worker_files.py)."""
        return pid_file(self.data_dir, NAME)

    def serving(self) -> Serving:
        """What gunicorn's hooks serve (monolith/gunicorn_conf.py)."""
        return Serving(NAME, self.log_format, self.forwarded_allow_ips, self.metrics_address, self.metrics_dir)

    @classmethod
    def from_env(cls, env=None) -> "Config":
        return cls(
            **ShopSettings.shared_from_env(env),
            host=env_str("MONOLITH_HOST", "127.0.0.1", env),
            port=env_int("MONOLITH_PORT", 8000, env, minimum=1),
            workers=env_int("MONOLITH_WORKERS", 2, env, minimum=1),
            threads=env_int("MONOLITH_THREADS", 8, env, minimum=1),
            metrics_port=env_int("MONOLITH_METRICS_PORT", 9000, env, minimum=0),
        )
