"""docs/openapi.json is the machine-readable copy of the public API contract (API.md).

These checks keep it honest against the code: every public route is documented (and nothing
else), auth matches the views, the country list matches shop.geo. No network, no servers.
"""
import json
import re
from pathlib import Path

import pytest

from microservices.gateway import public_routes
from shop import geo

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
ERROR_STATUSES = {"400", "401", "402", "404", "405", "409", "413", "414", "429", "431", "500", "503"}


@pytest.fixture(scope="module")
def text() -> str:
    return SPEC_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def spec(text) -> dict:
    return json.loads(text)


@pytest.fixture(scope="module")
def routes():
    return public_routes()


def openapi_path(rule: str) -> str:
    """Flask's `/api/products/<int:product_id>` is OpenAPI's `/api/products/{product_id}`."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def resolve(spec: dict, node):
    """Follow local `$ref`s until a node that is not a reference."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references are used, got {ref!r}"
        assert ref not in seen, f"reference cycle at {ref!r}"
        seen.add(ref)
        node = spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(node, dict) and part in node, f"unresolvable $ref {ref!r}"
            node = node[part]
    return node


def walk(node, path=()):
    """Every (json path, dict) in the document."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, path + (i,))


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, item, operation


def parameters(spec: dict, item: dict, operation: dict) -> list[dict]:
    return [resolve(spec, p) for p in item.get("parameters", []) + operation.get("parameters", [])]


# (a) well-formed ---------------------------------------------------------------------------
def test_is_openapi_31_json(spec, text):
    assert re.fullmatch(r"3\.1\.\d+", spec["openapi"])
    assert spec["info"]["title"] and spec["info"]["version"]
    assert {s["url"] for s in spec["servers"]} == {"http://127.0.0.1:8000", "http://127.0.0.1:8080"}
    # Stable, reviewable diffs: the file is exactly what json.dumps(indent=2) writes.
    assert text == json.dumps(spec, indent=2, ensure_ascii=False) + "\n", (
        "docs/openapi.json must be formatted as json.dumps(doc, indent=2, ensure_ascii=False) "
        "plus a final newline")


def test_every_ref_resolves(spec):
    refs = [(where, node["$ref"]) for where, node in walk(spec) if isinstance(node.get("$ref"), str)]
    assert refs
    for where, ref in refs:
        resolve(spec, {"$ref": ref})  # asserts on failure


def test_operation_ids_are_unique(spec):
    ids = [op["operationId"] for _, _, _, op in operations(spec)]
    assert len(ids) == len(set(ids))


# (b) route parity --------------------------------------------------------------------------
def test_documents_exactly_the_public_routes(spec, routes):
    expected = {(openapi_path(rule), method.lower())
                for rule, _endpoint, _service, methods, _auth in routes for method in methods}
    expected.add(("/healthz", "get"))
    documented = {(path, method) for path, method, _, _ in operations(spec)}
    assert documented - expected == set(), "documented but not served"
    assert expected - documented == set(), "served but not documented in docs/openapi.json"


def test_path_parameters_are_declared_integers(spec):
    for path, method, item, operation in operations(spec):
        in_path = set(re.findall(r"{([^}]+)}", path))
        declared = {p["name"]: p for p in parameters(spec, item, operation) if p["in"] == "path"}
        assert set(declared) == in_path, (path, method)
        for p in declared.values():
            assert p["required"] is True
            assert resolve(spec, p["schema"])["type"] == "integer", (path, p["name"])


# (c) auth ----------------------------------------------------------------------------------
def test_security_matches_requires_auth(spec, routes):
    bearer = spec["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"], bearer["bearerFormat"]) == ("http", "bearer", "JWT")
    assert not spec.get("security"), "no global security: each operation says whether it needs auth"
    auth = {(openapi_path(rule), method.lower()): requires_auth
            for rule, _e, _s, methods, requires_auth in routes for method in methods}
    auth[("/healthz", "get")] = False
    for path, method, _, operation in operations(spec):
        if auth[(path, method)]:
            assert operation.get("security") == [{"bearer": []}], (path, method)
            assert "401" in operation["responses"], (path, method)
        else:
            assert not operation.get("security"), (path, method)


# (d) countries -----------------------------------------------------------------------------
def test_country_enums_match_geo(spec):
    found = []
    for where, node in walk(spec):
        props = node.get("properties")
        if isinstance(props, dict) and "country" in props:
            found.append((where, resolve(spec, props["country"])))
        if node.get("in") == "query" and node.get("name") == "country":
            found.append((where, resolve(spec, node["schema"])))
    schema_names = {where[2] for where, _ in found if where[:2] == ("components", "schemas")}
    assert "Address" in schema_names
    assert any(where[0] == "paths" for where, _ in found), "the shipping options query parameter"
    for where, country in found:
        if "enum" not in country:
            continue  # e.g. an `if` clause pinning one value with `const`
        assert country["enum"] == sorted(geo.SUPPORTED_COUNTRIES), where


def test_region_enums_match_geo(spec):
    address = spec["components"]["schemas"]["Address"]
    regions = {}
    for clause in address.get("allOf", []):
        country = clause["if"]["properties"]["country"]["const"]
        regions[country] = clause["then"]["properties"]["region"]["enum"]
        assert "region" in clause["then"]["required"]
    assert regions == {"US": sorted(geo.US_STATES), "CA": sorted(geo.CA_PROVINCES)}


# responses ---------------------------------------------------------------------------------
def test_responses_carry_request_id_and_error_shape(spec):
    error = {"$ref": "#/components/schemas/Error"}
    for path, method, _, operation in operations(spec):
        responses = operation["responses"]
        assert any(s.startswith("2") for s in responses), (path, method)
        assert "405" in responses, (path, method)
        for status, response in responses.items():
            response = resolve(spec, response)
            assert "X-Request-ID" in response.get("headers", {}), (path, method, status)
            schema = response["content"]["application/json"]["schema"]
            if status in ERROR_STATUSES:
                assert schema == error, (path, method, status)
            else:
                assert status.startswith("2") and schema != error, (path, method, status)


def test_idempotency_key_on_place_order(spec):
    item = spec["paths"]["/api/orders"]
    headers = {p["name"]: p for p in parameters(spec, item, item["post"]) if p["in"] == "header"}
    key = headers["Idempotency-Key"]
    assert key["required"] is False
    assert key["schema"]["pattern"] == "^[!-~]{1,128}$"
    assert "402" in item["post"]["responses"] and "201" in item["post"]["responses"]


# (e) full validation against the OpenAPI 3 schema (openapi-spec-validator, pinned) ----------
def test_openapi_spec_validator(spec):
    from openapi_spec_validator import validate
    validate(spec)
