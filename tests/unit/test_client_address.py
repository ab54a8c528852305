"""Who sent a request (shop/web/clients.py), for the per-client login limit: the peer, unless
the peer is a proxy the configuration names; and gunicorn's own errors in the JSON shape."""
import json

import pytest

from shop.web import clients
from shop.web.gunicorn_errors import json_error


def environ(peer, forwarded=None, gateway=None):
    env = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        env["HTTP_X_FORWARDED_FOR"] = forwarded
    if gateway is not None:
        env["HTTP_X_SHOP_CLIENT"] = gateway
    return env


def test_nobody_is_believed_by_default():
    address = clients.peer_address("")
    assert address(environ("203.0.113.9", forwarded="198.51.100.1")) == "203.0.113.9"
    assert address(environ("127.0.0.1", forwarded="198.51.100.1")) == "127.0.0.1"


def test_a_configured_proxy_is_believed_from_the_right():
    address = clients.peer_address("10.0.0.0/8, 127.0.0.1")
    # client, then a proxy of ours, then the peer (a proxy of ours): the client is the last untrusted hop
    assert address(environ("10.1.2.3", forwarded="198.51.100.7, 10.9.9.9")) == "198.51.100.7"
    # whatever a client puts first is not believed: the rightmost untrusted hop counts
    assert address(environ("10.1.2.3", forwarded="1.2.3.4, 198.51.100.7")) == "198.51.100.7"
    assert address(environ("10.1.2.3")) == "10.1.2.3"
    assert address(environ("192.0.2.1", forwarded="198.51.100.7")) == "192.0.2.1"  # not a proxy of ours


def test_a_service_takes_the_gateways_word():
    assert clients.from_gateway(environ("127.0.0.1", gateway="198.51.100.7")) == "198.51.100.7"
    assert clients.from_gateway(environ("127.0.0.1")) == "127.0.0.1"


@pytest.mark.parametrize("status, code", [(400, "invalid_request"), (414, "invalid_request"),
                                          (431, "invalid_request"), (501, "invalid_request"),
                                          (500, "internal_error")])
def test_gunicorns_own_errors_are_the_contracts_json(status, code):
    raw = json_error(status, "Reason")
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == f"HTTP/1.1 {status} Reason"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Content-Type"] == "application/json" and headers["Connection"] == "close"
    assert int(headers["Content-Length"]) == len(body) and len(headers["X-Request-ID"]) == 32
    doc = json.loads(body)
    assert doc["error"]["code"] == code and doc["error"]["message"]
