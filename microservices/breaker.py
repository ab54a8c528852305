"""The circuit breaker of an internal call, and what counts as the upstream failing.

Written here rather than taken from pybreaker: pybreaker has no half-open limit of one probe
at a time (every caller that arrives in half-open state goes through) and its failure test is
per exception type, while ours needs the reply's status and body."""
import json
import threading
import time

CALL, PROBE = "call", "probe"   # the tickets ``CircuitBreaker.allow`` hands out


class CircuitBreaker:
    """closed: calls go through; ``failures`` failed calls in a row open it.
    open: every call fails at once, for ``open_seconds``.
    half-open: then ONE call at a time goes through as a probe (the others still fail at
    once): its success closes the circuit, its failure opens it again for ``open_seconds``.

    A failure is the upstream not answering, or answering that it is failing (502, 503, 504 of
    its own: ``upstream_failed`` has the whole rule); a 4xx or a 500 is the upstream working.
    The lock is never held across I/O, so it is as safe for
    greenlets (gevent patches threading.Lock) as for threads."""
    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"

    def __init__(self, failures: int, open_seconds: float, clock=time.monotonic):
        self.failures_to_open = failures
        self.open_seconds = open_seconds
        self.clock = clock
        self.state = self.CLOSED
        self.failures = 0          # consecutive failed calls while closed
        self.opened_at = 0.0
        self._probing = False
        self._lock = threading.Lock()

    def allow(self) -> str | None:
        """CALL or PROBE if the call may go ahead (report its end with ``succeeded`` or
        ``failed``), None if it must fail at once."""
        if self.state == self.CLOSED:  # the hot path takes no lock
            return CALL
        with self._lock:
            if self.state == self.CLOSED:
                return CALL
            if self.state == self.OPEN:
                if self.clock() - self.opened_at < self.open_seconds:
                    return None
                self.state, self._probing = self.HALF_OPEN, False
            if self._probing:
                return None
            self._probing = True
            return PROBE

    def succeeded(self, ticket: str) -> bool:
        """True if this closed the circuit (the probe succeeded)."""
        if ticket == CALL and not self.failures:  # the hot path takes no lock
            return False
        with self._lock:
            self.failures = 0
            if ticket == PROBE:
                self._probing = False
                self.state = self.CLOSED
                return True
            return False

    def failed(self, ticket: str) -> bool:
        """True if this opened the circuit (again)."""
        with self._lock:
            if ticket == PROBE:
                self._probing = False
            elif self.state == self.CLOSED:
                self.failures += 1
                if self.failures < self.failures_to_open:
                    return False
            else:
                return False  # a call that started before the circuit opened: already known
            self.state, self.opened_at, self.failures = self.OPEN, self.clock(), 0
            return True


# What the upstream answers when it is itself failing (or a proxy in front of it does): the
# answers a breaker counts, besides no answer at all (refused, reset, timed out).
FAILING_STATUSES = frozenset({502, 503, 504})


def upstream_failed(reply) -> bool:
    """Did the upstream itself fail (for the breaker and for retries)? ``reply`` has a
    ``status`` and its body as ``data``. The rule:

    - counted: no answer (refused, reset, timed out: those never reach here) and a 502, 503
      or 504 that is not the shop's own ``service_unavailable`` error;
    - not counted: every 4xx (the upstream working), a 500 (the upstream up, answering, and
      failing THIS request: a bug its content hit; counting it would let one client's bad
      requests open the circuit for every other client), a 503 ``service_unavailable`` in the
      shop's error shape (the upstream telling us that one of ITS dependencies is down, or that
      it sheds load: its own breaker and retries deal with that; counting it would open the
      gateway's circuit to orders because tax is down, and retrying it would multiply the
      attempts at every layer, 3 x 3 x ...), and a call that failed fast because this circuit
      was open (it never reached the upstream: ``ServiceClient.request_raw``)."""
    if reply.status not in FAILING_STATUSES:
        return False
    if reply.status != 503:
        return True
    try:
        return json.loads(reply.data)["error"]["code"] != "service_unavailable"
    except (ValueError, TypeError, KeyError):
        return True
