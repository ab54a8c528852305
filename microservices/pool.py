"""A small pool of persistent (keep-alive) connections to one upstream, on the standard
library's http.client: every internal hop is paid on the hot path, and measured (make bench):
this costs less CPU per call than urllib3's pool (which wraps http.client) and far less than
requests.Session. Safe for threads (gthread workers) and greenlets (gevent workers)."""
import http.client
import socket
import threading
import time

# Services keep idle connections for 30 s (gunicorn --keep-alive): reuse ours for less, so that
# we do not pick one the server is closing at that very moment.
IDLE_SECONDS = 20.0


class PooledConnection(http.client.HTTPConnection):
    """An HTTPConnection that knows when it was opened (for the pool's age limit), connects to
    a literal IPv4 address without a name lookup (which under gevent goes through a thread),
    and once connected waits ``call_timeout`` for answers instead of the connect timeout."""

    def __init__(self, host: str, port: int, *, connect_timeout: float, call_timeout: float,
                 born: float, literal_ipv4: bool):
        super().__init__(host, port, timeout=connect_timeout)
        self.call_timeout, self.born, self.literal_ipv4 = call_timeout, born, literal_ipv4

    def connect(self) -> None:
        if self.literal_ipv4:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect((self.host, self.port))
            except BaseException:
                sock.close()
                raise
            self.sock = sock
        else:
            super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(self.call_timeout)


def _is_literal_ipv4(host: str) -> bool:
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return host.count(".") == 3


class ConnectionPool:
    def __init__(self, host: str, port: int, *, connect_timeout: float, call_timeout: float,
                 size: int = 16, max_age: float = 0.0, clock=time.monotonic):
        self.host, self.port = host, port
        self.connect_timeout, self.call_timeout = connect_timeout, call_timeout
        self.size = size
        # 0 = forever. A connection stays with the server worker that accepted it: a busy one
        # is never idle long enough to be dropped, so without an age limit the workers added
        # to a service under load (gunicorn TTIN) would get no share of our calls.
        self.max_age = max_age
        self.clock = clock
        self._ipv4 = _is_literal_ipv4(host)
        self.idle: list[tuple[PooledConnection, float]] = []  # (connection, idle since)
        self._lock = threading.Lock()

    def _too_old(self, conn, now: float) -> bool:
        return bool(self.max_age) and now - conn.born >= self.max_age

    def take(self) -> tuple[PooledConnection, bool]:
        """(a connection, whether it was reused): an idle one, or a new one (connected here,
        so that a refused connection raises here)."""
        now = self.clock()
        with self._lock:
            while self.idle:
                conn, since = self.idle.pop()
                if now - since < IDLE_SECONDS and not self._too_old(conn, now):
                    return conn, True
                conn.close()  # idle too long: the server may be closing it right now
        conn = PooledConnection(self.host, self.port, connect_timeout=self.connect_timeout,
                                call_timeout=self.call_timeout, born=now, literal_ipv4=self._ipv4)
        conn.connect()
        return conn, False

    def give_back(self, conn: PooledConnection) -> None:
        now = self.clock()
        if not self._too_old(conn, now):
            with self._lock:
                if len(self.idle) < self.size:
                    self.idle.append((conn, now))
                    return
        conn.close()

    def drop_idle(self) -> None:
        with self._lock:
            idle, self.idle = self.idle, []
        for conn, _ in idle:
            conn.close()
