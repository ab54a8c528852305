"""Envoy as the microservices' front door: its bootstrap configuration, generated.

The routes come from the same place as the Python gateway's (``gateway.public_routes()``: the
capabilities' PUBLIC blueprints), so the two gateways can never disagree about what is public.
Everything the contract asks of the edge is one of Envoy's own features:

- routing: a route per public path and method to the service's cluster; a wrong method on a
  known path is a direct 405 with the monolith's ``Allow`` header, anything else a direct 404;
- 401 first (API.md's order): ``jwt_authn`` checks the HS256 token (the shop's secret as a
  local JWKS) on every method of a protected path, before the body limit and the routing
  errors. What it cannot express (the subject must be a canonical user id of an existing
  user) the service behind checks again, as it does behind the Python gateway;
- 413: the ``buffer`` filter, at the shop's limit (64 KiB);
- X-Request-ID: Envoy passes the client's on and returns it on every answer, local replies
  included; one that is not 1-128 visible ASCII characters is replaced (a ``composite`` filter
  whose matcher runs a ``header_mutation`` only for those);
- the error bodies: ``local_reply_config`` mappers give Envoy's own answers (401, 404, 405,
  413, 502, 503, 504) exactly the bytes of ``shop.web.app.error_body``;
- timeouts, retries only of what is safe to send twice (``gateway.is_repeatable``: idempotent
  methods, a POST with an Idempotency-Key; any request whose connection failed before it was
  sent), circuit breaking (bounded pending and active requests: overflow is a fast 503 with
  Retry-After) and outlier detection (a service that refuses connections is ejected for a while);
- JSON access logs with the request id; Prometheus stats (the admin's /stats/prometheus, also
  as /metrics, on the gateway's metrics port; the admin itself listens on a unix socket only);
- OpenTelemetry tracing (OTLP over HTTP) when ``SHOP_TRACING=otlp``.

``GET /healthz`` asks every service, as the Python gateway does: a few lines of Lua on that
route only. Nothing here starts a process: the launcher does (microservices/launcher.py)."""
import base64
import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from microservices.config import Config, envoy_binary
from microservices.gateway import _probe_app, public_routes
from shop.errors import TIMED_OUT, UNAVAILABLE, ApiError, ServiceUnavailable, Unauthorized
from shop.web.app import _HTTP_ERRORS, MAX_BODY_BYTES, error_body
from shop.web.admission import RETRY_AFTER_S
from shop.web.gunicorn_errors import _MESSAGES as GUNICORN_MESSAGES

# What a request id must be to be passed on (shop.web.app._REQUEST_ID), in RE2.
REQUEST_ID_RE = "^[!-~]{1,128}$"
ADMIN_SOCKET = "envoy-admin.sock"
SAFE_RETRY_ON = "connect-failure,refused-stream,reset"   # a repeatable request: any connection failure
ALWAYS_RETRY_ON = "connect-failure,reset-before-request"  # any request: it never reached the service
REQUEST_LINE_LIMIT = 4094   # gunicorn's limit_request_line (shop/web/gunicorn.py)
# Bounds on what waits at the edge (per service): past them, a fast 503, not an unbounded queue.
MAX_PENDING = 1024
MAX_REQUESTS = 4096


def available(env=None) -> bool:
    return envoy_binary(env) is not None


# -- error bodies -------------------------------------------------------------------------------
def _body(err: ApiError) -> str:
    return error_body(err).decode()


def _error(status: int, code: str, message: str) -> str:
    err = ApiError(message, code)
    err.status = status
    return _body(err)


def _text(body: str) -> dict:
    """A literal body for body_format (a % is a command operator there)."""
    return {"text_format_source": {"inline_string": body.replace("%", "%%")}, "content_type": "application/json"}


def _status_filter(code: int) -> dict:
    return {"status_code_filter": {"comparison": {"op": "EQ", "value": {"default_value": code,
                                                                         "runtime_key": f"shop.status.{code}"}}}}


def _cel(expression: str) -> dict:
    return {"extension_filter": {"name": "envoy.access_loggers.extension_filters.cel", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
        "expression": expression}}}


