"""The Locust entry point: `make load` (web UI), `make compare` (headless, via loadtests.compare).

Pick the Target (monolith | microservices) in the start form: it decides the URL, whatever
the Host field says. Pick the Model (open: arrivals per second; closed: N users) and the Shape
(spike, ramp, steady) in the same form. Works with one Locust process and in distributed mode
(``--processes N``, or ``--master`` and ``--worker``): the master signs the shoppers in and
hands each worker its share of the accounts and of the arrival rate; every worker sends its
results back to the master, which writes the run's summary."""
import logging
import time
from dataclasses import dataclass

from locust import events
from locust.runners import MasterRunner, WorkerRunner

from loadtests import accounts, arrivals, shopdata, targets, ui
from loadtests.journeys import POOL, Browser, Shopper  # noqa: F401  (Locust finds users here)
from loadtests.recorder import BATCH, Collector, Recorder, started_at
from loadtests.shapes import ShopShape, add_options, schedule  # noqa: F401
from loadtests.visitors import Visitors  # noqa: F401

log = logging.getLogger(__name__)
TOKENS = "shop_tokens"
STOP = "shop_stop"


@dataclass
class OpenPlan:
    """What every load-generator process needs to follow the open model's schedule."""
    schedule: arrivals.Schedule
    t0: float            # wall clock at which the schedule's second 0 is
    processes: int       # load-generator processes sharing the rate
    index: int           # this one's index among them
    seed: int


@events.init_command_line_parser.add_listener
def _options(parser):
    parser.add_argument("--target", choices=ui.TARGETS, default="monolith",
                        help="which deployment to load (sets the URL)")
    parser.add_argument("--monolith-url", default=targets.DEFAULT_URLS["monolith"], include_in_web_ui=False)
    parser.add_argument("--microservices-url", default=targets.DEFAULT_URLS["microservices"],
                        include_in_web_ui=False)
    parser.add_argument("--results-dir", default="results", include_in_web_ui=False)
    parser.add_argument("--run-file", default="", include_in_web_ui=False,
                        help="write this run's summary here (headless runs)")
    parser.add_argument("--tokens-file", default="", include_in_web_ui=False,
                        help="keep the shoppers' tokens here between runs against the same deployment")
    parser.add_argument("--shoppers", type=int, default=250, include_in_web_ui=False,
                        help="shopper accounts to sign in before the run (at most 500)")
    add_options(parser)


@events.init.add_listener
def _init(environment, **_):
    environment.shop_pool = POOL
    environment.shop_run = ui.RunState()       # what the web UI shows: preparing, running, stopped
    ui.quiet_spawn_rate_warning()
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        environment.shop_recorder = Recorder(environment)
        runner.register_message(BATCH, environment.shop_recorder.on_worker_batch)
    elif isinstance(runner, WorkerRunner):
        environment.shop_collector = Collector(environment, lambda b: runner.send_message(BATCH, b))
        runner.register_message(TOKENS, _receive_tokens)
        # A headless master stops before it tells its workers to quit: it asks for their last results.
        runner.register_message(STOP, lambda environment, msg, **_: environment.shop_collector.stop())
    else:
        recorder = environment.shop_recorder = Recorder(environment)
        environment.shop_collector = Collector(environment, recorder.ingest)
    ui.install(environment)


@events.test_start.add_listener
def _start(environment, **_):
    runner = environment.runner
    o = environment.parsed_options
    if isinstance(runner, WorkerRunner):
        # The master's options (t0) came with the spawn message, this worker's share with the
        # tokens message just before it.
        index, processes = getattr(environment, "shop_share", (runner.worker_index, o.shop_processes))
        POOL.share(index, processes)
        environment.shop_open = OpenPlan(schedule(o), o.shop_t0, processes, index, o.seed)
        environment.shop_collector.start()
        return
    # Unconditional: the Host field keeps whatever was typed last, the Target decides.
    environment.host = ui.url_for_target(environment, o.target)
    processes = max(1, runner.worker_count) if isinstance(runner, MasterRunner) else 1
    state = environment.shop_run
    state.preparing(o.target, environment.host, o.model, o.shape, _shoppers_needed(o),
                    lambda: len(POOL.tokens(environment.host)))
    try:
        _prepare_shoppers(environment, processes)
    except Exception as err:   # the web UI must not wait for a run that will not come
        state.failed(f"signing in the shoppers failed: {err}")
        raise
    o.shop_t0, o.shop_processes = time.time(), processes   # sent to the workers with the spawn message
    environment.shop_open = OpenPlan(schedule(o), o.shop_t0, processes, 0, o.seed)
    environment.shop_recorder.start(o.shop_t0)
    if not isinstance(runner, MasterRunner):
        environment.shop_collector.start()
    if environment.shape_class is not None:
        environment.shape_class.reset_time()  # the shape's clock starts now, not before the logins
    state.running(planned_seconds(environment))


