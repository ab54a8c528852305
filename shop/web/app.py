"""The Flask setup every deployable shares, so that all of them speak the same API dialect:
request ids, the error shape, the body limit, bearer-token auth and JSON encoding."""
import json
import logging
import os
import re
import time

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import IntegerConverter

from shop.errors import ApiError, InternalError, PayloadTooLarge
from shop.web import observability
from shop.web.admission import Admission, AdmissionSettings
from shop.web.tokens import KnownUsers, TokenSigner, bearer_token

MAX_BODY_BYTES = 64 * 1024
_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")
log = logging.getLogger("shop")


def requires_auth(view):
    """Mark a view as needing a valid bearer token; the check runs before the body is read."""
    view.requires_auth = True
    return view


def request_body() -> bytes:
    """The raw request body; 413 if it is over the limit, with or without Content-Length."""
    data = request.get_data(cache=True)
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(_HTTP_ERRORS[413][1])
    return data


def current_user_id() -> int:
    return g.user_id


def request_id() -> str:
    return request.environ.get("shop.request_id", "-")


def error_body(err: ApiError) -> bytes:
    """The error document, byte for byte what every deployable sends (Flask's compact,
    key-sorted JSON encoding, newline-terminated)."""
    return (json.dumps(err.to_json(), sort_keys=True, separators=(",", ":")) + "\n").encode()


def new_request_id(incoming: str | None) -> str:
    """The client's own id if it is 1-128 visible ASCII characters, else a new one."""
    return incoming if incoming and _REQUEST_ID.fullmatch(incoming) else os.urandom(16).hex()


def http_error(err: HTTPException) -> tuple[ApiError, dict]:
    """A werkzeug HTTP error (404, 405, 413...) as the API's error, with its headers."""
    code, message = _HTTP_ERRORS.get(err.code, ("internal_error" if (err.code or 500) >= 500
                                               else "invalid_request", err.description))
    api_err = ApiError(message, code)
    api_err.status = err.code or 500
    headers = {}
    if err.code == 405 and getattr(err, "valid_methods", None):
        headers["Allow"] = ", ".join(sorted(err.valid_methods))
    return api_err, headers


def error_response(err: ApiError, headers=None):
    response = Response(error_body(err), status=err.status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


_HTTP_ERRORS = {
    400: ("invalid_request", "The request is malformed."),
    404: ("not_found", "There is nothing at this address."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("payload_too_large", f"The request body is larger than {MAX_BODY_BYTES // 1024} KiB."),
}


def _needs_auth(app: Flask, req) -> bool:
    """Whether this request's route needs a token. A wrong method on a protected path needs
    one too, so that 401 comes before 405 as the contract orders them."""
    endpoint = req.endpoint
    if endpoint is None and isinstance(req.routing_exception, MethodNotAllowed):
        adapter = app.url_map.bind_to_environ(req.environ)
        for method in sorted(req.routing_exception.valid_methods or ()):
            try:
                endpoint = adapter.match(method=method)[0]
                break
            except HTTPException:
                continue
    view = app.view_functions.get(endpoint) if endpoint else None
    return bool(view is not None and getattr(view, "requires_auth", False))


class BoundedInt(IntegerConverter):
    """``<int:...>`` limited to what SQLite stores: a larger id is simply not found (404),
    not an overflow (500). Only ASCII digits: werkzeug's ``\\d+`` also matches other
    scripts' digits (an Arabic-Indic one would be read as product 1), which are not ids."""

    regex = r"[0-9]+"

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def install_converters(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedInt


def create_base_app(name: str, tokens: TokenSigner, admission: AdmissionSettings | None = None,
                    known_users: KnownUsers | None = None, *, log_format: str = "json",
                    tracing: str = "off") -> Flask:
    """The shared app; with ``admission``, requests that waited too long for a thread are
    shed at once (shop/web/admission.py). ``known_users``: where a token's user is checked to
    exist (the monolith; in the microservices each service with protected routes asks the
    accounts service, microservices/services/__init__.py, and the Python gateway does too). ``log_format`` and ``tracing``: the deployable's settings (observability.configure)."""
    # No static folder: the shop serves none, and Flask's /static/<path> route would otherwise
    # be part of every route table (the gateway's included).
    app = Flask(name, static_folder=None)
    if admission is not None:
        app.wsgi_app = Admission(app.wsgi_app, name, admission)
    install_converters(app)
    # One byte more than allowed: a body without Content-Length (chunked) is cut there by
    # werkzeug, so reading MAX + 1 bytes is how we know it was too large (see request_body).
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1
    app.extensions["shop.tokens"] = tokens
    observability.configure(name, log_format=log_format, tracing=tracing)
    tracing = observability.tracing_enabled()

    # The per-request bookkeeping lives in the WSGI environ of the one request object: every
    # ``request.x`` or ``g.x`` goes through a context-local proxy, and at a few thousand
    # requests a second those lookups were a measurable share of a product read (issue 5).
    @app.before_request
    def _start():
        req = request._get_current_object()
        env = req.environ
        env["shop.started"] = time.perf_counter()
        rid = env["shop.request_id"] = new_request_id(env.get("HTTP_X_REQUEST_ID"))
        observability.request_id_var.set(rid)
        rule = req.url_rule
        route = env["shop.route"] = rule.rule if rule is not None else "unmatched"
        observability.route_var.set(f"{req.method} {route}")
        if tracing:
            env["shop.span"] = observability.start_server_span(name, f"{req.method} {route}", req.headers)
        if _needs_auth(app, req):
            user_id = tokens.verify(bearer_token(env.get("HTTP_AUTHORIZATION")))
            g.user_id = known_users.check(user_id) if known_users is not None else user_id
        if (req.content_length or 0) > MAX_BODY_BYTES:
            raise PayloadTooLarge(_HTTP_ERRORS[413][1])

    @app.after_request
    def _finish(response):
        req = request._get_current_object()
        env = req.environ
        response.headers["X-Request-ID"] = env.get("shop.request_id", "-")
        started = env.get("shop.started")
        if started is not None:
            method = req.method if req.method in _METHODS else "OTHER"  # bounded label values
            observability.record_request(name, method, env["shop.route"], response.status_code,
                                         time.perf_counter() - started)
            if tracing:
                observability.end_server_span(env.pop("shop.span", None), response.status_code)
        if req.method == "OPTIONS" and "Allow" in response.headers:
            # Flask lists them in set order, which changes from process to process.
            response.headers["Allow"] = ", ".join(sorted(response.allow))
        return response

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        if err.status >= 500:
            log.warning("%s %s -> %s %s", request.method, request.path, err.status, err.message)
        return error_response(err, getattr(err, "headers", None))  # e.g. 429's Retry-After

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        if err.code is not None and err.code < 400:  # e.g. a redirect to the canonical path
            return err.get_response()
        return error_response(*http_error(err))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(InternalError("Something went wrong on our side; it has been logged."))

    # No /metrics here: the gunicorn master serves them on a port of their own (gunicorn_conf.py).
    return app

