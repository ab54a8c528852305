"""A steady stream of GETs for tests against real processes: a few threads sending back to
back, each on its own kept-alive requests.Session (no retries: the strictest client), with
every failure kept."""
import threading
import time

import requests

BROWSE = ["/api/products?per_page=5", "/api/products/7", "/api/categories", "/api/products?q=wireless"]


class Stream:
    def __init__(self, url: str, paths: list[str] = BROWSE, threads: int = 3):
        self.url, self.paths = url, paths
        self.ok: list[float] = []          # when each successful request finished
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, offset: int) -> None:
        with requests.Session() as session:   # closed at the end: no idle connection left behind
            n = offset
            while not self._stop.is_set():
                path = self.paths[n % len(self.paths)]
                n += 1
                try:
                    r = session.get(f"{self.url}{path}", timeout=15)
                    if r.status_code == 200:
                        self.ok.append(time.monotonic())
                    else:
                        self.failures.append(f"{path}: {r.status_code} {r.text[:200]}")
                except requests.RequestException as exc:
                    self.failures.append(f"{path}: {exc!r}")
                    time.sleep(0.05)

    def __enter__(self) -> "Stream":
        for t in self._threads:
            t.start()
        self.wait_for_more(1)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(20)

    def wait_for_more(self, n: int = 20, timeout: float = 30) -> None:
        """Let the stream run until ``n`` more requests have succeeded."""
        target, deadline = len(self.ok) + n, time.monotonic() + timeout
        while len(self.ok) < target:
            assert time.monotonic() < deadline, f"the stream stalled; failures: {self.failures[-5:]}"
            time.sleep(0.02)
