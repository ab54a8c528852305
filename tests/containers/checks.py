"""Checks that hold for a deployment however it was started (Compose or Swarm)."""
import yaml

from shop.accounts.service import SEED_SHOPPER_PASSWORD, seed_shopper_email
from tests.containers.engine import COMPOSE_FILE, Docker, byte_value
from tests.support.client import Api

SHOP_UID = "10001"
STATEFUL = {"monolith", "accounts", "catalog", "cart", "orders", "billing"}


def declared(path=COMPOSE_FILE) -> dict:
    """The services as the file declares them (no interpolation is needed for what is checked)."""
    return yaml.safe_load(path.read_text())["services"]


def port_variable(service: str) -> str:
    return f"{service.upper()}_PORT"      # MONOLITH_PORT, GATEWAY_PORT, CATALOG_PORT, ...


def assert_limits_applied(docker: Docker, container: dict, resources: dict, *, soft_memory=True):
    """The limits the file declares, as Docker recorded them AND as the kernel enforces them."""
    name = container["Name"].lstrip("/")
    limits = resources["limits"]
    host = container["HostConfig"]
    assert host["NanoCpus"] == round(float(limits["cpus"]) * 1e9), (name, host["NanoCpus"], limits)
    assert host["Memory"] == byte_value(limits["memory"]), (name, host["Memory"], limits)
    if soft_memory:   # Compose turns the memory reservation into a soft limit; a CPU one has no equivalent
        assert host["MemoryReservation"] == byte_value(resources["reservations"]["memory"]), name
    kernel = docker.cgroup_limits(container["Id"])
    assert kernel == {"cpus": float(limits["cpus"]), "memory": byte_value(limits["memory"])}, (name, kernel)


def assert_healthcheck_is_live(docker: Docker, container: dict, service: str):
    """Healthy by its own healthcheck, and the same check fails where nothing answers."""
    name = container["Name"].lstrip("/")
    health = container["State"]["Health"]
    assert health["Status"] == "healthy", (name, health)
    assert health["Log"] and health["Log"][-1]["ExitCode"] == 0, (name, health["Log"][-1:])
    test = container["Config"]["Healthcheck"]["Test"]
    assert test[0] == "CMD" and test[-1] == "--healthcheck", (name, test)
    ok = docker.exec(container["Id"], *test[1:])
    assert ok.returncode == 0, (name, ok.stdout, ok.stderr)
    # negative control: the same command, pointed at a port nothing listens on, must fail
    bad = docker.exec(container["Id"], *test[1:], env={port_variable(service): "9"})
    assert bad.returncode != 0 and "healthcheck" in bad.stderr, (name, bad.returncode, bad.stderr)


def assert_runs_unprivileged_with_data_on_a_volume(docker: Docker, container: dict, service: str):
    name = container["Name"].lstrip("/")
    assert container["Config"]["User"] == f"{SHOP_UID}:{SHOP_UID}", name
    assert docker.exec(container["Id"], "id", "-u", check=True).stdout.strip() == SHOP_UID, name
    if service in STATEFUL:
        (mount,) = [m for m in container["Mounts"] if m["Destination"] == "/data"]
        assert mount["Type"] == "volume" and mount["RW"], (name, mount)
        owners = docker.exec(container["Id"], "find", "/data", "-name", "*.db", "-printf", "%u %p\n",
                             check=True).stdout.split("\n")
        files = [line for line in owners if line]
        assert files and all(line.split()[0] in ("shop", SHOP_UID) for line in files), (name, files)


def assert_a_shopper_can_order(api: Api):
    """A whole checkout through the published port: in the microservices it crosses the gateway,
    accounts, cart, catalog, orders, tax, shipping and billing, container to container."""
    user = api.new_user("containers")
    products = api.get("/api/products", params={"per_page": 50}).json()["items"]
    product = next(p for p in products if p["stock"] >= 5)
    api.add_to_cart(user["token"], product["id"], 2)
    r = api.place_order(user["token"])
    assert r.status_code == 201, r.text
    order = api.get(f"/api/orders/{r.json()['id']}", token=user["token"]).json()
    assert order["status"] == "paid" and order["payment"]["status"] == "captured", order
    assert api.product(product["id"])["stock"] == product["stock"] - 2


def assert_no_published_shopper_accounts(api: Api):
    r = api.post("/api/auth/login", json={"email": seed_shopper_email(1), "password": SEED_SHOPPER_PASSWORD})
    assert r.status_code == 401, f"the seeded shopper account answered {r.status_code}: it must not exist here"