def _header_filter(name: str, present: bool = True, regex: str | None = None, invert: bool = False) -> dict:
    header = {"name": name}
    if regex is not None:
        header["string_match"] = {"safe_regex": {"regex": regex}}
    else:
        header["present_match"] = present
    if invert:
        header["invert_match"] = True
    return {"header_filter": {"header": header}}


def _and(*filters) -> dict:
    return {"and_filter": {"filters": list(filters)}}


# A request Envoy could not parse has no request id yet: a new one (ADD_IF_ABSENT).
_NEW_ID = {"X-Request-ID": ("%UNIQUE_ID%", "ADD_IF_ABSENT")}


def _mapper(filter_: dict, status: int, body: str, headers: dict | None = None) -> dict:
    mapper = {"filter": filter_, "status_code": status, "body_format_override": _text(body)}
    if headers:
        mapper["headers_to_add"] = [
            {"header": {"key": k, "value": v if isinstance(v, str) else v[0]},
             "append_action": "OVERWRITE_IF_EXISTS_OR_ADD" if isinstance(v, str) else v[1]}
            for k, v in headers.items()]
    return mapper


def _query_without_content_type() -> list:
    """Envoy 1.40 answers a QUERY (RFC 10008) without Content-Type 400 itself, before any
    filter or route: answer what the shop answers any method it does not serve instead (401
    first on a protected path, then 405 with the path's Allow; 404 elsewhere). A token is not
    checked here: a QUERY with any bearer token on a protected path is a 405."""
    details = "response.code_details == 'query_missing_content_type'"
    missing = _header_filter("authorization", present=False)
    scheme = _header_filter("authorization", regex=_BEARER, invert=True)
    out = []
    for entry in [HEALTHZ, *routes_by_path()]:
        on_path = _cel(f"{details} && request.url_path.matches(r'{entry['regex']}')")
        if entry["auth"]:
            out.append(_mapper(_and(on_path, missing), 401, _body(Unauthorized(UNAUTHORIZED["missing"]))))
            out.append(_mapper(_and(on_path, scheme), 401, _body(Unauthorized(UNAUTHORIZED["scheme"]))))
        out.append(_mapper(on_path, 405, _error(405, *_HTTP_ERRORS[405]), {"Allow": entry["allow"]}))
    out.append(_mapper(_cel(details), 404, _error(404, *_HTTP_ERRORS[404])))
    return out


HEALTHZ = {"rule": "/healthz", "regex": "^/healthz$", "allow": "GET, HEAD, OPTIONS", "auth": False}
UNAUTHORIZED = {
    "missing": "This endpoint needs an 'Authorization: Bearer <token>' header.",
    "scheme": "The Authorization header must be 'Bearer <token>'.",
    "expired": "Your token has expired; log in again.",
    "invalid": "The bearer token is invalid; log in again.",
}
# The Python gateway's bearer_token(): the scheme is "Bearer" in any case, then a token.
_BEARER = r"^(?i:bearer) .*[^ \t].*$"


