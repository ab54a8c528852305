"""Independent internal calls run at the same time, and still see the request."""
import threading

import pytest
from flask import Flask, g

from microservices.http import Gather


def test_calls_run_at_the_same_time():
    # Each call waits for the other: run one after the other, they would time out.
    barrier = threading.Barrier(2, timeout=5)

    def meet(value):
        barrier.wait()
        return value

    assert Gather()(lambda: meet("shipping"), lambda: meet("tax")) == ["shipping", "tax"]


def test_results_come_back_in_call_order_and_errors_propagate():
    gather = Gather()
    assert gather(lambda: 1, lambda: 2, lambda: 3) == [1, 2, 3]

    def boom():
        raise ValueError("tax is down")

    with pytest.raises(ValueError, match="tax is down"):
        gather(lambda: 1, boom)


def test_calls_see_the_callers_request_context():
    app = Flask(__name__)
    with app.test_request_context("/"):
        g.request_id = "rid-123"
        seen = Gather()(lambda: g.request_id, lambda: g.request_id)
    assert seen == ["rid-123", "rid-123"]
