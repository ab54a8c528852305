"""The open model: visitors arrive at the rate the load shape asks for, whatever the server does.

One ``Visitors`` user runs in each load-generator process (the shape starts exactly one per
process: in Locust's distributed mode, one per worker). It draws the arrival times of a
Poisson process from the shape's schedule (loadtests/arrivals.py), its share of it (the rate
divided by the number of load-generator processes), and starts each arrival's visit in a
greenlet of its own at its time, so that a slow answer never delays the next arrival.

A visit is a few funnel steps (loadtests/funnel.py): a browser looks at 3 pages; a shopper,
signed in as one of the seeded accounts, takes 4 steps of the shopping funnel. Each request's
latency counts from its intended start (no coordinated omission). A visitor who gets an error
goes on to the next step (as the closed model's users go on to their next task): if errors
made visitors leave, an overloaded server would receive less load, which is the closed
model's flaw again. Only within a checkout does an error end the step (nobody orders after
a failed quote). When ``--max-in-flight``
visits are already running in this process, a new arrival is not started but counted as
dropped (with its requests), so that nothing is silently skipped; a shopper arrival finding
no free shopper account is dropped the same way.

Every arrival is reported through ``on_arrival`` (the recorder's), dropped or not, with the
requests its visit plans: that is the offered load."""
import random
import time

import gevent
from gevent.pool import Group
from locust import FastHttpUser, task
from locust.exception import StopUser
from locust.user.users import LOCUST_STATE_STOPPING

from loadtests import arrivals, funnel

class Visitors(FastHttpUser):
    """The arrival process of one load-generator process (see the module's docstring)."""
    weight = 1               # only ever started by the shape (ShopShape), one per process

    def __init__(self, environment):
        o = environment.parsed_options
        # One pooled connection per visit in flight, so that no visit waits for a connection.
        self.concurrency = max(1, o.max_in_flight)
        self.network_timeout = self.connection_timeout = float(o.request_timeout)
        super().__init__(environment)
        self.visits = Group()
        self.accounts = []       # accounts held by running shopper visits

    @task
    def arrive(self):
        env = self.environment
        o = env.parsed_options
        plan_of = env.shop_open              # set at test start (loadtests/locustfile.py)
        schedule = plan_of.schedule.scaled(1 / plan_of.processes)
        visit_schedule = schedule.scaled(1 / funnel.expected_requests())
        rng = random.Random(plan_of.seed * 1000 + plan_of.index)
        # The schedule's clock is the wall clock of the test start (the same in every process).
        perf_at_t0 = time.perf_counter() - (time.time() - plan_of.t0)
        start = max(0.0, time.perf_counter() - perf_at_t0)
        for t in arrivals.arrivals(visit_schedule, rng, start=start):
            delay = perf_at_t0 + t - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            if self._state == LOCUST_STATE_STOPPING:
                break
            self._arrive(perf_at_t0 + t, rng, o.max_in_flight)
        while self._state != LOCUST_STATE_STOPPING:   # the schedule is over: the shape stops the test
            gevent.sleep(0.2)
        self.visits.kill(block=False)
        raise StopUser()

    def _arrive(self, intended: float, rng: random.Random, limit: int) -> None:
        recorder = self.environment.shop_collector
        kind, steps = funnel.plan(rng)
        cancel = rng.random() < funnel.CANCEL_SHARE
        wall = time.time() - (time.perf_counter() - intended)
        dropped, account, token = funnel.admit(kind, len(self.visits), limit, self.environment.shop_pool, self.host)
        recorder.on_arrival(wall, funnel.planned_requests(steps, cancel), dropped)
        if dropped:
            return
        if account is not None:
            recorder.accounts.add(account)
        seed = rng.getrandbits(32)
        self.visits.spawn(self._visit, intended, steps, cancel, account, token, seed)

    def _visit(self, intended, steps, cancel, account, token, seed):
        v = funnel.Requester(self.client, random.Random(seed), intended=intended, token=token)
        try:
            for name in steps:
                step = funnel.STEPS[name]
                step(v, cancel=cancel) if name == "checkout" else step(v)
        finally:
            if account is not None:
                self.environment.shop_pool.release(account)

    def on_stop(self):
        self.visits.kill(block=False)
