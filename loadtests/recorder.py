"""Records every request and every arrival of a run, and writes its summary when the run stops.

Two parts, so that the same numbers come out of one Locust process and out of many:

- a ``Collector`` in every process that runs users keeps each request (when it ended, its
  endpoint, its latency from the intended start, its outcome), each arrival (when, how many
  requests its visit planned, whether it was dropped) and, once a second, what the load
  generator itself is doing (requests in flight, its own CPU). It hands them on every second.
- a ``Recorder`` where the run is controlled (the only process, or the master in distributed
  mode) gathers them: from its own collector directly, from workers as ``shop_batch``
  messages (the last one, sent when a worker stops, is marked final and awaited).

Locust clears its stats at every start, so the numbers are saved in ``test_stop``: to the
file given by ``--run-file`` (headless runs), else under ``results/ui/`` where the web UI's
comparison view finds the latest run of each target. Times are wall-clock seconds (the same
on every process of one machine) and become seconds since the start in the summary."""
import datetime as dt
import json
import logging
import os
import time
from pathlib import Path

import gevent
import psutil

from loadtests import funnel, summary

log = logging.getLogger(__name__)
BATCH = "shop_batch"
FINAL_WAIT_S = 15


class Collector:
    def __init__(self, environment, sink):
        self.env = environment
        self.sink = sink               # sink(batch: dict) -> None
        self.running = False
        self._reset()
        self._ticker = None
        self._process = psutil.Process()
        environment.events.request.add_listener(self.on_request)

    def _reset(self):
        self.samples: list[tuple] = []
        self.arrivals: list[tuple] = []
        self.ticks: list[tuple] = []
        self.accounts: set[int] = set()   # shopper accounts this process's visits used

    def start(self) -> None:
        self._reset()
        self.running = True
        self._process.cpu_percent(None)   # the next reading covers the time from now
        self._ticker = gevent.spawn(self._tick)

    def on_request(self, request_type, name, response_time, response_length, exception=None, context=None, **_):
        if not self.running:
            return
        context = context or {}
        now = time.time()
        outcome = context.get("outcome") or ("connection" if exception else "ok")
        intended = context.get("intended", now - response_time / 1000)
        self.samples.append((now, name, float(response_time), exception is not None, outcome, intended,
                             context.get("lag_ms", 0.0)))

    def on_arrival(self, wall: float, planned: int, dropped: str | None) -> None:
        if self.running:
            self.arrivals.append((wall, planned, dropped))

    def _tick(self):
        while True:
            gevent.sleep(1)
            self.ticks.append((time.time(), funnel.in_flight(), self._process.cpu_percent(None)))
            self.flush()

    def flush(self, final: bool = False) -> None:
        batch = {"pid": os.getpid(), "samples": self.samples, "arrivals": self.arrivals, "ticks": self.ticks,
                 "accounts": sorted(self.accounts), "final": final}
        self._reset()
        self.sink(batch)

    def stop(self) -> None:
        if not self.running:
            return
        if self._ticker is not None:
            self._ticker.kill(block=False)
        self.ticks.append((time.time(), funnel.in_flight(), self._process.cpu_percent(None)))
        self.running = False
        self.flush(final=True)


