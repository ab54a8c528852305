"""What the Kubernetes manifests (deploy/k8s, the single source of truth) say about each
deployable's size and scaling, for the autoscaling experiment to run by.

    from loadtests import manifests
    catalog = manifests.read("microservices")["catalog"]
    catalog.resources.cpu_request          # 0.2 (cores)
    catalog.autoscaler.max_replicas        # 4
    catalog.autoscaler.scale_down.policies # (Policy(type='Pods', value=1, period_s=60),)

For every deployable (monolith, gateway, catalog, cart, orders, billing, tax, shipping,
accounts): its container's CPU and memory requests and limits, and its
HorizontalPodAutoscaler if it has one, or else its fixed replica count (``spec.replicas``,
1 when absent, as the Deployment API defaults it).

A field the experiment needs and cannot guess (a CPU or memory request or limit, an HPA's
``maxReplicas``, a metric other than CPU utilisation) is an error naming the file. A field
that Kubernetes itself defaults gets Kubernetes' default, so the experiment scales as a
cluster would with the same file (the API's defaulting, pkg/apis/autoscaling/v2/defaults.go,
and "Horizontal Pod Autoscaling", section "Default behavior", on kubernetes.io):

- ``minReplicas``: 1; no ``metrics``: 80% average CPU utilisation;
- a direction without rules gets all of that direction's defaults; a direction with some
  fields gets the defaults for the others (``selectPolicy``: Max; ``tolerance``: 10%):
  - scale-up: no stabilisation window; at most 100% more or 4 more pods per 15 s, the larger;
  - scale-down: a 300 s stabilisation window; up to 100% of the pods per 15 s.

Kubernetes applies the ``behavior`` defaults only when the HPA has a ``behavior`` field;
without one the controller runs its older rules (scale down over a 300 s window, scale up at
most to max(2 x current, 4) per sync), which the documented defaults reproduce. The defaults
are filled in either way here, so that the autoscaler has one code path."""
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from microservices.config import SERVICE_PORTS
from shop.web.settings import PROJECT_ROOT

K8S = PROJECT_ROOT / "deploy" / "k8s"
DEPLOYABLES = {"monolith": ("monolith",), "microservices": ("gateway", *SERVICE_PORTS)}

DEFAULT_TOLERANCE = 0.1          # the controller's --horizontal-pod-autoscaler-tolerance
DEFAULT_UTILIZATION = 80         # an HPA without metrics: 80% of the CPU request


class ManifestError(ValueError):
    """A manifest lacks (or has a wrong) field the experiment needs."""


@dataclass(frozen=True)
class Policy:
    type: str          # "Pods" (a number of pods) or "Percent" (of the pods at the period's start)
    value: int
    period_s: int      # how far back the change is counted


@dataclass(frozen=True)
class Rules:
    """One direction of an HPA's ``behavior`` (HPAScalingRules), every field filled in."""
    stabilization_window_s: int
    policies: tuple[Policy, ...]
    select_policy: str = "Max"    # "Max", "Min" or "Disabled"
    tolerance: float = DEFAULT_TOLERANCE

    def time_scaled(self, factor: float) -> "Rules":
        return replace(self, stabilization_window_s=self.stabilization_window_s * factor,
                       policies=tuple(replace(p, period_s=p.period_s * factor) for p in self.policies))


SCALE_UP_DEFAULT = Rules(0, (Policy("Percent", 100, 15), Policy("Pods", 4, 15)))
SCALE_DOWN_DEFAULT = Rules(300, (Policy("Percent", 100, 15),))


@dataclass(frozen=True)
class Autoscaler:
    """A HorizontalPodAutoscaler on CPU utilisation (a share of the CPU request)."""
    min_replicas: int
    max_replicas: int
    target_utilization: int       # percent of the request, e.g. 70
    scale_up: Rules
    scale_down: Rules

    def time_scaled(self, factor: float) -> "Autoscaler":
        """The same policy on a faster (factor < 1) or slower clock: every stabilisation
        window and policy period multiplied by ``factor``, for short runs."""
        return replace(self, scale_up=self.scale_up.time_scaled(factor),
                       scale_down=self.scale_down.time_scaled(factor))


@dataclass(frozen=True)
class Resources:
    cpu_request_m: int
    cpu_limit_m: int
    memory_request_mi: float
    memory_limit_mi: float

    @property
    def cpu_request(self) -> float:
        """Cores: 200m is 0.2."""
        return self.cpu_request_m / 1000

    @property
    def cpu_limit(self) -> float:
        return self.cpu_limit_m / 1000


