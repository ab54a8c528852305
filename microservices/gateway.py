"""The gateway: the only public entry point of the microservices.

Its routes are read off the capabilities' PUBLIC blueprints, so it serves exactly the public
API (same paths, same methods, same 404 and 405) and nothing else: ``/internal/...`` routes
live on separate blueprints that are never exposed here. Tokens are checked here first (401
before 413, as the contract orders them), and again by the service (it trusts no one).
"""
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from flask import Flask, Response, jsonify, request

from microservices.config import Config
from microservices.http import ServiceClient
from shop.web.app import create_base_app, request_body
from shop.web.tokens import TokenSigner

_FORWARDED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Accept")


def public_routes() -> list[tuple[str, str, str, set[str], bool]]:
    """(rule, endpoint, service, methods, requires_auth) for every public route of every capability."""
    from shop.accounts.api import create_blueprint as accounts
    from shop.cart.api import create_blueprint as cart
    from shop.catalog.api import create_blueprint as catalog
    from shop.orders.api import create_blueprint as orders
    from shop.shipping.api import create_blueprint as shipping

    probe = Flask("routes-probe")
    for make in (accounts, catalog, cart, shipping, orders):
        probe.register_blueprint(make(None))  # views are only registered, never called
    routes = []
    for rule in probe.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        service = rule.endpoint.split(".", 1)[0]
        view = probe.view_functions[rule.endpoint]
        routes.append((rule.rule, rule.endpoint, service, set(rule.methods) - {"HEAD", "OPTIONS"},
                       getattr(view, "requires_auth", False)))
    return routes


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    tokens = TokenSigner(config.secret, config.token_ttl)
    app = create_base_app("gateway", tokens)
    upstreams = {name: ServiceClient(name, url, connect_timeout=config.connect_timeout,
                                     call_timeout=config.call_timeout,
                                     pool_size=config.gateway.threads)
                 for name, url in config.urls.items()}

    def make_proxy(service: str, requires_auth: bool):
        client = upstreams[service]

        def proxy(**_):
            body = request_body() or None   # 413 past the limit, chunked or not
            headers = {h: request.headers[h] for h in _FORWARDED_HEADERS if h in request.headers}
            path = request.environ.get("RAW_URI") or quote(request.path) + (
                "?" + request.query_string.decode("latin-1") if request.query_string else "")
            upstream = client.request_raw(request.method, path, body=body, headers=headers)
            return Response(upstream.data, status=upstream.status,
                            content_type=upstream.headers.get("Content-Type", "application/json"))

        proxy.requires_auth = requires_auth
        return proxy

    for rule, endpoint, service, methods, requires_auth in public_routes():
        app.add_url_rule(rule, endpoint=endpoint, view_func=make_proxy(service, requires_auth),
                         methods=sorted(methods))

    health_pool = ThreadPoolExecutor(max_workers=len(upstreams), thread_name_prefix="health")

    def probe(name: str) -> str:
        try:
            upstreams[name].call("GET", "/healthz")
            return "ok"
        except Exception:
            return "down"

    @app.get("/healthz")
    def healthz():
        names = sorted(upstreams)
        states = dict(zip(names, health_pool.map(probe, names)))
        status = "ok" if all(s == "ok" for s in states.values()) else "degraded"
        return jsonify({"status": status, "architecture": "microservices", "services": states})

    return app
