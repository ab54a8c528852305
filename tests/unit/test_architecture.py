"""Import rules, checked on the source with ``ast`` (nothing is imported or executed).

- A capability (accounts, catalog, cart, orders, billing, tax, shipping) uses another only
  through ``shop.ports``: it never imports another capability's modules.
- The shared kernel (ports, errors, web, inputs, pricing, geo) imports no capability at all.
- ``shop`` never imports a deployment (``monolith``, ``microservices``); the two deployments
  do not import each other.
- In the microservices, one service's bootstrap only builds its own capability (the others
  are HTTP clients), and no module imports a service's entry point: they share the small
  infrastructure modules and the ``shop`` packages, nothing else.

Every failure lists ``file:line imports target (why)``.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CAPABILITIES = ("accounts", "catalog", "cart", "orders", "billing", "tax", "shipping")
SHARED = ("ports", "errors", "web", "inputs", "pricing", "geo")
DEPLOYMENTS = ("monolith", "microservices")
# microservices modules that others may import: infrastructure, not a service
MICROSERVICES_SHARED = {"microservices.config", "microservices.http", "microservices.clients",
                        "microservices.launcher"}


# -- the analyser ------------------------------------------------------------------------------
def module_name(path: Path) -> tuple[str, bool]:
    """('shop.orders.checkout', is_package) for a file under ROOT."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _resolve(module: str | None, level: int, importer: str, is_package: bool) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[:-(level - 1)]
    return ".".join(base + ([module] if module else []))


def imports(source: str, importer: str, is_package: bool = False) -> list[tuple[int, str, str | None]]:
    """Every import in ``source`` as (line, target module or name, enclosing function or None).

    ``from a.b import c`` gives ``a.b.c`` (c may be a module or a name; the rules only look at
    the leading parts). Imports inside functions count, and so do ``importlib.import_module``
    and ``__import__`` calls with a literal name."""
    found = []

    def visit(node, func):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            func = node.name
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name, func) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, importer, is_package)
            found.extend((node.lineno, base if a.name == "*" else f"{base}.{a.name}".lstrip("."), func)
                         for a in node.names)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__")))):
            found.append((node.lineno, node.args[0].value, func))
        for child in ast.iter_child_nodes(node):
            visit(child, func)

    visit(ast.parse(source), None)
    return found


def _part(name: str, i: int) -> str | None:
    parts = name.split(".")
    return parts[i] if len(parts) > i else None


def shop_violations(importer: str, found) -> list[tuple[int, str, str]]:
    """Rules for a module of ``shop``."""
    own = _part(importer, 1)
    bad = []
    for line, target, _ in found:
        top, sub = _part(target, 0), _part(target, 1)
        if top in DEPLOYMENTS:
            bad.append((line, target, f"shop must not depend on the {top} deployment"))
        elif top == "shop" and sub in CAPABILITIES and sub != own:
            if own in CAPABILITIES:
                bad.append((line, target, f"capability '{own}' uses '{sub}' without going through shop.ports"))
            else:
                bad.append((line, target, f"shared module imports capability '{sub}'"))
        elif top == "shop" and sub is not None and sub not in CAPABILITIES + SHARED:
            bad.append((line, target, f"'shop.{sub}' is neither a capability nor a shared module"))
    return bad


def microservices_violations(importer: str, found) -> list[tuple[int, str, str]]:
    """Rules for a module of ``microservices``."""
    bad = []
    for line, target, func in found:
        top, sub = _part(target, 0), _part(target, 1)
        if top == "monolith":
            bad.append((line, target, "the microservices must not use the monolith"))
        elif top == "microservices" and sub is not None:
            mod = f"microservices.{sub}"
            if mod != importer and mod not in MICROSERVICES_SHARED:
                bad.append((line, target, f"imports another service's module '{mod}'"))
        elif top == "shop" and sub in CAPABILITIES and func is not None:
            service = func.lstrip("_")
            if service in CAPABILITIES and sub != service:
                bad.append((line, target, f"the {service} service builds the {sub} capability in-process"
                                          f" (use an HTTP client)"))
        if importer in MICROSERVICES_SHARED - {"microservices.launcher"} and top == "shop" and sub in CAPABILITIES:
            bad.append((line, target, "shared infrastructure imports a capability"))
    return bad


def monolith_violations(importer: str, found) -> list[tuple[int, str, str]]:
    return [(line, target, "the monolith must not use the microservices")
            for line, target, _ in found if _part(target, 0) == "microservices"]


RULES = {"shop": shop_violations, "microservices": microservices_violations, "monolith": monolith_violations}