@dataclass(frozen=True)
class Deployable:
    name: str
    variant: str                  # "monolith" or "microservices"
    resources: Resources
    replicas: int                 # the fixed count; with an autoscaler, it owns the count
    autoscaler: Autoscaler | None
    source: str                   # the Deployment's file, relative to the project

    @property
    def min_replicas(self) -> int:
        """Where the deployable starts: the HPA's minimum, or its fixed count."""
        return self.autoscaler.min_replicas if self.autoscaler else self.replicas


def read(variant: str, root: Path = K8S) -> dict[str, Deployable]:
    """The deployables of one variant (``monolith`` or ``microservices``), by name."""
    if variant not in DEPLOYABLES:
        raise ValueError(f"no variant {variant!r}; one of {', '.join(DEPLOYABLES)}")
    objects = _objects(Path(root) / variant, Path(root))
    deployments = {o["metadata"]["name"]: (o, src) for o, src in objects if o.get("kind") == "Deployment"}
    hpas = {}
    for obj, src in objects:
        if obj.get("kind") == "HorizontalPodAutoscaler":
            target = (obj.get("spec") or {}).get("scaleTargetRef") or {}
            if target.get("kind") != "Deployment" or target.get("name") not in deployments:
                raise ManifestError(f"{src}: HorizontalPodAutoscaler {obj['metadata']['name']} targets "
                                    f"{target.get('kind')} {target.get('name')!r}, not a Deployment here")
            if target["name"] in hpas:
                raise ManifestError(f"{src}: a second HorizontalPodAutoscaler for {target['name']}")
            hpas[target["name"]] = _autoscaler(obj, src)
    out = {}
    for name in DEPLOYABLES[variant]:
        if name not in deployments:
            raise ManifestError(f"deploy/k8s/{variant}: no Deployment named {name!r}")
        deployment, src = deployments[name]
        replicas = (deployment.get("spec") or {}).get("replicas", 1)
        out[name] = Deployable(name, variant, _resources(deployment, name, src), _count(replicas, src, "spec.replicas"),
                               hpas.get(name), src)
    return out


def time_scaled(deployables: dict[str, Deployable], factor: float) -> dict[str, Deployable]:
    """The same deployables with every autoscaler's windows and periods multiplied by
    ``factor`` (e.g. 0.2 with a 3 s sync instead of 15 s, for a QUICK run)."""
    return {name: replace(d, autoscaler=d.autoscaler.time_scaled(factor)) if d.autoscaler else d
            for name, d in deployables.items()}


def read_all(root: Path = K8S) -> dict[str, Deployable]:
    """All nine deployables (both variants), by name."""
    return {name: d for variant in DEPLOYABLES for name, d in read(variant, root).items()}


# -- the files ---------------------------------------------------------------------------
def _objects(folder: Path, root: Path) -> list[tuple[dict, str]]:
    """Every object a kustomization's resources hold (files and folders, recursively), with
    its file. Kustomize's transformations (namespace, labels, images) change nothing read here."""
    kustomization = folder / "kustomization.yaml"
    if not kustomization.exists():
        raise ManifestError(f"{_rel(folder, root)}: no kustomization.yaml")
    out = []
    for entry in yaml.safe_load(kustomization.read_text()).get("resources", []):
        target = (folder / entry).resolve()
        if target.is_dir():
            out += _objects(target, root)
        else:
            out += [(doc, _rel(target, root)) for doc in yaml.safe_load_all(target.read_text())
                    if isinstance(doc, dict)]
    return out


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve().parents[1]))  # deploy/k8s/...
    except ValueError:
        return str(path)


# -- sizes -------------------------------------------------------------------------------
def _resources(deployment: dict, name: str, src: str) -> Resources:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    container = next((c for c in containers if c.get("name") == name), containers[0])
    resources = container.get("resources") or {}

    def field(kind: str, resource: str):
        value = (resources.get(kind) or {}).get(resource)
        if value is None:
            raise ManifestError(f"{src}: container {container.get('name')} has no resources.{kind}.{resource}; "
                                f"the autoscaling experiment sizes every replica by it")
        return value

    try:
        return Resources(cpu_millicores(field("requests", "cpu")), cpu_millicores(field("limits", "cpu")),
                         memory_mib(field("requests", "memory")), memory_mib(field("limits", "memory")))
    except ValueError as err:
        if isinstance(err, ManifestError):
            raise
        raise ManifestError(f"{src}: {err}") from None


def cpu_millicores(value) -> int:
    """A Kubernetes CPU quantity in millicores: "200m" -> 200, "0.5" or 0.5 -> 500, 2 -> 2000."""
    text = str(value).strip()
    try:
        cores = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        raise ValueError(f"CPU quantity {value!r} is not a number of cores or millicores") from None
    if cores <= 0:
        raise ValueError(f"CPU quantity {value!r} must be above 0")
    return round(cores * 1000)


_MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
                 "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def memory_mib(value) -> float:
    """A Kubernetes memory quantity in MiB: "144Mi" -> 144, "1Gi" -> 1024, "128M" -> 122.07."""
    text = str(value).strip()
    for unit in sorted(_MEMORY_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            number, factor = text[:-len(unit)], _MEMORY_UNITS[unit]
            break
    else:
        number, factor = text, 1
    try:
        size = float(number) * factor / 2**20
    except ValueError:
        raise ValueError(f"memory quantity {value!r} is not understood (use e.g. 144Mi)") from None
    if size <= 0:
        raise ValueError(f"memory quantity {value!r} must be above 0")
    return size


# -- the autoscaler ----------------------------------------------------------------------
def _autoscaler(hpa: dict, src: str) -> Autoscaler:
    spec, name = hpa.get("spec") or {}, hpa["metadata"]["name"]
    where = f"{src}: HorizontalPodAutoscaler {name}"
    if "maxReplicas" not in spec:
        raise ManifestError(f"{where} has no maxReplicas")
    low, high = _count(spec.get("minReplicas", 1), where, "minReplicas"), _count(spec["maxReplicas"], where, "maxReplicas")
    if low > high:
        raise ManifestError(f"{where}: minReplicas {low} is above maxReplicas {high}")
    behavior = spec.get("behavior") or {}
    return Autoscaler(low, high, _cpu_target(spec.get("metrics"), where),
                      _rules(behavior.get("scaleUp"), SCALE_UP_DEFAULT, f"{where} behavior.scaleUp"),
                      _rules(behavior.get("scaleDown"), SCALE_DOWN_DEFAULT, f"{where} behavior.scaleDown"))


def _cpu_target(metrics, where: str) -> int:
    if not metrics:
        return DEFAULT_UTILIZATION
    # Only CPU utilisation can be emulated here (the node in a box measures CPU, nothing else).
    if len(metrics) != 1:
        raise ManifestError(f"{where}: {len(metrics)} metrics; the experiment scales on CPU utilisation alone")
    metric = metrics[0]
    resource = metric.get("resource") or {}
    target = resource.get("target") or {}
    if (metric.get("type") != "Resource" or resource.get("name") != "cpu"
            or target.get("type") != "Utilization" or "averageUtilization" not in target):
        raise ManifestError(f"{where}: the metric must be type Resource, name cpu, target type Utilization "
                            f"with averageUtilization (found {metric})")
    return _count(target["averageUtilization"], where, "averageUtilization")


def _rules(raw: dict | None, default: Rules, where: str) -> Rules:
    if raw is None:
        return default
    window = raw.get("stabilizationWindowSeconds", default.stabilization_window_s)
    if not isinstance(window, int) or not 0 <= window <= 3600:
        raise ManifestError(f"{where}: stabilizationWindowSeconds must be 0 to 3600, got {window!r}")
    select = raw.get("selectPolicy", default.select_policy)
    if select not in ("Max", "Min", "Disabled"):
        raise ManifestError(f"{where}: selectPolicy must be Max, Min or Disabled, got {select!r}")
    policies = default.policies
    if raw.get("policies") is not None:
        policies = tuple(_policy(p, f"{where}.policies[{i}]") for i, p in enumerate(raw["policies"]))
        if not policies and select != "Disabled":
            raise ManifestError(f"{where}: an empty list of policies (the API refuses it)")
    tolerance = raw.get("tolerance", default.tolerance)
    try:
        tolerance = float(str(tolerance).rstrip("m")) / (1000 if str(tolerance).endswith("m") else 1)
    except ValueError:
        raise ManifestError(f"{where}: tolerance {raw.get('tolerance')!r} is not a number") from None
    if tolerance < 0:
        raise ManifestError(f"{where}: tolerance must be at least 0")
    return Rules(window, policies, select, tolerance)


def _policy(raw: dict, where: str) -> Policy:
    kind, value, period = raw.get("type"), raw.get("value"), raw.get("periodSeconds")
    if kind not in ("Pods", "Percent"):
        raise ManifestError(f"{where}: type must be Pods or Percent, got {kind!r}")
    if not isinstance(value, int) or value <= 0:
        raise ManifestError(f"{where}: value must be a whole number above 0, got {value!r}")
    if not isinstance(period, int) or not 0 < period <= 1800:
        raise ManifestError(f"{where}: periodSeconds must be 1 to 1800, got {period!r}")
    return Policy(kind, value, period)


def _count(value, where: str, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ManifestError(f"{where}: {field} must be a whole number of at least 1, got {value!r}")
    return value
