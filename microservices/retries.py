"""When an internal call is tried again: the retry policy and the retry budget.

- only a call marked safe to repeat (``idempotent``), at most ``retries`` times;
- after a refused or reset connection or a 503 of the upstream's own; a timeout only if asked
  (the first attempt may still be running: retrying doubles the load on a slow service);
- each retry spends a token of a bucket that every first attempt fills a little
  (``RetryBudget``), so that a spike of failures cannot turn into a retry storm;
- exponential backoff with jitter.
(The breaker adds one more rule, in the client: no retries while the circuit is open.)"""
import random
import threading

MAX_BACKOFF = 1.0  # seconds: however many retries are configured, none waits longer than this
TIMEOUTS = ("timeout", "connect_timeout")


class RetryBudget:
    """A token bucket: every first attempt earns ``ratio`` of a retry (up to ``cap`` saved),
    every retry spends a whole one. So retries add at most ``ratio`` to the load in the long
    run, whatever fails, and a burst of at most ``cap``: when everything fails at once (a
    spike on a dying service), the calls fail instead of coming back two or three times."""

    def __init__(self, ratio: float, cap: float):
        self.ratio, self.cap = ratio, cap
        self.tokens = cap
        self._lock = threading.Lock()

    def deposit(self) -> None:
        if self.tokens < self.cap:  # usually full: no lock on the hot path
            with self._lock:
                self.tokens = min(self.cap, self.tokens + self.ratio)

    def withdraw(self) -> bool:
        with self._lock:
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class RetryPolicy:
    """The rules above for one client (``microservices.config.Resilience`` gives the numbers)."""

    def __init__(self, resilience, rng=random.random):
        self.settings = resilience
        self.budget = RetryBudget(resilience.retry_budget, resilience.retry_budget_cap)
        self.rng = rng

    def allows(self, reason: str, retries: int, idempotent: bool) -> bool:
        """May a call that failed for ``reason`` after ``retries`` retries be tried again (by
        its nature; the budget is asked separately, last)?"""
        if not idempotent or retries >= self.settings.retries:
            return False
        return reason not in TIMEOUTS or self.settings.retry_timeouts

    def backoff(self, retry: int) -> float:
        """Exponential, with jitter (between half and all of it) so that the callers that
        failed together do not all come back at the same moment."""
        delay = min(MAX_BACKOFF, self.settings.backoff * 2 ** (retry - 1))
        return delay * (0.5 + self.rng() / 2)
