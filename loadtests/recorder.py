"""Records every request of a run and writes its summary when the run stops.

Locust clears its stats at every start, so the numbers are saved in ``test_stop``: to the
file given by ``--run-file`` (headless runs), else under ``results/ui/`` where the web UI's
comparison view finds the latest run of each target."""
import datetime as dt
import json
import logging
import time
from pathlib import Path

import gevent

from loadtests import summary

log = logging.getLogger(__name__)


class Recorder:
    def __init__(self, environment):
        self.env = environment
        self.samples: list[tuple] = []
        self.users: list[tuple[float, int]] = []
        self.t0: float | None = None
        self._sampler = None
        environment.events.test_start.add_listener(self.on_start)
        environment.events.request.add_listener(self.on_request)
        environment.events.test_stop.add_listener(self.on_stop)

    def on_start(self, environment, **_):
        self.samples, self.users = [], []
        self.t0 = time.time()
        self._sampler = gevent.spawn(self._count_users)
        run_file = getattr(environment.parsed_options, "run_file", None)
        if run_file:  # tells the scenario runner when the shape's clock started (its faults follow it)
            Path(run_file).parent.mkdir(parents=True, exist_ok=True)
            Path(f"{run_file}.started").write_text(repr(self.t0))

    def _count_users(self):
        while True:
            runner = self.env.runner
            self.users.append((time.time() - self.t0, runner.user_count if runner else 0))
            gevent.sleep(1)

    def on_request(self, request_type, name, response_time, response_length, exception=None, **_):
        if self.t0 is not None:
            self.samples.append((time.time() - self.t0, name, float(response_time), exception is not None))

    def on_stop(self, environment, **_):
        if self.t0 is None:
            return
        if self._sampler is not None:
            self._sampler.kill(block=False)
        duration = time.time() - self.t0
        o = environment.parsed_options
        shape = environment.shape_class
        phases = shape.phases() if shape is not None and hasattr(shape, "phases") else []
        meta = {
            "target": getattr(o, "target", None),
            "url": environment.host,
            "shape": getattr(shape, "name", None) or "manual",
            "shape_options": {k: v for k, v in vars(o).items() if k.startswith(("spike_", "ramp_", "steady_"))},
            "started_at": dt.datetime.fromtimestamp(self.t0, dt.timezone.utc).isoformat(timespec="seconds"),
            "started_epoch": self.t0,
            "stop_reason": getattr(shape, "stop_reason", None),
        }
        result = summary.summarize(self.samples, self.users, phases, duration, meta)
        self.t0 = None
        self.save(result, o)

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
