"""The gateway: the only public entry point of the microservices.

A router and a proxy, written as a plain WSGI app rather than a Flask app because it sits on
the path of every request (measured with `make bench`: Flask's per-request machinery was
about a third of the gateway's CPU). It still speaks exactly the monolith's dialect:

- its routes are read off the capabilities' PUBLIC blueprints (same paths, methods, 404 and
  405); ``/internal/...`` routes live on separate blueprints that are never exposed here;
- it answers errors with the same bytes (``shop.web.app.error_body``), in the contract's
  order: 401 (tokens are checked here first, and again by the service), then 413, then the
  routing errors;
- every response carries X-Request-ID, which is passed on to the service.
"""
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from flask import Flask
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import RequestRedirect

from microservices.config import Config
from microservices.http import ServiceClient
from shop.web.admission import Admission
from shop.errors import ApiError, InternalError, PayloadTooLarge
from shop.errors import NotFound as NoSuchResource
from shop.web import clients, observability
from shop.web.app import MAX_BODY_BYTES, error_body, http_error, install_converters, new_request_id
from shop.web.tokens import KnownUsers, TokenSigner, bearer_token

log = logging.getLogger("shop.gateway")
_FORWARDED = (("HTTP_AUTHORIZATION", "Authorization"), ("CONTENT_TYPE", "Content-Type"),
              ("HTTP_IDEMPOTENCY_KEY", "Idempotency-Key"), ("HTTP_ACCEPT", "Accept"))
_PASSED_BACK = ("Content-Type", "Allow", "Retry-After")
_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}


def _probe_app() -> Flask:
    from shop.accounts.api import create_blueprint as accounts
    from shop.cart.api import create_blueprint as cart
    from shop.catalog.api import create_blueprint as catalog
    from shop.orders.api import create_blueprint as orders
    from shop.shipping.api import create_blueprint as shipping

    probe = Flask("routes-probe", static_folder=None)  # no /static route: the services have none
    install_converters(probe)   # the same routing rules as the services, to the id limits
    for make in (accounts, catalog, cart, shipping, orders):
        probe.register_blueprint(make(None))  # views are only registered, never called
    probe.add_url_rule("/healthz", endpoint="healthz", view_func=lambda: None, methods=["GET"])
    return probe


def public_routes() -> list[tuple[str, str, str, set[str], bool]]:
    """(rule, endpoint, service, methods, requires_auth) for every public route of every capability."""
    probe = _probe_app()
    routes = []
    for rule in probe.url_map.iter_rules():
        if rule.endpoint == "healthz":
            continue
        view = probe.view_functions[rule.endpoint]
        routes.append((rule.rule, rule.endpoint, rule.endpoint.split(".", 1)[0],
                       set(rule.methods) - {"HEAD", "OPTIONS"}, getattr(view, "requires_auth", False)))
    return routes


