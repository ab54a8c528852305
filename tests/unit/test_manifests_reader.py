"""The manifests reader (loadtests/manifests.py) against the project's real deploy/k8s files,
and against copies of them with a field removed or changed."""
import shutil
from pathlib import Path

import pytest
import yaml

from loadtests import manifests
from loadtests.manifests import (SCALE_DOWN_DEFAULT, SCALE_UP_DEFAULT, ManifestError, Policy, Rules,
                                 cpu_millicores, memory_mib)

ALL = ["monolith", "gateway", "catalog", "cart", "orders", "billing", "tax", "shipping", "accounts"]


def raw_objects(variant: str, kind: str, root: Path = manifests.K8S) -> dict[str, dict]:
    """Every object of a kind in a variant's folder, read without the reader."""
    out = {}
    for path in sorted((root / variant).glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == kind:
                out[doc["metadata"]["name"]] = doc
    return out


def test_all_nine_deployables_are_read_with_the_sizes_their_files_give():
    found = manifests.read_all()
    assert sorted(found) == sorted(ALL)
    for name, d in found.items():
        raw = raw_objects(d.variant, "Deployment")[name]
        r = raw["spec"]["template"]["spec"]["containers"][0]["resources"]
        assert d.resources.cpu_request_m == cpu_millicores(r["requests"]["cpu"]), name
        assert d.resources.cpu_limit_m == cpu_millicores(r["limits"]["cpu"]), name
        assert d.resources.memory_request_mi == memory_mib(r["requests"]["memory"]), name
        assert d.resources.memory_limit_mi == memory_mib(r["limits"]["memory"]), name
        assert d.resources.cpu_request > 0 and d.resources.cpu_limit >= d.resources.cpu_request
        assert (manifests.PROJECT_ROOT / d.source).exists(), d.source


def test_the_hot_paths_have_autoscalers_and_the_others_a_fixed_count():
    """The experiment scales the catalog and the gateway (microservices) and the monolith; the
    stateful services keep one replica each (their SQLite file has one writer)."""
    found = manifests.read_all()
    assert {n for n, d in found.items() if d.autoscaler} == {"monolith", "gateway", "catalog"}
    for name in ("cart", "orders", "billing", "tax", "shipping", "accounts"):
        assert found[name].autoscaler is None and found[name].replicas == 1
        assert found[name].min_replicas == 1
    assert found["gateway"].min_replicas == found["gateway"].autoscaler.min_replicas


def expected_rules(raw: dict | None, default: Rules) -> Rules:
    if raw is None:
        return default
    policies = default.policies if raw.get("policies") is None else tuple(
        Policy(p["type"], p["value"], p["periodSeconds"]) for p in raw["policies"])
    return Rules(raw.get("stabilizationWindowSeconds", default.stabilization_window_s), policies,
                 raw.get("selectPolicy", "Max"), float(raw.get("tolerance", 0.1)))


@pytest.mark.parametrize("variant", ["monolith", "microservices"])
def test_each_autoscaler_is_its_hpa_with_kubernetes_defaults_for_what_it_leaves_out(variant):
    found = manifests.read(variant)
    hpas = raw_objects(variant, "HorizontalPodAutoscaler")
    assert hpas, f"deploy/k8s/{variant} has no HorizontalPodAutoscaler"
    for hpa in hpas.values():
        spec = hpa["spec"]
        a = found[spec["scaleTargetRef"]["name"]].autoscaler
        assert a.min_replicas == spec.get("minReplicas", 1)
        assert a.max_replicas == spec["maxReplicas"]
        assert a.target_utilization == spec["metrics"][0]["resource"]["target"]["averageUtilization"]
        behavior = spec.get("behavior") or {}
        assert a.scale_up == expected_rules(behavior.get("scaleUp"), SCALE_UP_DEFAULT)
        assert a.scale_down == expected_rules(behavior.get("scaleDown"), SCALE_DOWN_DEFAULT)


# -- copies of the manifests, changed ------------------------------------------------------
@pytest.fixture
def k8s(tmp_path) -> Path:
    root = tmp_path / "deploy" / "k8s"
    shutil.copytree(manifests.K8S, root)
    return root


def edit(path: Path, kind: str, name: str, change) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    for doc in docs:
        if doc.get("kind") == kind and doc["metadata"]["name"] == name:
            change(doc)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def test_an_hpa_without_behavior_min_or_metrics_gets_the_documented_defaults(k8s):
    def strip(doc):
        for field in ("behavior", "minReplicas", "metrics"):
            doc["spec"].pop(field, None)
    edit(k8s / "microservices" / "hpa.yaml", "HorizontalPodAutoscaler", "catalog", strip)
    a = manifests.read("microservices", k8s)["catalog"].autoscaler
    assert (a.min_replicas, a.target_utilization) == (1, 80)
    # "Horizontal Pod Autoscaling", Default behavior: up 100% or 4 pods per 15 s (the larger),
    # no window; down 100% per 15 s after a 300 s window.
    assert a.scale_up == Rules(0, (Policy("Percent", 100, 15), Policy("Pods", 4, 15)), "Max", 0.1)
    assert a.scale_down == Rules(300, (Policy("Percent", 100, 15),), "Max", 0.1)


def test_a_direction_with_some_fields_gets_the_defaults_for_the_others(k8s):
    def partial(doc):
        doc["spec"]["behavior"] = {"scaleDown": {"policies": [{"type": "Pods", "value": 2, "periodSeconds": 30}]},
                                   "scaleUp": {"stabilizationWindowSeconds": 60, "selectPolicy": "Min",
                                               "tolerance": "50m"}}
    edit(k8s / "microservices" / "hpa.yaml", "HorizontalPodAutoscaler", "gateway", partial)
    a = manifests.read("microservices", k8s)["gateway"].autoscaler
    assert a.scale_down == Rules(300, (Policy("Pods", 2, 30),), "Max", 0.1)
    assert a.scale_up == Rules(60, SCALE_UP_DEFAULT.policies, "Min", 0.05)


@pytest.mark.parametrize("where,change,says", [
    ("catalog", lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"].pop("cpu"),
     "resources.requests.cpu"),
    ("catalog", lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"].pop("limits"),
     "resources.limits.cpu"),
    ("cart", lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"].pop("memory"),
     "resources.requests.memory"),
    ("cart", lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"].update(cpu="lots"),
     "CPU quantity"),
    ("cart", lambda d: d["spec"].update(replicas=0), "spec.replicas"),
])
def test_a_deployment_without_what_the_experiment_needs_is_an_error_naming_its_file(k8s, where, change, says):
    edit(k8s / "microservices" / f"{where}.yaml", "Deployment", where, change)
    with pytest.raises(ManifestError, match=says) as err:
        manifests.read("microservices", k8s)
    assert f"deploy/k8s/microservices/{where}.yaml" in str(err.value)


@pytest.mark.parametrize("change,says", [
    (lambda d: d["spec"].pop("maxReplicas"), "maxReplicas"),
    (lambda d: d["spec"].update(minReplicas=9), "above maxReplicas"),
    (lambda d: d["spec"]["metrics"][0]["resource"].update(name="memory"), "CPU utilisation|cpu"),
    (lambda d: d["spec"]["behavior"]["scaleUp"]["policies"][0].update(type="Nodes"), "Pods or Percent"),
    (lambda d: d["spec"]["behavior"]["scaleDown"]["policies"][0].update(periodSeconds=0), "periodSeconds"),
    (lambda d: d["spec"]["behavior"]["scaleDown"].update(selectPolicy="Fastest"), "selectPolicy"),
    (lambda d: d["spec"]["scaleTargetRef"].update(name="katalog"), "targets"),
])
def test_an_hpa_the_experiment_cannot_follow_is_an_error(k8s, change, says):
    edit(k8s / "microservices" / "hpa.yaml", "HorizontalPodAutoscaler", "catalog", change)
    with pytest.raises(ManifestError, match=says) as err:
        manifests.read("microservices", k8s)
    assert "deploy/k8s/microservices/hpa.yaml" in str(err.value)


def test_a_missing_deployment_is_an_error(k8s):
    (k8s / "monolith" / "monolith.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}))
    with pytest.raises(ManifestError, match="monolith"):
        manifests.read("monolith", k8s)


def test_quantities():
    assert [cpu_millicores(v) for v in ("200m", "0.5", 0.25, 2, "1500m")] == [200, 500, 250, 2000, 1500]
    assert memory_mib("144Mi") == 144 and memory_mib("1Gi") == 1024 and memory_mib(2**21) == 2
    assert memory_mib("128M") == pytest.approx(122.07, abs=0.01)
    for bad in ("0m", "-1", "fast"):
        with pytest.raises(ValueError):
            cpu_millicores(bad)
    with pytest.raises(ValueError):
        memory_mib("lots")


def test_a_time_scaled_policy_keeps_its_shape_on_a_faster_clock():
    a = manifests.read("microservices")["catalog"].autoscaler
    fast = a.time_scaled(0.1)
    assert (fast.min_replicas, fast.max_replicas, fast.target_utilization) == \
        (a.min_replicas, a.max_replicas, a.target_utilization)
    assert fast.scale_down.stabilization_window_s == pytest.approx(a.scale_down.stabilization_window_s * 0.1)
    for slow, quick in zip(a.scale_up.policies + a.scale_down.policies, fast.scale_up.policies + fast.scale_down.policies):
        assert (quick.type, quick.value) == (slow.type, slow.value)
        assert quick.period_s == pytest.approx(slow.period_s * 0.1)


def test_time_scaling_a_deployment_changes_only_the_autoscalers_clocks():
    found = manifests.read("microservices")
    quick = manifests.time_scaled(found, 0.2)
    assert quick["cart"] == found["cart"]
    assert quick["catalog"].autoscaler == found["catalog"].autoscaler.time_scaled(0.2)
    assert quick["catalog"].resources == found["catalog"].resources
