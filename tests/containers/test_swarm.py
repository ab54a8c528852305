"""Each deployment as a Docker Swarm stack (deploy/swarm/*.yaml) on a one-node swarm: deployed,
reached through the node's published port, inspected, removed.

The swarm is made here (`docker swarm init`) if this engine is in none, and left again at the
end. This kind of kernel has no IPVS, which Swarm's virtual IPs and ingress routing mesh need:
the stacks use DNS round robin and host-mode ports, and this checks that they do."""
import pytest

from tests.containers import checks
from tests.containers.conftest import shop_env
from tests.containers.engine import SWARM_DIR, EngineError, byte_value, clean_environ, free_port, wait_for
from tests.contract.test_smoke import test_health_names_the_architecture, test_unknown_route_is_json_404  # noqa: F401
from tests.support.client import Api

STACKS = {"monolith": {"monolith"},
          "microservices": {"gateway", "accounts", "catalog", "cart", "orders", "billing", "tax", "shipping"}}
ENTRY = {"monolith": "monolith", "microservices": "gateway"}


@pytest.fixture(scope="module")
def swarm(docker):
    info = docker("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}").stdout.split()
    created = info[0] == "inactive"
    if not created and info != ["active", "true"]:
        raise EngineError(f"this engine is in a swarm it does not manage ({' '.join(info)}): the stacks cannot be deployed")
    networks_before = set(docker("network", "ls", "-q").stdout.split())
    if created:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        yield
    finally:
        if created:
            docker("swarm", "leave", "--force", check=False)
            # `swarm init` made docker_gwbridge (and ingress, which leaving removes)
            for network in set(docker("network", "ls", "-q").stdout.split()) - networks_before:
                docker("network", "rm", network, check=False)


class StackDeployment:
    def __init__(self, docker, stack: str):
        self.docker, self.stack, self.services = docker, stack, STACKS[stack]
        self.namespace = f"shop-ct-swarm-{stack}"
        self.port = free_port()
        self.file = SWARM_DIR / f"{stack}.yaml"
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**clean_environ(), **shop_env(MONOLITH_PUBLISH_PORT=str(self.port),
                                                  GATEWAY_PUBLISH_PORT=str(self.port))}
        self.label = f"label=com.docker.stack.namespace={self.namespace}"

    def name_of(self, container: dict) -> str:
        return container["Config"]["Labels"]["com.docker.swarm.service.name"].removeprefix(self.namespace + "_")

    def start(self):
        self.docker("stack", "deploy", "-c", str(self.file), self.namespace, env=self.env)
        self.docker.wait_healthy([self.label], self.services, self.name_of, timeout=300)
        wait_for(self._answers, timeout=60, what=f"{self.url}/healthz to answer 200")

    def _answers(self) -> bool:
        try:
            return Api(self.url).get("/healthz").status_code == 200
        except OSError:
            return False

    def containers(self) -> dict[str, dict]:
        return {self.name_of(c): c for c in self.docker.inspect(*self.docker.ids(self.label, "status=running"))}

    def service_specs(self) -> dict[str, dict]:
        ids = self.docker("service", "ls", "-q", "--filter", self.label).stdout.split()
        return {s["Spec"]["Name"].removeprefix(self.namespace + "_"): s for s in self.docker.inspect(*ids, kind="service")}

    def stop(self):
        self.docker("stack", "rm", self.namespace, check=False)
        gone = lambda: not self.docker.ids(self.label) and not self.docker(  # noqa: E731
            "network", "ls", "-q", "--filter", self.label).stdout.split()
        wait_for(gone, timeout=120, what=f"the containers and networks of stack {self.namespace} to be removed")
        volumes = self.docker("volume", "ls", "-q", "--filter", self.label).stdout.split()
        if volumes:   # `docker stack rm` keeps volumes, like `compose down` without -v
            self.docker("volume", "rm", *volumes)


@pytest.fixture(scope="module", params=list(STACKS))
def deployment(request, docker, images, swarm):
    d = StackDeployment(docker, request.param)
    try:
        d.start()
        yield d
    finally:
        d.stop()


def test_services_use_dns_round_robin_and_a_host_mode_port(deployment):
    specs = deployment.service_specs()
    assert set(specs) == deployment.services
    for name, spec in specs.items():
        endpoint = spec["Spec"]["EndpointSpec"]
        assert endpoint["Mode"] == "dnsrr", name
        ports = [(p["PublishMode"], p["PublishedPort"], p["TargetPort"]) for p in endpoint.get("Ports", [])]
        if name == ENTRY[deployment.stack]:
            (mode, published, _), = ports
            assert (mode, published) == ("host", deployment.port)
        else:
            assert not ports, name


def test_the_declared_cpu_and_memory_limits_are_applied(deployment):
    declared = checks.declared(deployment.file)
    specs, containers = deployment.service_specs(), deployment.containers()
    for name in deployment.services:
        resources = declared[name]["deploy"]["resources"]
        spec = specs[name]["Spec"]["TaskTemplate"]["Resources"]
        assert spec["Limits"] == {"NanoCPUs": round(float(resources["limits"]["cpus"]) * 1e9),
                                  "MemoryBytes": byte_value(resources["limits"]["memory"])}, name
        # Swarm schedules by the reservations: both are kept
        assert spec["Reservations"] == {"NanoCPUs": round(float(resources["reservations"]["cpus"]) * 1e9),
                                        "MemoryBytes": byte_value(resources["reservations"]["memory"])}, name
        # ...for scheduling only: unlike Compose, Swarm sets no soft memory limit on the container
        checks.assert_limits_applied(deployment.docker, containers[name], resources, soft_memory=False)


def test_every_container_is_healthy_by_the_images_healthcheck(deployment):
    for name, c in deployment.containers().items():
        checks.assert_healthcheck_is_live(deployment.docker, c, name)


def test_a_shopper_can_order_through_the_published_port(deployment):
    checks.assert_a_shopper_can_order(Api(deployment.url))


def test_the_published_shopper_accounts_are_not_seeded(deployment):
    checks.assert_no_published_shopper_accounts(Api(deployment.url))