def json_bytes(obj) -> bytes:
    """Flask's compact, key-sorted encoding, as every other answer of the shop."""
    return (json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n").encode()


def is_repeatable(method: str, headers: dict) -> bool:
    """May the gateway send this public request twice? HTTP's idempotent methods, and a POST
    that carries an Idempotency-Key; never a POST without one (it may have been acted on)."""
    return method in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE") or "Idempotency-Key" in headers


def _status(code: int) -> str:
    return f"{code} {HTTP_STATUS_CODES.get(code, 'UNKNOWN').upper()}"


class Gateway:
    def __init__(self, config: Config):
        self.tokens = TokenSigner(config.secret, config.token_ttl)
        # Who the client is, for the services behind (the login limit): shop/web/clients.py.
        self.client_address = clients.peer_address(config.forwarded_allow_ips)
        probe = _probe_app()
        self.url_map = probe.url_map
        self.auth = {e: getattr(v, "requires_auth", False) for e, v in probe.view_functions.items()}
        # gthread: one call in flight per thread; gevent: as many as there are connections
        pool = config.gateway.threads if config.gateway.worker_class == "gthread" else 256
        self.upstreams = {name: ServiceClient(name, url, connect_timeout=config.connect_timeout,
                                              call_timeout=config.gateway_timeout, pool_size=pool,
                                              caller="gateway", resilience=config.resilience)
                          for name, url in config.urls.items()}
        # A token must name an existing user: asked of accounts once per user (per worker).
        self.known_users = KnownUsers(self._user_exists)
        self.health_pool = ThreadPoolExecutor(max_workers=len(self.upstreams), thread_name_prefix="health")

    # -- WSGI ---------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        started = time.perf_counter()
        rid = new_request_id(environ.get("HTTP_X_REQUEST_ID"))
        observability.request_id_var.set(rid)
        environ["shop.route"] = "unmatched"
        span = observability.start_server_span("gateway", environ.get("REQUEST_METHOD", ""),
                                               _Headers(environ))
        try:
            status, headers, body = self.handle(environ, rid)
        except ApiError as err:
            if err.status >= 500:
                log.warning("%s %s -> %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                            err.status, err.message)
            status, headers, body = err.status, dict(getattr(err, "headers", {})), error_body(err)
            headers["Content-Type"] = "application/json"
        except Exception:
            log.exception("unhandled error on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            err = InternalError("Something went wrong on our side; it has been logged.")
            status, headers, body = 500, {"Content-Type": "application/json"}, error_body(err)
        headers.setdefault("Content-Length", str(len(body)))
        headers["X-Request-ID"] = rid
        method = environ.get("REQUEST_METHOD", "")
        observability.record_request("gateway", method if method in _METHODS else "OTHER", environ["shop.route"],
                                     status, time.perf_counter() - started)
        observability.end_server_span(span, status)
        start_response(_status(status), list(headers.items()))
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

    def handle(self, environ, rid: str) -> tuple[int, dict, bytes]:
        adapter = self.url_map.bind_to_environ(environ)
        method = environ["REQUEST_METHOD"]
        routing_error, endpoint = None, None
        try:
            rule, _ = adapter.match(return_rule=True)
            endpoint = rule.endpoint
            environ["shop.route"] = rule.rule
            observability.route_var.set(f"{method} {rule.rule}")
        except RequestRedirect as redirect:  # e.g. //api/products -> /api/products
            response = redirect.get_response(environ)
            return response.status_code, {k: v for k, v in response.headers.items()
                                          if k in ("Location", "Content-Type")}, response.get_data()
        except MethodNotAllowed as err:
            routing_error = err
            endpoint = self._endpoint_for_any(adapter, err)  # 401 comes before 405
        except NotFound as err:
            routing_error = err
        if endpoint is not None and self.auth.get(endpoint):
            self.known_users.check(self.tokens.verify(bearer_token(environ.get("HTTP_AUTHORIZATION"))))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES // 1024} KiB.")
        if routing_error is not None:
            err, headers = http_error(routing_error)
            err.headers = headers
            raise err
        if method == "OPTIONS":
            allowed = ", ".join(sorted(adapter.allowed_methods()))
            return 200, {"Allow": allowed, "Content-Type": "text/html; charset=utf-8"}, b""
        if endpoint == "healthz":
            return self.healthz()
        return self.proxy(environ, endpoint.split(".", 1)[0], method, rid, length)

    @staticmethod
    def _endpoint_for_any(adapter, err: MethodNotAllowed) -> str | None:
        for other in sorted(err.valid_methods or ()):
            try:
                return adapter.match(method=other)[0]
            except HTTPException:
                continue
        return None

    def _user_exists(self, user_id: int) -> bool:
        try:
            self.upstreams["accounts"].call("GET", f"/internal/users/{user_id}")
        except NoSuchResource:
            return False
        return True

    # -- proxying -----------------------------------------------------------------------
    def proxy(self, environ, service: str, method: str, rid: str, length: int):
        body = self._body(environ, length)
        headers = {"X-Request-ID": rid, clients.HEADER: self.client_address(environ)}
        for key, name in _FORWARDED:
            if environ.get(key):
                headers[name] = environ[key]
        path = environ.get("RAW_URI") or quote(environ.get("PATH_INFO", "/")) + (
            "?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")
        # A request the service may already have acted on is not sent twice (neither on a
        # fresh connection nor by the retry policy) unless it is idempotent: by its method, or
        # by the shopper's Idempotency-Key (the orders service replays the first answer).
        repeatable = is_repeatable(method, headers)
        upstream = self.upstreams[service].request_raw(method, path, body=body, headers=headers,
                                                       operation=environ["shop.route"], retry_stale=repeatable,
                                                       idempotent=repeatable)
        back = {name: upstream.headers[name] for name in _PASSED_BACK if upstream.headers.get(name)}
        back.setdefault("Content-Type", "application/json")
        if method == "HEAD" and upstream.headers.get("Content-Length"):
            back["Content-Length"] = upstream.headers["Content-Length"]  # what a GET would send
        return upstream.status, back, upstream.data

    @staticmethod
    def _body(environ, length: int) -> bytes | None:
        stream = environ.get("wsgi.input")
        if stream is None:
            return None
        if length:
            return stream.read(length)
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get("wsgi.input_terminated"):
            data = stream.read(MAX_BODY_BYTES + 1)   # no length given: read one byte past the limit
            if len(data) > MAX_BODY_BYTES:
                raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES // 1024} KiB.")
            return data or None
        return None

    # -- health -------------------------------------------------------------------------
    def _probe(self, name: str) -> str:
        try:
            self.upstreams[name].call("GET", "/healthz")
            return "ok"
        except Exception:
            return "down"

    def healthz(self):
        names = sorted(self.upstreams)
        states = dict(zip(names, self.health_pool.map(self._probe, names)))
        status = "ok" if all(s == "ok" for s in states.values()) else "degraded"
        body = {"architecture": "microservices", "services": states, "status": status}
        return 200, {"Content-Type": "application/json"}, json_bytes(body)


class _Headers:
    """The request's headers as the trace propagator reads them (a mapping-like view)."""

    def __init__(self, environ):
        self.environ = environ

    def get(self, name, default=None):
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"), default)

    def keys(self):
        return [k[5:].replace("_", "-").lower() for k in self.environ if k.startswith("HTTP_")]

    def __getitem__(self, name):
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name):
        return self.get(name) is not None

    def __iter__(self):
        return iter(self.keys())


def create_app(config: Config | None = None):
    config = config or Config.from_env()
    config.check_secret()  # refuses the published secret on a public address, however started
    observability.configure("gateway", log_format=config.log_format, tracing=config.tracing)
    # gevent workers: the admission limit is on requests in flight (shop/web/admission.py)
    return Admission(Gateway(config), "gateway", config.admission, gevent=config.gateway.worker_class != "gthread")
