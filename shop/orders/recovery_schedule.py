"""When recovery runs (``shop/orders/recovery.py`` says what it does): the threads, locks and
timers around it.

- at most one recovery at a time per process (``run``; the admin endpoint waits for a running
  one, the background ones give way);
- from checkout requests (``checkout_started``): at most every ``every`` seconds, in the
  background; and (at most every second) as soon as a checkout's process is seen dead, which
  costs one read of the small journal per checkout. ``dead_in_line``: that one runs in the
  request's own thread, before its checkout starts, so that the stock the dead one held is
  back at once (right where recovery is local and quick: the monolith); else in the
  background too.
- at startup the bootstrap calls ``run`` itself."""
import logging
import threading
import time

from shop.orders.owners import Processes, dead_owners
from shop.orders.recovery import Recovery

log = logging.getLogger("shop.orders.checkout")

DEAD_OWNER_EVERY = 1.0  # seconds: a dead process's checkouts that cannot be undone yet are retried this often


def in_a_thread(work) -> None:
    threading.Thread(target=work, name="checkout-recovery", daemon=True).start()


class RecoverySchedule:
    def __init__(self, recovery: Recovery, *, every: float = 5.0, dead_in_line: bool = False,
                 clock=time.time, background=None, processes=None):
        self.recovery = recovery
        self.every = every
        self.dead_in_line = dead_in_line
        self.clock = clock
        self.background = background or in_a_thread
        self.processes = processes or Processes()
        self._last_run = clock()  # startup recovery is the bootstrap's to run
        self._last_dead_owner_run = float("-inf")
        self._schedule_lock = threading.Lock()
        self._running = threading.Lock()

    def run(self, *, wait: bool = True) -> dict | None:
        """Recover now: the report, or None if another recovery is running (``wait=False``)."""
        if not self._running.acquire(blocking=wait):
            return None
        try:
            return self.recovery.recover()
        finally:
            self._running.release()

    def checkout_started(self) -> None:
        now = self.clock()
        due = False
        with self._schedule_lock:
            if now - self._last_run >= self.every:
                self._last_run, due = now, True
        if not due:
            if now - self._last_dead_owner_run < DEAD_OWNER_EVERY:
                return
            if not dead_owners(self.recovery.store, self.processes):
                return
            with self._schedule_lock:
                if now - self._last_dead_owner_run < DEAD_OWNER_EVERY:
                    return
                self._last_dead_owner_run = now
            if self.dead_in_line:
                self._quietly()
                return
        self.background(self._quietly)

    def _quietly(self) -> None:
        try:
            self.run(wait=False)
        except Exception:
            log.exception("checkout recovery failed; the next one tries again")
