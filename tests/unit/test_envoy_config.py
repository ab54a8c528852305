"""Envoy's generated configuration (microservices/envoy.py), read as data: the same routes as
the public blueprints, the contract's error bytes, auth on exactly the protected paths,
retries only of what is safe to repeat. (Envoy itself runs in the contract tests.)"""
import base64
import json
import re
from pathlib import Path

import pytest

from microservices import envoy
from microservices.config import Config, gateway_kind
from microservices.gateway import public_routes
from shop.errors import ServiceUnavailable, Unauthorized
from shop.web.app import error_body

SECRET = "unit-test-secret"


def config(tmp_path: Path, **env) -> Config:
    return Config.from_env({"SHOP_DATA_DIR": str(tmp_path), "SHOP_SECRET": SECRET, "GATEWAY": "python",
                            "GATEWAY_PORT": "18080", "GATEWAY_METRICS_PORT": "19080", **env})


@pytest.fixture
def boot(tmp_path):
    return envoy.bootstrap(config(tmp_path))


def hcm(boot) -> dict:
    public = next(l for l in boot["static_resources"]["listeners"] if l["name"] == "public")
    return public["filter_chains"][0]["filters"][0]["typed_config"]


def routes(boot) -> list:
    return hcm(boot)["route_config"]["virtual_hosts"][0]["routes"]


def route_for(boot, method: str, path: str) -> dict:
    """The first route Envoy would pick (path regex, then the method header)."""
    for route in routes(boot):
        match = route["match"]
        if "path" in match and match["path"] != path:
            continue
        if "safe_regex" in match and not re.fullmatch(match["safe_regex"]["regex"].strip("^$"), path):
            continue
        if "prefix" in match and not path.startswith(match["prefix"]):
            continue
        headers = match.get("headers", [])
        method_rules = [h for h in headers if h["name"] == ":method"]
        if any(not re.fullmatch(h["string_match"]["safe_regex"]["regex"].strip("^$"), method) for h in method_rules):
            continue
        if any(h["name"] == "idempotency-key" for h in headers):
            continue  # these tests send no Idempotency-Key
        return route
    raise AssertionError(f"no route for {method} {path}")


def sample(rule: str) -> str:
    return re.sub(r"<[^>]+>", "7", rule)


def test_it_is_plain_json(boot):
    assert json.loads(json.dumps(boot)) == boot


def test_every_public_route_goes_to_its_service(boot):
    for rule, _endpoint, service, methods, _auth in public_routes():
        for method in methods:
            route = route_for(boot, method, sample(rule))
            assert route["route"]["cluster"] == service, (method, rule)


def test_internal_and_unknown_paths_are_404_and_wrong_methods_405_with_allow(boot):
    for path in ("/internal/products/lookup", "/internal/users/1", "/nope", "/api/products/abc", "/metrics"):
        assert route_for(boot, "GET", path)["direct_response"]["status"] == 404, path
    route = route_for(boot, "DELETE", "/api/products")
    assert route["direct_response"]["status"] == 405
    assert route["response_headers_to_add"][0]["header"] == {"key": "Allow", "value": "GET, HEAD, OPTIONS"}
    assert route_for(boot, "GET", "/api/auth/login")["direct_response"]["status"] == 405


def test_jwt_is_required_on_every_method_of_exactly_the_protected_paths(boot):
    jwt = next(f for f in hcm(boot)["http_filters"] if f["name"] == "envoy.filters.http.jwt_authn")["typed_config"]
    protected = {sample(rule) for rule, *_rest, auth in public_routes() if auth}
    open_paths = {sample(rule) for rule, *_rest, auth in public_routes() if not auth}
    regexes = [r["match"]["safe_regex"]["regex"] for r in jwt["rules"]]
    for path in protected:
        assert any(re.fullmatch(rx.strip("^$"), path) for rx in regexes), path
    for path in open_paths:
        assert not any(re.fullmatch(rx.strip("^$"), path) for rx in regexes), path
    key = json.loads(jwt["providers"]["shop"]["local_jwks"]["inline_string"])["keys"][0]
    assert key["alg"] == "HS256" and base64.urlsafe_b64decode(key["k"] + "==").decode() == SECRET


def test_401_runs_before_the_body_limit_and_the_router(boot):
    names = [f["name"] for f in hcm(boot)["http_filters"]]
    assert names.index("envoy.filters.http.jwt_authn") < names.index("envoy.filters.http.buffer") < names.index(
        "envoy.filters.http.router")
    assert names[-1] == "envoy.filters.http.router"


def _bodies(boot) -> dict[int, set]:
    out = {}
    for mapper in hcm(boot)["local_reply_config"]["mappers"]:
        out.setdefault(mapper["status_code"], set()).add(mapper["body_format_override"]["text_format_source"]["inline_string"])
    return out


def test_local_replies_are_the_shops_error_bytes(boot):
    bodies = _bodies(boot)
    assert (b'{"error":{"code":"not_found","message":"There is nothing at this address."}}\n'.decode()
            in bodies[404])
    assert b'{"error":{"code":"method_not_allowed","message":"This method is not allowed here."}}\n'.decode() in bodies[405]
    assert b'{"error":{"code":"payload_too_large","message":"The request body is larger than 64 KiB."}}\n'.decode() in bodies[413]
    for message in ("This endpoint needs an 'Authorization: Bearer <token>' header.",
                    "The Authorization header must be 'Bearer <token>'.",
                    "Your token has expired; log in again.", "The bearer token is invalid; log in again."):
        assert error_body(Unauthorized(message)).decode() in bodies[401]
    assert error_body(ServiceUnavailable("catalog")).decode() in bodies[503]
    assert 502 not in bodies and 504 not in bodies   # a dependency down or too slow is 503 (API.md)
    for mapper in hcm(boot)["local_reply_config"]["mappers"]:
        assert mapper["body_format_override"]["content_type"] == "application/json"