def _shoppers_needed(o) -> int:
    if o.model == "closed":
        peak = {"spike": o.spike_users * o.spike_factor, "steady": o.steady_users}.get(o.shape, o.ramp_max_users)
        needed = int(peak * Shopper.weight / (Shopper.weight + Browser.weight)) + 2
    else:
        needed = o.shoppers
    return max(1, min(shopdata.SHOPPER_COUNT, needed, o.shoppers))


def planned_seconds(environment) -> float | None:
    """How long the shape runs if nobody stops it (a ramp may end sooner: it saturates)."""
    o = environment.parsed_options
    if o.model == "open":
        return environment.shop_open.schedule.end
    current = getattr(environment.shape_class, "current", None)
    if current is not None and hasattr(current, "schedule"):
        return current.schedule()["end"]
    return None


def _prepare_shoppers(environment, processes: int):
    """Sign in the shoppers the run will need before it starts (outside the statistics): a spike
    should measure shopping, not a burst of deliberately slow password hashing. In distributed
    mode each worker then gets the tokens of its share of the accounts."""
    o = environment.parsed_options
    host = environment.host
    needed = _shoppers_needed(o)
    cached = accounts.load_cache(POOL, host, o.tokens_file) if o.tokens_file else 0
    started = time.monotonic()
    done = accounts.prewarm(POOL, host, needed, shopdata.SHOPPER_PASSWORD)
    if done:
        log.info("signed in %d shopper accounts before the run (%.1fs)", done, time.monotonic() - started)
    if cached:
        log.info("%d shopper tokens taken from %s", cached, o.tokens_file)
    if o.tokens_file and done:
        accounts.save_cache(POOL, host, o.tokens_file)
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        workers = sorted(runner.clients.values(), key=lambda c: runner.get_worker_index(c.id))
        for index, client in enumerate(workers[:processes]):
            share = [n for n in range(1, POOL.size + 1) if (n - 1) % processes == index]
            runner.send_message(TOKENS, {"host": host, "tokens": POOL.tokens(host, share),
                                         "index": index, "processes": processes}, client_id=client.id)
    else:
        POOL.share(0, 1)


def _receive_tokens(environment, msg, **_):
    environment.shop_share = (msg.data["index"], msg.data["processes"])
    for n, token in msg.data["tokens"].items():
        POOL.remember(msg.data["host"], int(n), token)


@events.test_stop.add_listener
def _stop(environment, **_):
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        environment.shop_collector.stop()
        return
    if not isinstance(runner, MasterRunner):
        environment.shop_collector.stop()
    else:
        workers = {c.id for c in runner.clients.values()}
        for worker in workers:
            runner.send_message(STOP, None, client_id=worker)
        missing = environment.shop_recorder.wait_for_workers(workers)
        if missing:
            log.warning("no final results from %d worker(s): their last second may be missing", len(missing))
    recorder = environment.shop_recorder
    if recorder.t0 is None:
        environment.shop_run.idle()
        return
    o = environment.parsed_options
    shape = environment.shape_class
    elapsed = time.time() - recorder.t0
    planned = planned_seconds(environment)
    stop_reason = getattr(shape, "stop_reason", None)
    # Complete: the shape ended by itself (a ramp that saturated, or the schedule's end), not a
    # Stop button (or a time limit) part-way through.
    complete = bool(stop_reason) or (planned is not None and elapsed >= planned - 1.5)
    meta = {
        "target": getattr(o, "target", None),
        "url": environment.host,
        "model": o.model,
        "shape": getattr(shape, "name", None) or "manual",
        "shape_options": {k: v for k, v in vars(o).items()
                          if k.startswith(("spike_", "ramp_", "steady_", "baseline_", "peak_", "fault_"))
                          or k in ("slo_ms", "max_in_flight", "request_timeout", "seed", "model")},
        "started_at": started_at(recorder.t0),
        "started_epoch": recorder.t0,
        "stop_reason": getattr(shape, "stop_reason", None),
        "load_generators": getattr(environment.shop_open, "processes", 1),
        "complete": complete,
        "stopped_early": not complete,
        "planned_duration_s": planned,
    }
    if not getattr(o, "run_file", ""):   # a web-UI run: make compare records its own environment
        meta["environment"] = ui.run_environment(environment)
    if o.model == "open":
        meta["schedule"] = [list(p) for p in environment.shop_open.schedule.points]
    phases = shape.phases() if shape is not None and hasattr(shape, "phases") else []
    result = recorder.finish(meta, phases, o.slo_ms)
    if result is None:
        environment.shop_run.idle()
        return
    path = recorder.save(result, o)
    environment.shop_run.stopped(str(path), complete, round(elapsed, 1))


@events.test_stopping.add_listener
def _stopping(environment, **_):
    if not isinstance(environment.runner, WorkerRunner):
        environment.shop_run.stopping()