def check(path: Path) -> list[str]:
    name, is_package = module_name(path)
    found = imports(path.read_text(encoding="utf-8"), name, is_package)
    rel = path.relative_to(ROOT)
    return [f"{rel}:{line} imports {target} ({why})" for line, target, why in RULES[name.split(".")[0]](name, found)]


def sources(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no sources found under {package}/"
    return files


# -- the rules, on the real code ---------------------------------------------------------------
def test_every_capability_package_exists():
    for cap in CAPABILITIES:
        assert (ROOT / "shop" / cap / "__init__.py").is_file(), cap


@pytest.mark.parametrize("package", ["shop", "microservices", "monolith"])
def test_import_rules(package):
    files = sources(package)
    violations = [v for f in files for v in check(f)]
    assert not violations, "import rule violations:\n  " + "\n  ".join(violations)


def test_the_checker_sees_real_imports():
    # guards against a checker that silently finds nothing
    found = imports((ROOT / "shop/orders/checkout.py").read_text(), "shop.orders.checkout")
    targets = {t for _, t, _ in found}
    assert "shop.ports.CatalogPort" in targets and "shop.orders.store.OrderStore" in targets
    found = imports((ROOT / "microservices/services.py").read_text(), "microservices.services")
    assert any(t.startswith("shop.orders.") and f == "_orders" for _, t, f in found)


# -- the analyser itself ------------------------------------------------------------------------
def violations_in(source: str, importer: str, is_package: bool = False) -> list[str]:
    found = imports(source, importer, is_package)
    return [f"{line} {target}" for line, target, _ in RULES[importer.split(".")[0]](importer, found)]


@pytest.mark.parametrize("source, importer, expected", [
    ("from shop.catalog.store import CatalogStore", "shop.cart.service", ["1 shop.catalog.store.CatalogStore"]),
    ("import shop.billing.service", "shop.orders.checkout", ["1 shop.billing.service"]),
    ("from shop import catalog", "shop.cart.service", ["1 shop.catalog"]),
    ("from ..catalog import store", "shop.cart.service", ["1 shop.catalog.store"]),
    ("from ...catalog import store", "shop.cart.sub.mod", ["1 shop.catalog.store"]),
    ("from .. import billing", "shop.orders", ["1 shop.billing"]),   # a package's __init__
    ("def f():\n    from shop.tax.rules import tax_cents", "shop.orders.checkout", ["2 shop.tax.rules.tax_cents"]),
    ("import importlib\nimportlib.import_module('shop.cart.store')", "shop.orders.api", ["2 shop.cart.store"]),
    ("import monolith.app", "shop.web.app", ["1 monolith.app"]),
    ("from microservices.http import ServiceClient", "shop.catalog.api", ["1 microservices.http.ServiceClient"]),
    ("from shop.catalog import seed", "shop.web.app", ["1 shop.catalog.seed"]),
    ("from shop.gadgets import x", "shop.cart.api", ["1 shop.gadgets.x"]),
    ("from microservices.services import create_app", "microservices.gateway",
     ["1 microservices.services.create_app"]),
    ("def _cart():\n    from shop.catalog.service import CatalogService", "microservices.services",
     ["2 shop.catalog.service.CatalogService"]),
    ("from shop.orders.store import OrderStore", "microservices.clients", ["1 shop.orders.store.OrderStore"]),
    ("from microservices.clients import CartClient", "monolith.app", ["1 microservices.clients.CartClient"]),
])
def test_the_analyser_catches(source, importer, expected):
    is_package = importer == "shop.orders"
    assert violations_in(source, importer, is_package) == expected


@pytest.mark.parametrize("source, importer", [
    ("from shop.ports import CatalogPort\nfrom shop.errors import NotFound\nfrom shop.web import params\n"
     "from shop import inputs, pricing, geo\nfrom shop.web.db import Database\nimport json, flask",
     "shop.orders.checkout"),
    ("from shop.orders.store import OrderStore\nfrom .store import order_dict\nfrom . import api",
     "shop.orders.checkout"),
    ("from shop.errors import ApiError", "shop.web.app"),
    ("def _orders():\n    from shop.orders.checkout import Checkout\n"
     "from microservices.clients import CartClient\nfrom microservices.http import ServiceClient",
     "microservices.services"),
    ("from shop.catalog.api import create_blueprint", "microservices.gateway"),
    ("from shop.catalog.service import CatalogService", "monolith.app"),
])
def test_the_analyser_allows(source, importer):
    assert violations_in(source, importer) == []