def local_replies(services) -> dict:
    """Envoy's own answers in the shop's words and bytes (the first mapper that matches wins)."""
    unauthorized, bearer = UNAUTHORIZED, _BEARER
    jwt = "response.code_details.startsWith('jwt_authn')"
    mappers = [
        # What gunicorn answers itself in front of the monolith (shop/web/gunicorn_errors.py):
        # a request line over its limit, and HTTP Envoy's codec could not parse.
        _mapper(_cel(f"size(request.method) + size(request.path) + 10 > {REQUEST_LINE_LIMIT}"), 414,
                _error(414, "invalid_request", GUNICORN_MESSAGES[414]), _NEW_ID),
        *_query_without_content_type(),
        _mapper(_status_filter(400), 400, _error(400, "invalid_request", GUNICORN_MESSAGES[400]), _NEW_ID),
        _mapper(_status_filter(426), 400, _error(400, "invalid_request", GUNICORN_MESSAGES[400]), _NEW_ID),
        _mapper(_status_filter(431), 431, _error(431, "invalid_request", GUNICORN_MESSAGES[431]), _NEW_ID),
        _mapper(_and(_status_filter(401), _cel(jwt), _header_filter("authorization", present=False)), 401,
                _body(Unauthorized(unauthorized["missing"]))),
        _mapper(_and(_status_filter(401), _cel(jwt), _header_filter("authorization", regex=bearer, invert=True)),
                401, _body(Unauthorized(unauthorized["scheme"]))),
        _mapper(_and(_status_filter(401), _cel(jwt + " && response.code_details.contains('expired')")), 401,
                _body(Unauthorized(unauthorized["expired"]))),
        _mapper(_and(_status_filter(401), _cel(jwt)), 401, _body(Unauthorized(unauthorized["invalid"]))),
        _mapper(_status_filter(404), 404, _error(404, *_HTTP_ERRORS[404])),
        _mapper(_status_filter(405), 405, _error(405, *_HTTP_ERRORS[405])),
        _mapper(_status_filter(413), 413, _error(413, *_HTTP_ERRORS[413])),
    ]
    # A service that cannot be reached, per service (its name is in the message, as the
    # Python gateway's ServiceClient says it); overflow of the circuit breaker's bounds is shed
    # with Retry-After like the shop's own admission control.
    for name in sorted(services):
        cluster = f"xds.cluster_name == '{name}'"
        mappers.append(_mapper(_and(_status_filter(503), _cel(cluster), {"response_flag_filter": {"flags": ["UO"]}}), 503,
                               _body(ServiceUnavailable(name, message=f"The {name} service is overloaded; "
                                                                      "please try again shortly.")),
                               {"Retry-After": str(RETRY_AFTER_S)}))
        # The contract has one status for a dependency that is down or too slow: 503, as the
        # Python gateway answers (Envoy's own would be 502 for a broken answer, 504 for a timeout).
        for status, why in ((503, UNAVAILABLE), (502, UNAVAILABLE), (504, TIMED_OUT)):
            mappers.append(_mapper(_and(_status_filter(status), _cel(cluster)), 503,
                                   _body(ServiceUnavailable(name, why))))
    for status in (502, 503, 504):
        err = ApiError("The shop is unavailable; please try again shortly.", "service_unavailable")
        err.status = 503
        mappers.append(_mapper(_status_filter(status), 503, _body(err)))
    return {"mappers": mappers}


# -- routes -------------------------------------------------------------------------------------
def _regex(rule) -> str:
    """A werkzeug rule (``/api/products/<id:product_id>``) as an RE2 regex of the whole path,
    with the converters' own regexes (their range checks are the service's to make again)."""
    trace = rule._trace[rule._trace.index((False, "|")) + 1:]   # the path's parts, after the host's
    out = [f"(?:{rule._converters[data].regex})" if dynamic else re.escape(data) for dynamic, data in trace]
    return "^" + "".join(out) + "$"


def routes_by_path() -> list[dict]:
    """The public routes grouped by path: its regex, service, methods, Allow header, auth."""
    probe = _probe_app()
    allow: dict[str, set] = {}
    regexes: dict[str, str] = {}
    for rule in probe.url_map.iter_rules():
        allow.setdefault(rule.rule, set()).update(rule.methods)
        regexes[rule.rule] = _regex(rule)
    grouped: dict[str, dict] = {}
    for rule, _endpoint, service, methods, auth in public_routes():
        entry = grouped.setdefault(rule, {"rule": rule, "services": {}, "auth": False,
                                          "allow": ", ".join(sorted(allow[rule]))})
        for method in methods:
            entry["services"][method] = service
        entry["auth"] = entry["auth"] or auth
    for entry in grouped.values():
        entry["regex"] = regexes[entry["rule"]]
    return sorted(grouped.values(), key=lambda e: e["rule"])


def _method_match(methods) -> dict:
    return {"name": ":method", "string_match": {"safe_regex": {"regex": "^(" + "|".join(sorted(methods)) + ")$"}}}


def _route_action(service: str, config: Config, repeatable: bool) -> dict:
    res = config.resilience
    action = {"cluster": service, "timeout": _duration(config.gateway_timeout),
              "retry_policy": {"retry_on": SAFE_RETRY_ON if repeatable else ALWAYS_RETRY_ON,
                               "num_retries": res.retries,
                               "retry_back_off": {"base_interval": _duration(max(res.backoff, 0.001))}}}
    if res.retries == 0:
        action.pop("retry_policy")
    return action


