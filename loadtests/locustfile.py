"""The Locust entry point: `make load` (web UI), `make compare` (headless, via loadtests.compare).

Pick the Target (monolith | microservices) in the start form: it decides the URL, whatever
the Host field says. Pick the Shape (spike, ramp) in the same form."""
from locust import events

import logging

from loadtests import accounts, shopdata, targets, ui
from loadtests.journeys import POOL, Browser, Shopper  # noqa: F401  (Locust finds users here)
from loadtests.recorder import Recorder
from loadtests.shapes import ShopShape, add_options  # noqa: F401


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
    add_options(parser)


@events.init.add_listener
def _init(environment, **_):
    Recorder(environment)
    ui.install(environment)


@events.test_start.add_listener
def _pick_target(environment, **_):
    # Unconditional: the Host field keeps whatever was typed last, the Target decides.
    environment.host = ui.url_for_target(environment, environment.parsed_options.target)
    _prepare_shoppers(environment)


def _prepare_shoppers(environment):
    """Log the shoppers the shape will need in before it starts (outside the statistics): a
    spike should measure shopping, not a burst of deliberately slow password hashing."""
    o = environment.parsed_options
    peak = {"spike": o.spike_users * o.spike_factor, "steady": o.steady_users}.get(o.shape, o.ramp_max_users)
    share = Shopper.weight / (Shopper.weight + Browser.weight)
    needed = min(shopdata.SHOPPER_COUNT, int(peak * share) + 2, 250)
    done = accounts.prewarm(POOL, environment.host, needed, shopdata.SHOPPER_PASSWORD)
    if done:
        logging.getLogger(__name__).info("logged in %d shopper accounts before the run", done)
    if environment.shape_class is not None:
        environment.shape_class.reset_time()  # the shape's clock starts now, not before the logins
