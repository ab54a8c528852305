from tests.support.client import error_code


def test_health_names_the_architecture(api, deployment):
    r = api.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["architecture"] in ("monolith", "microservices")


def test_unknown_route_is_json_404(api):
    r = api.get("/nope")
    assert r.status_code == 404
    assert error_code(r) == "not_found"