def _client_header() -> list:
    # Who the client is, for the login limit behind (shop/web/clients.py): set here, never a
    # client's own copy passed on.
    return [{"header": {"key": "X-Shop-Client", "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"},
             "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}]


def _healthz_lua(services) -> str:
    names = ", ".join(f'"{n}"' for n in sorted(services))
    return f"""
local services = {{{names}}}
function envoy_on_request(handle)
  if handle:headers():get(":method") ~= "GET" and handle:headers():get(":method") ~= "HEAD" then
    return
  end
  local parts, ok = {{}}, true
  for _, name in ipairs(services) do
    local headers = handle:httpCall(name, {{[":method"] = "GET", [":path"] = "/healthz",
                                          [":authority"] = name}}, "", 2000)
    local state = "down"
    if headers ~= nil and headers[":status"] == "200" then state = "ok" end
    if state ~= "ok" then ok = false end
    parts[#parts + 1] = '"' .. name .. '":"' .. state .. '"'
  end
  local status = ok and "ok" or "degraded"
  local body = '{{"architecture":"microservices","services":{{' .. table.concat(parts, ",") ..
               '}},"status":"' .. status .. '"}}\\n'
  handle:respond({{[":status"] = "200", ["content-type"] = "application/json"}}, body)
end
"""


def virtual_host(config: Config) -> dict:
    routes = [{
        "name": "healthz", "match": {"path": "/healthz", "headers": [_method_match(["GET", "HEAD"])]},
        "direct_response": {"status": 503},   # answered by the Lua filter before it gets here
        "typed_per_filter_config": {"envoy.filters.http.lua": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute",
            "source_code": {"inline_string": _healthz_lua(config.urls)}}},
    }, {
        "name": "healthz OPTIONS", "match": {"path": "/healthz", "headers": [_method_match(["OPTIONS"])]},
        "direct_response": {"status": 200},
        "response_headers_to_add": [_header("Allow", HEALTHZ["allow"]),
                                    _header("Content-Type", "text/html; charset=utf-8")],
    }, {
        "name": "healthz-405", "match": {"path": "/healthz"},
        "direct_response": {"status": 405},
        "response_headers_to_add": [_header("Allow", HEALTHZ["allow"])],
    }]
    for entry in routes_by_path():
        by_service: dict[str, set] = {}
        for method, service in entry["services"].items():
            by_service.setdefault(service, set()).add(method)
        match = {"safe_regex": {"regex": entry["regex"]}}
        for service, methods in sorted(by_service.items()):
            if "GET" in methods:
                methods = methods | {"HEAD"}
            unsafe = sorted(m for m in methods if m == "POST")
            safe = sorted(m for m in methods if m != "POST")
            if unsafe:
                # A POST with an Idempotency-Key may be sent twice: the service replays the first answer.
                routes.append({"name": f"{entry['rule']} POST idempotent",
                               "match": {**match, "headers": [_method_match(unsafe),
                                                              {"name": "idempotency-key", "present_match": True}]},
                               "route": _route_action(service, config, repeatable=True),
                               "request_headers_to_add": _client_header()})
                routes.append({"name": f"{entry['rule']} POST",
                               "match": {**match, "headers": [_method_match(unsafe)]},
                               "route": _route_action(service, config, repeatable=False),
                               "request_headers_to_add": _client_header()})
            if safe:
                routes.append({"name": f"{entry['rule']} {' '.join(safe)}",
                               "match": {**match, "headers": [_method_match(safe)]},
                               "route": _route_action(service, config, repeatable=True),
                               "request_headers_to_add": _client_header()})
        routes.append({"name": f"{entry['rule']} OPTIONS",
                       "match": {**match, "headers": [_method_match(["OPTIONS"])]},
                       "direct_response": {"status": 200},
                       "response_headers_to_add": [_header("Allow", entry["allow"]),
                                                   _header("Content-Type", "text/html; charset=utf-8")]})
        routes.append({"name": f"{entry['rule']} 405", "match": match,
                       "direct_response": {"status": 405},
                       "response_headers_to_add": [_header("Allow", entry["allow"])]})
    routes.append({"name": "404", "match": {"prefix": "/"}, "direct_response": {"status": 404}})
    return {"name": "shop", "domains": ["*"], "routes": routes}


def _header(key: str, value: str) -> dict:
    return {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}


def _duration(seconds: float) -> str:
    return f"{seconds:.3f}s"


# -- filters ------------------------------------------------------------------------------------
def jwks(secret: str) -> str:
    key = base64.urlsafe_b64encode(secret.encode()).rstrip(b"=").decode()
    return json.dumps({"keys": [{"kty": "oct", "alg": "HS256", "k": key}]})


def jwt_filter(config: Config) -> dict:
    rules = [{"match": {"safe_regex": {"regex": e["regex"]}}, "requires": {"provider_name": "shop"}}
             for e in routes_by_path() if e["auth"]]
    return {"name": "envoy.filters.http.jwt_authn", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        "providers": {"shop": {
            "local_jwks": {"inline_string": jwks(config.secret)},
            "forward": True,               # the service checks the token again
            "require_expiration": True,
            "clock_skew_seconds": 1,       # PyJWT's leeway is 0; the service has the last word
        }},
        "rules": rules}}


