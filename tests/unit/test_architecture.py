"""The import rules, as import-linter contracts (``.importlinter`` at the root says each one
and why): capabilities reach each other only through ``shop.ports``; the shared kernel
imports no capability; ``shop`` knows neither deployment; the deployments do not use each
other; a service's bootstrap builds only its own capability; and the load tests' Locust side
reaches the shop only through its public API.

Run on the real tree, then on copies with one forbidden import added: a contract that could
not fail would prove nothing."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shop", "monolith", "microservices", "loadtests")
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT_IMPORTS, "--no-cache", "--no-logo", str(root / ".importlinter")],
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "COLUMNS": "300"},
                          capture_output=True, text=True, timeout=120)


def test_the_import_rules_hold():
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def copy_of_the_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


@pytest.mark.parametrize("module, forbidden, contract", [
    ("shop/cart/service.py", "from shop.catalog.store import CatalogStore",
     "A capability never imports another"),
    ("shop/web/app.py", "from shop.billing import faults", "What every capability shares imports no capability"),
    ("shop/pricing.py", "import monolith.bootstrap", "The core (shop) knows neither deployment"),
    ("microservices/services/cart.py", "from shop.catalog.service import CatalogService",
     "The cart service builds only the cart capability"),
    ("microservices/http.py", "from shop.orders.checkout import Checkout",
     "The microservices' shared infrastructure imports no capability"),
    ("loadtests/visitors.py", "from microservices.http import ServiceClient",
     "The load tests' Locust side reaches the shop only through its public API"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, forbidden, contract):
    root = copy_of_the_tree(tmp_path)
    path = root / module
    path.write_text(f"{forbidden}  # added by the test\n" + path.read_text())
    run = lint_imports(root)
    assert run.returncode != 0
    broken = [line for line in run.stdout.splitlines() if " BROKEN" in line]
    assert any(line.startswith(contract) for line in broken), run.stdout