class Recorder:
    def __init__(self, environment):
        self.env = environment
        self.t0: float | None = None
        self._reset()
        self._sampler = None
        self._finals: set = set()

    def _reset(self):
        self.samples: list[tuple] = []
        self.arrivals: list[tuple] = []
        self.ticks: dict = {}          # process -> [(t, in_flight, cpu %)]
        self.accounts: dict = {}       # process -> shopper accounts its visits used
        self.users: list[tuple[float, int]] = []

    # -- gathering ---------------------------------------------------------------------
    def start(self, t0: float) -> None:
        self._reset()
        self._finals = set()
        self.t0 = t0
        self._sampler = gevent.spawn(self._count_users)
        run_file = getattr(self.env.parsed_options, "run_file", None)
        if run_file:  # tells the scenario runner when the shape's clock started (its faults follow it)
            Path(run_file).parent.mkdir(parents=True, exist_ok=True)
            Path(f"{run_file}.started").write_text(repr(self.t0))

    def ingest(self, batch: dict, source=None) -> None:
        if self.t0 is None:
            return
        source = source or batch.get("pid")
        self.samples.extend(tuple(s) for s in batch["samples"])
        self.arrivals.extend(tuple(a) for a in batch["arrivals"])
        self.ticks.setdefault(source, []).extend(tuple(t) for t in batch["ticks"])
        self.accounts.setdefault(source, set()).update(batch.get("accounts") or [])
        if batch.get("final"):
            self._finals.add(source)

    def on_worker_batch(self, environment, msg, **_):
        self.ingest(msg.data, msg.node_id)

    def _count_users(self):
        progress = getattr(self.env.parsed_options, "run_file", None)
        while True:
            runner = self.env.runner
            self.users.append((time.time() - self.t0, runner.user_count if runner else 0))
            if progress:
                self._write_progress(Path(f"{progress}.progress"))
            gevent.sleep(1)

    def _write_progress(self, path: Path) -> None:
        """A recent whole second, for the runner's progress line (loadtests/compare.py): two
        seconds back, so that every process's results of it have arrived (they come once a second)."""
        end = int(time.time() - self.t0) - 2
        if end < 0:
            return
        w = self.window(end, end + 1)
        offered = sum(1 for s in self.samples[-5000:] if end <= s[5] - self.t0 < end + 1)
        offered += sum(a[1] for a in self.arrivals[-2000:] if a[2] and end <= a[0] - self.t0 < end + 1)
        path.write_text(json.dumps({"t": end, "offered": offered, **w}))

    def window(self, start: float, end: float) -> dict:
        """Exact numbers of the requests that ended in [start, end) seconds since the start,
        and of the arrivals dropped then: what the open ramp judges a step on."""
        lo, hi = self.t0 + start, self.t0 + end
        chosen = [s for s in self.samples if lo <= s[0] < hi]
        dropped = sum(1 for a in self.arrivals if lo <= a[0] < hi and a[2])
        times = sorted(s[2] for s in chosen)
        errors = sum(1 for s in chosen if s[4] != "ok")
        good = sum(1 for s in chosen if s[4] == "ok" and s[2] <= self.env.parsed_options.slo_ms)
        return {"requests": len(chosen), "dropped": dropped, "good": good,
                "error_pct": 100 * errors / len(chosen) if chosen else 0.0,
                "p95_ms": summary.percentile(times, 95) or 0.0}

    # -- the end -----------------------------------------------------------------------
    def wait_for_workers(self, workers: set) -> set:
        """Wait (at most FINAL_WAIT_S) for every worker's final batch; returns those missing."""
        deadline = time.monotonic() + FINAL_WAIT_S
        while workers - self._finals and time.monotonic() < deadline:
            gevent.sleep(0.1)
        return workers - self._finals

    def finish(self, meta: dict, phases: list[dict], slo_ms: float) -> dict | None:
        if self.t0 is None:
            return None
        if self._sampler is not None:
            self._sampler.kill(block=False)
        duration = time.time() - self.t0
        t0 = self.t0
        samples = [(s[0] - t0, s[1], s[2], s[3], s[4], s[5] - t0, s[6]) for s in self.samples]
        arrivals = [(a[0] - t0, a[1], a[2]) for a in self.arrivals]
        ticks = {str(k): [(t - t0, n, cpu) for t, n, cpu in rows] for k, rows in self.ticks.items()}
        result = summary.summarize(samples, self.users, phases, duration, meta, arrivals=arrivals,
                                   ticks=ticks, slo_ms=slo_ms)
        result["shopper_accounts"] = {str(k): sorted(v) for k, v in self.accounts.items() if v}
        self.t0 = None
        return result

    @staticmethod
    def save(result: dict, options) -> Path:
        run_file = getattr(options, "run_file", None)
        if run_file:
            path = Path(run_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result))
        else:
            folder = Path(options.results_dir) / "ui"
            folder.mkdir(parents=True, exist_ok=True)
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            path = folder / f"{stamp}-{result['target']}-{result['shape']}.json"
            path.write_text(json.dumps(result))
            (folder / f"latest-{result['target']}.json").write_text(json.dumps(result))
        log.info("run saved to %s", path)
        return path


def started_at(t0: float) -> str:
    return dt.datetime.fromtimestamp(t0, dt.timezone.utc).isoformat(timespec="seconds")