def request_id_filter() -> dict:
    """Replace an X-Request-ID that is not 1-128 visible ASCII characters (Envoy passes any on)."""
    mutation = {"name": "new-request-id", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
        "mutations": {"request_mutations": [{"append": {
            "header": {"key": "x-request-id", "value": "%UNIQUE_ID%"},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}}]}}}
    return {"name": "request-id", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.common.matching.v3.ExtensionWithMatcher",
        "extension_config": {"name": "composite", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.composite.v3.Composite"}},
        "xds_matcher": {"matcher_list": {"matchers": [{
            "predicate": {"not_matcher": {"single_predicate": {
                "input": {"name": "request-id", "typed_config": {
                    "@type": "type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput",
                    "header_name": "x-request-id"}},
                "value_match": {"safe_regex": {"google_re2": {}, "regex": REQUEST_ID_RE}}}}},
            "on_match": {"action": {"name": "replace", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.composite.v3.ExecuteFilterAction",
                "typed_config": mutation}}}}]}}}}


def http_filters(config: Config) -> list:
    return [
        request_id_filter(),
        {"name": "envoy.filters.http.lua", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua"}},  # /healthz only
        jwt_filter(config),
        {"name": "envoy.filters.http.buffer", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
            "max_request_bytes": MAX_BODY_BYTES}},
        {"name": "envoy.filters.http.router", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
            "suppress_envoy_headers": True}},
    ]


ACCESS_LOG_FORMAT = {
    "time": "%START_TIME%", "service": "gateway", "logger": "access", "request_id": "%REQ(X-REQUEST-ID)%",
    "method": "%REQ(:METHOD)%", "path": "%REQ(:PATH):512%", "status": "%RESPONSE_CODE%",
    "duration_ms": "%DURATION%", "upstream": "%UPSTREAM_CLUSTER%", "flags": "%RESPONSE_FLAGS%",
    "details": "%RESPONSE_CODE_DETAILS%", "bytes_sent": "%BYTES_SENT%", "client": "%DOWNSTREAM_REMOTE_ADDRESS%",
}


