"""The books balance in both deployments, whatever the other contract tests did to them:
races, declines, idempotent replays, cancels, a checkout with billing stopped. Named to run
late, but it must hold at any moment between requests."""
import pytest

from loadtests.audit import audit, databases


@pytest.mark.parametrize("kind", ["monolith", "microservices"])
def test_nothing_lost_or_doubled(kind, request):
    deployment = request.getfixturevalue(kind)
    result = audit(databases(kind, deployment.data_dir))
    assert result["findings"] == []
    assert result["orders"] > 0 and result["charges"] >= result["orders"]