def test_overflow_is_shed_with_retry_after(boot):
    shed = [m for m in hcm(boot)["local_reply_config"]["mappers"] if "Retry-After" in json.dumps(m)]
    assert shed and all(m["status_code"] == 503 for m in shed)
    assert all("UO" in json.dumps(m["filter"]) for m in shed)
    for cluster in boot["static_resources"]["clusters"]:
        if cluster["name"] in Config.from_env({}).urls:
            limits = cluster["circuit_breakers"]["thresholds"][0]
            assert limits["max_pending_requests"] and limits["max_requests"]


def test_only_what_is_safe_to_repeat_is_retried(boot):
    get = route_for(boot, "GET", "/api/products/7")["route"]["retry_policy"]["retry_on"]
    post = route_for(boot, "POST", "/api/orders")["route"]["retry_policy"]["retry_on"]
    assert "reset" in get.split(",")
    assert set(post.split(",")) == {"connect-failure", "reset-before-request"}   # never sent: safe
    keyed = next(r for r in routes(boot) if r["name"] == "/api/orders POST idempotent")
    assert "reset" in keyed["route"]["retry_policy"]["retry_on"].split(",")
    assert {"name": "idempotency-key", "present_match": True} in keyed["match"]["headers"]


def test_the_client_address_is_set_by_the_gateway(boot):
    route = route_for(boot, "POST", "/api/auth/login")
    header = route["request_headers_to_add"][0]
    assert header["header"]["key"] == "X-Shop-Client"
    assert header["append_action"] == "OVERWRITE_IF_EXISTS_OR_ADD"


def test_request_ids_are_passed_on_and_returned(boot):
    manager = hcm(boot)
    assert manager["preserve_external_request_id"] and manager["always_set_request_id_in_response"]
    assert manager["request_id_extension"]["typed_config"]["pack_trace_reason"] is False
    assert envoy.REQUEST_ID_RE in json.dumps(manager["http_filters"][0])


def test_access_logs_and_tracing_follow_the_settings(tmp_path):
    quiet = hcm(envoy.bootstrap(config(tmp_path, SHOP_ACCESS_LOG="0")))
    assert "access_log" not in quiet and "tracing" not in quiet
    loud = envoy.bootstrap(config(tmp_path, SHOP_ACCESS_LOG="1", SHOP_TRACING="otlp"),
                           {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    log = hcm(loud)["access_log"][0]["typed_config"]["log_format"]["json_format"]
    assert log["request_id"] == "%REQ(X-REQUEST-ID)%" and log["service"] == "gateway"
    uri = hcm(loud)["tracing"]["provider"]["typed_config"]["http_service"]["http_uri"]
    assert uri["uri"] == "http://collector:4318/v1/traces" and uri["cluster"] == "otlp"
    assert "otlp" in [c["name"] for c in loud["static_resources"]["clusters"]]


def test_stats_are_on_the_metrics_port_and_the_admin_on_a_unix_socket(boot):
    metrics = next(l for l in boot["static_resources"]["listeners"] if l["name"] == "metrics")
    assert metrics["address"]["socket_address"]["port_value"] == 19080
    assert "pipe" in boot["admin"]["address"]


def test_the_gateway_setting(tmp_path):
    assert gateway_kind({"GATEWAY": "python"}) == "python"
    assert gateway_kind({"GATEWAY": "envoy", "ENVOY_BINARY": "/opt/envoy"}) == "envoy"
    assert gateway_kind({"ENVOY_BINARY": "/opt/envoy"}) == "envoy"
    with pytest.raises(SystemExit, match="GATEWAY must be one of"):
        gateway_kind({"GATEWAY": "nginx"})


def test_trusted_proxies_are_believed_about_the_client(tmp_path):
    manager = hcm(envoy.bootstrap(config(tmp_path, SHOP_FORWARDED_ALLOW_IPS="10.0.0.0/8, 127.0.0.1")))
    xff = manager["original_ip_detection_extensions"][0]["typed_config"]
    assert xff["xff_trusted_cidrs"]["cidrs"] == [{"address_prefix": "10.0.0.0", "prefix_len": 8},
                                                 {"address_prefix": "127.0.0.1", "prefix_len": 32}]
    assert "use_remote_address" not in manager   # Envoy refuses both at once
    assert manager["internal_address_config"]["cidr_ranges"] == []   # nobody steers Envoy by x-envoy-*


def test_a_query_without_content_type_is_answered_like_any_method_not_served(boot):
    """Envoy answers such a QUERY (RFC 10008) 400 before routing: mappers give the shop's answers."""
    mappers = [m for m in hcm(boot)["local_reply_config"]["mappers"] if "query_missing_content_type" in json.dumps(m)]
    statuses = {m["status_code"] for m in mappers}
    assert statuses == {401, 404, 405}
    products = next(m for m in mappers if "^/api/products$" in json.dumps(m) and m["status_code"] == 405)
    assert products["headers_to_add"][0]["header"] == {"key": "Allow", "value": "GET, HEAD, OPTIONS"}
    assert mappers[-1]["status_code"] == 404   # any other path