def connection_manager(config: Config, env) -> dict:
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "gateway",
        "codec_type": "AUTO",
        "use_remote_address": True,
        # No client is "internal", loopback included: none may steer Envoy with x-envoy-* headers
        # (retries, timeouts) or have them passed on.
        "internal_address_config": {"unix_sockets": False, "cidr_ranges": []},
        "generate_request_id": True,
        "preserve_external_request_id": True,
        "always_set_request_id_in_response": True,
        # The client's id is passed on as it is: by default Envoy writes the trace decision
        # into the 15th character of anything as long as a UUID.
        "request_id_extension": {"typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig",
            "pack_trace_reason": False, "use_request_id_for_trace_sampling": False}},
        "server_header_transformation": "PASS_THROUGH",
        "request_headers_timeout": "10s",
        "stream_idle_timeout": "300s",
        "common_http_protocol_options": {"idle_timeout": "60s", "headers_with_underscores_action": "ALLOW"},
        # A method Envoy does not know (QUERY, ...) is routed like any other: a 405 on a known
        # path, as gunicorn and the Python gateway answer, not a 400 from the codec.
        "http_protocol_options": {"allow_custom_methods": True},
        "route_config": {"name": "shop", "virtual_hosts": [virtual_host(config)]},
        "local_reply_config": local_replies(config.urls),
        "http_filters": http_filters(config),
    }
    if config.forwarded_allow_ips:
        # Believe the listed proxies about whom they forwarded for (as shop/web/clients.py does).
        cidrs = []
        for part in (p.strip() for p in config.forwarded_allow_ips.split(",")):
            if part == "*":
                cidrs += [{"address_prefix": "0.0.0.0", "prefix_len": 0}, {"address_prefix": "::", "prefix_len": 0}]
            elif part:
                address, _, length = part.partition("/")
                cidrs.append({"address_prefix": address,
                              "prefix_len": int(length) if length else (128 if ":" in address else 32)})
        hcm["original_ip_detection_extensions"] = [{"name": "envoy.extensions.http.original_ip_detection.xff",
                                                    "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.http.original_ip_detection.xff.v3.XffConfig",
            "xff_trusted_cidrs": {"cidrs": cidrs}}}]
        hcm.pop("use_remote_address")   # the extension decides who the client is instead
    if config.access_log:
        hcm["access_log"] = [{"name": "envoy.access_loggers.stdout", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
            "log_format": {"json_format": ACCESS_LOG_FORMAT}}}]
    if config.tracing == "otlp":
        hcm["tracing"] = {"provider": {"name": "envoy.tracers.opentelemetry", "typed_config": {
            "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
            "service_name": "gateway",
            "http_service": {"http_uri": {"uri": _otlp_traces_url(env), "cluster": "otlp", "timeout": "1s"}}}}}
    return hcm


def _otlp_traces_url(env) -> str:
    env = os.environ if env is None else env
    url = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if url:
        return url
    return env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318").rstrip("/") + "/v1/traces"


# -- clusters -----------------------------------------------------------------------------------
def _address(host: str, port: int) -> dict:
    return {"socket_address": {"address": host, "port_value": port}}


def _endpoint_cluster(name: str, host: str, port: int) -> dict:
    return {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _address(host, port)}}]}]}


def service_cluster(name: str, url: str, config: Config) -> dict:
    parts = urlsplit(url)
    res = config.resilience
    cluster = {
        "name": name, "type": "STATIC" if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", parts.hostname) else "STRICT_DNS",
        "connect_timeout": _duration(config.connect_timeout),
        "load_assignment": _endpoint_cluster(name, parts.hostname, parts.port or 80),
        # gunicorn closes a kept-alive connection after its keepalive (2 s): close ours first.
        "typed_extension_protocol_options": {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "common_http_protocol_options": {"idle_timeout": "1s"},
            "explicit_http_config": {"http_protocol_options": {}}}},
        "circuit_breakers": {"thresholds": [{
            "max_connections": MAX_REQUESTS, "max_pending_requests": MAX_PENDING,
            "max_requests": MAX_REQUESTS, "max_retries": 64,
            "retry_budget": {"budget_percent": {"value": res.retry_budget * 100},
                             "min_retry_concurrency": int(res.retry_budget_cap)}}]},
    }
    if res.breaker:
        # Only failures of the service itself (refused, reset, timed out) eject it: a 503 it
        # answers because something behind it is down is its answer, not its failure.
        cluster["outlier_detection"] = {
            "split_external_local_origin_errors": True,
            "consecutive_local_origin_failure": res.breaker_failures,
            "enforcing_consecutive_local_origin_failure": 100,
            "consecutive_5xx": 1_000_000, "enforcing_consecutive_5xx": 0,
            "consecutive_gateway_failure": 1_000_000, "enforcing_consecutive_gateway_failure": 0,
            "enforcing_success_rate": 0, "enforcing_local_origin_success_rate": 0,
            "base_ejection_time": _duration(res.breaker_open), "max_ejection_time": _duration(res.breaker_open),
            "interval": _duration(res.breaker_open),
            "max_ejection_percent": 100,
        }
    return cluster


