"""Faults injected into the payment path at runtime, the same way in both deployments.

The settings live in a small JSON file next to the deployable's database, so that every
gunicorn worker of the monolith (or of the billing service) sees a change at once: each
charge looks at the file's modification time (one ``stat``) and re-reads it when it changed.
They are set through ``/admin/faults`` (``shop/billing/api.py``), with the admin token.

- ``payment_latency_ms``: every call to the payment provider (a charge or a refund) waits
  this long first.
- ``payment_failure_rate``: this share of provider calls fails (503 ``service_unavailable``,
  the card is not charged), picked at random per call.
- ``billing_crash``: the billing code path kills the worker process that runs it, mid-charge
  (``os._exit``), as a segfault or an out-of-memory kill would. In the monolith that worker
  was also serving everything else; gunicorn starts a new one.
"""
import json
import logging
import os
import random
import threading
import time
from pathlib import Path

from shop.errors import InvalidRequest, ServiceUnavailable

log = logging.getLogger(__name__)

NONE = {"payment_latency_ms": 0, "payment_failure_rate": 0.0, "billing_crash": False}
MAX_LATENCY_MS = 120_000
CRASH_EXIT_CODE = 70  # EX_SOFTWARE


def validate(changes) -> dict:
    """The changes a PUT asks for, checked; 400 names the first field that is wrong."""
    if not isinstance(changes, dict):
        raise InvalidRequest("The body must be a JSON object.")
    unknown = sorted(set(changes) - set(NONE))
    if unknown:
        raise InvalidRequest(f"Unknown fault '{unknown[0]}'; known: {', '.join(NONE)}.")
    out = {}
    if "payment_latency_ms" in changes:
        v = changes["payment_latency_ms"]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_LATENCY_MS:
            raise InvalidRequest(f"'payment_latency_ms' must be a whole number from 0 to {MAX_LATENCY_MS}.")
        out["payment_latency_ms"] = v
    if "payment_failure_rate" in changes:
        v = changes["payment_failure_rate"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise InvalidRequest("'payment_failure_rate' must be a number from 0 to 1.")
        out["payment_failure_rate"] = float(v)
    if "billing_crash" in changes:
        v = changes["billing_crash"]
        if not isinstance(v, bool):
            raise InvalidRequest("'billing_crash' must be true or false.")
        out["billing_crash"] = v
    return out


class FaultSettings:
    """The current faults, shared by every worker process through one file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._seen: tuple | None = None  # (inode, mtime_ns, size) of the file last read
        self._current = dict(NONE)

    def current(self) -> dict:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return dict(NONE)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._seen:
            try:
                loaded = json.loads(self.path.read_text())
                current = {**NONE, **validate(loaded)}
            except (OSError, ValueError, InvalidRequest):
                log.warning("unreadable fault settings in %s; injecting none", self.path)
                current = dict(NONE)
            with self._lock:
                self._current, self._seen = current, stamp
        return dict(self._current)

    def update(self, changes: dict) -> dict:
        with self._lock:
            new = {**self.current(), **validate(changes)}
            self._write(new)
        log.warning("fault settings now %s", new)
        return new

    def reset(self) -> dict:
        with self._lock:
            self._write(dict(NONE))
        log.warning("fault settings reset: no faults")
        return dict(NONE)

    def _write(self, settings: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(json.dumps(settings))
        os.replace(tmp, self.path)  # readers see the old file or the new one, never half of one


class FaultyProvider:
    """Wraps the payment provider with the faults currently set (none by default)."""

    def __init__(self, inner, settings: FaultSettings, *, crash=None, sleep=time.sleep, rng=random.random):
        self.inner = inner
        self.settings = settings
        self._crash = crash or _crash_worker
        self._sleep, self._rng = sleep, rng

    def charge(self, card: dict, amount_cents: int) -> None:
        faults = self.settings.current()
        if faults["billing_crash"]:
            self._crash()
        if faults["payment_latency_ms"]:
            self._sleep(faults["payment_latency_ms"] / 1000)
        if faults["payment_failure_rate"] and self._rng() < faults["payment_failure_rate"]:
            raise ServiceUnavailable("payment provider", message="The payment provider failed to answer; "
                                                                 "the card was not charged. Please try again shortly.")
        self.inner.charge(card, amount_cents)

    def refund(self, charge_id: int, amount_cents: int) -> None:
        latency = self.settings.current()["payment_latency_ms"]
        if latency:
            self._sleep(latency / 1000)
        self.inner.refund(charge_id, amount_cents)


def _crash_worker() -> None:
    log.critical("fault injection: billing_crash is on; this worker process exits now (pid %s)", os.getpid())
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(CRASH_EXIT_CODE)