def clusters(config: Config, env) -> list:
    out = [service_cluster(name, url, config) for name, url in sorted(config.urls.items())]
    out.append({"name": "admin", "type": "STATIC", "connect_timeout": "1s",
                "load_assignment": {"cluster_name": "admin", "endpoints": [{"lb_endpoints": [{"endpoint": {
                    "address": {"pipe": {"path": str(admin_socket(config))}}}}]}]}})
    if config.tracing == "otlp":
        parts = urlsplit(_otlp_traces_url(env))
        out.append({"name": "otlp", "type": "STRICT_DNS", "connect_timeout": "1s",
                    "load_assignment": _endpoint_cluster("otlp", parts.hostname, parts.port or 4318)})
    return out


def admin_socket(config: Config) -> Path:
    return config.data_dir / "run" / ADMIN_SOCKET


def metrics_listener(config: Config) -> dict:
    """The admin's Prometheus stats and readiness on the gateway's metrics port (read-only: the
    admin's other endpoints stay on its unix socket)."""
    proc = config.gateway
    routes = [
        {"match": {"path": "/metrics"}, "route": {"cluster": "admin", "regex_rewrite": {
            "pattern": {"regex": ".*"}, "substitution": "/stats/prometheus"}}},
        {"match": {"path": "/stats/prometheus"}, "route": {"cluster": "admin"}},
        {"match": {"path": "/ready"}, "route": {"cluster": "admin"}},
    ]
    return {"name": "metrics", "address": _address(proc.metrics_host, proc.metrics_port),
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": "metrics",
                "route_config": {"name": "metrics", "virtual_hosts": [{"name": "metrics", "domains": ["*"],
                                                                        "routes": routes}]},
                "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]}


def bootstrap(config: Config, env=None) -> dict:
    """Envoy's whole configuration for this deployment (a dict, written as JSON)."""
    proc = config.gateway
    listeners = [{
        "name": "public", "address": _address(proc.host, proc.port),
        "per_connection_buffer_limit_bytes": 1 << 20,
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                        "typed_config": connection_manager(config, env)}]}],
    }]
    if proc.metrics_port:
        listeners.append(metrics_listener(config))
    return {
        "node": {"id": "shop-gateway", "cluster": "shop"},
        "admin": {"address": {"pipe": {"path": str(admin_socket(config))}}},
        "static_resources": {"listeners": listeners, "clusters": clusters(config, env)},

        # Overload: past this many connections, new ones are refused rather than queued.
        "overload_manager": {"resource_monitors": [{
            "name": "envoy.resource_monitors.global_downstream_max_connections",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.resource_monitors."
                                      "downstream_connections.v3.DownstreamConnectionsConfig",
                             "max_active_downstream_connections": 50_000}}]},
    }


def bootstrap_path(config: Config) -> Path:
    return config.data_dir / "run" / "envoy.json"


def write_bootstrap(config: Config, env=None) -> Path:
    """Write the configuration where ``argv`` points Envoy, and clear the admin socket a
    previous (killed) Envoy may have left."""
    path = bootstrap_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    admin_socket(config).unlink(missing_ok=True)
    path.write_text(json.dumps(bootstrap(config, env), indent=1))
    return path


def argv(config: Config, path: Path, env=None) -> list[str]:
    """The command that runs Envoy on ``path``: one worker thread per GATEWAY_WORKERS."""
    return [envoy_binary(env) or "envoy", "-c", str(path), "--concurrency", str(config.gateway.workers),
            "--log-level", "warning", "--log-format", "%Y-%m-%dT%T.%eZ %l envoy: %v",
            "--base-id-path", str(path.with_suffix(".base-id")), "--use-dynamic-base-id",
            "--drain-time-s", "2", "--parent-shutdown-time-s", "5"]
