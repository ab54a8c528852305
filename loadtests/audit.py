"""`make audit`: are a deployment's books consistent after a run?

It reads the databases directly (read-only) and checks, for the monolith's one database or
the microservices' separate ones alike:

1. every paid order has exactly one charge, captured, for the order's total; every cancelled
   order's charge is refunded;
2. every charge belongs to an order, or was refunded (a compensated checkout);
3. every order holds its stock reservation (cancelled ones released theirs), and no
   reservation holds stock without an order: a leak a failed saga would leave;
4. each product's stock equals the seed minus what reservations hold (sold, not returned);
5. no idempotency key is stuck "in progress" without a checkout in flight, and no checkout is
   both recorded as an order and still in the checkout journal (its compare-and-set failed).

A checkout still in the journal (its worker died, or undoing it failed, and recovery has not
run yet: ``POST /admin/checkouts/recover``) is not a finding: what it holds (a reservation, a
charge, an idempotency key) is reported apart, as unfinished, and recovery will undo it.
An order left 'cancelling' (its cancel stopped after releasing the stock, or after the refund
too: its client got an error, and asking again finishes it) is not a finding either when its
steps are a prefix of the cancel's; it is reported apart, as half cancelled.

    python -m loadtests.audit monolith|microservices [--data-dir DIR]     (exit code 1 on a finding)
"""
import argparse
import json
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

from shop.catalog import seed
from shop.web.settings import data_dir as default_data_dir


def _connect(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise SystemExit(f"no database at {path}: has this deployment run with this data directory?")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def databases(deployment: str, data: Path) -> dict[str, sqlite3.Connection]:
    if deployment == "monolith":
        one = _connect(data / "monolith" / "shop.db")
        return {"orders": one, "billing": one, "catalog": one}
    return {name: _connect(data / "microservices" / f"{name}.db") for name in ("orders", "billing", "catalog")}


def _journal(conn: sqlite3.Connection) -> dict[str, dict]:
    """The checkouts in flight (a database from before the journal has none)."""
    try:
        return {r["checkout_key"]: dict(r) for r in conn.execute("SELECT * FROM checkouts")}
    except sqlite3.OperationalError:
        return {}


def audit(dbs: dict[str, sqlite3.Connection]) -> dict:
    # One read snapshot per database (the monolith's one database: one snapshot for all), and
    # the journal read first: a checkout that finishes meanwhile is seen in flight or as an
    # order, never as neither.
    connections = list({id(c): c for c in dbs.values()}.values())
    for conn in connections:
        conn.execute("BEGIN")
    try:
        return _audit(dbs)
    finally:
        for conn in connections:
            conn.execute("COMMIT")


def _audit(dbs: dict[str, sqlite3.Connection]) -> dict:
    journal = _journal(dbs["orders"])
    orders = [dict(r) for r in dbs["orders"].execute("SELECT * FROM orders")]
    pending_keys = [dict(r) for r in dbs["orders"].execute(
        "SELECT user_id, key FROM idempotency_keys WHERE order_id IS NULL")]
    charges = {r["id"]: dict(r) for r in dbs["billing"].execute("SELECT * FROM charges")}
    reservations = {r["key"]: (r["status"], json.loads(r["lines"]))
                    for r in dbs["catalog"].execute("SELECT key, status, lines FROM reservations")}
    stock = {r["id"]: r["stock"] for r in dbs["catalog"].execute("SELECT id, stock FROM products")}
    findings: list[str] = []

    charged_orders = Counter(o["charge_id"] for o in orders)
    half_cancelled = []
    for o in orders:
        charge = charges.get(o["charge_id"])
        if charge is None:
            findings.append(f"order {o['id']}: its charge {o['charge_id']} does not exist")
            continue
        if charged_orders[o["charge_id"]] > 1:
            findings.append(f"order {o['id']}: charge {o['charge_id']} is shared with another order")
        if charge["amount_cents"] != o["total_cents"]:
            findings.append(f"order {o['id']}: charged {charge['amount_cents']} for a total of {o['total_cents']}")
        held = reservations.get(o["checkout_key"])
        if o["status"] == "cancelling":
            # A cancel that stopped half-way (its client got an error; asking again finishes it):
            # stock back first, then the money, so any prefix of those steps is consistent.
            steps = (held[0] if held else "missing", charge["status"])
            if steps in (("reserved", "captured"), ("released", "captured"), ("released", "refunded")):
                half_cancelled.append({"order": o["id"], "reservation": steps[0], "charge": steps[1]})
            else:
                findings.append(f"order {o['id']} (cancelling): its stock reservation is {steps[0]} and its "
                                f"charge {steps[1]}: not a step of a cancel")
            continue
        want = "refunded" if o["status"] == "cancelled" else "captured"
        if charge["status"] != want:
            findings.append(f"order {o['id']} ({o['status']}): its charge is {charge['status']}, not {want}")
        want_held = "released" if o["status"] == "cancelled" else "reserved"
        if held is None or held[0] != want_held:
            findings.append(f"order {o['id']} ({o['status']}): its stock reservation is "
                            f"{held[0] if held else 'missing'}, not {want_held}")

    order_keys = {o["checkout_key"] for o in orders}
    now = time.time()
    unfinished = {key: {"checkout_key": key, "status": entry["status"], "user_id": entry["user_id"],
                        "age_seconds": round(now - entry["started_at"], 1), "holds": []}
                  for key, entry in journal.items()}
    for key in sorted(order_keys & set(journal)):
        findings.append(f"checkout {key} is both an order and still in the checkout journal")
    for charge in charges.values():
        if charge["key"] not in order_keys and charge["status"] != "refunded":
            if charge["key"] in unfinished:
                unfinished[charge["key"]]["holds"].append(f"charge {charge['id']} ({charge['amount_cents']} cents)")
            else:
                findings.append(f"charge {charge['id']} ({charge['amount_cents']} cents) has no order and was not refunded")
    for key, (status, lines) in reservations.items():
        if status == "reserved" and key not in order_keys:
            if key in unfinished:
                unfinished[key]["holds"].append(f"reservation of {sum(q for _, q in lines)} items")
            else:
                findings.append(f"reservation {key} holds {sum(q for _, q in lines)} items without an order")
    in_flight = {(e["user_id"], e["idempotency_key"]): key for key, e in journal.items()
                 if e["idempotency_key"] is not None}
    for k in pending_keys:
        owner = in_flight.get((k["user_id"], k["key"]))
        if owner is None:
            findings.append(f"idempotency key {k['key']!r} of user {k['user_id']} is stuck in progress "
                            "with no checkout in flight")
        else:
            unfinished[owner]["holds"].append(f"idempotency key {k['key']!r}")

    held = Counter()
    for status, lines in reservations.values():
        if status == "reserved":
            for product_id, quantity in lines:
                held[product_id] += quantity
    seeded = {p["id"]: p["stock"] for p in seed.products()}
    for product_id, now in stock.items():
        expected = seeded.get(product_id, now) - held[product_id]
        if now != expected:
            findings.append(f"product {product_id}: stock {now}, expected {expected} "
                            f"(seed {seeded.get(product_id)} - {held[product_id]} held)")

    return {"orders": len(orders), "cancelled": sum(o["status"] == "cancelled" for o in orders),
            "charges": len(charges), "refunded": sum(c["status"] == "refunded" for c in charges.values()),
            "reservations": len(reservations), "findings": findings, "ok": not findings,
            "half_cancelled": half_cancelled,
            "unfinished": sorted(unfinished.values(), key=lambda u: -u["age_seconds"])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("deployment", choices=["monolith", "microservices"])
    parser.add_argument("--data-dir", default=None, help="default: SHOP_DATA_DIR or ./data")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    data = Path(args.data_dir) if args.data_dir else default_data_dir()
    result = audit(databases(args.deployment, data))
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"{args.deployment}: {result['orders']} orders ({result['cancelled']} cancelled), "
              f"{result['charges']} charges ({result['refunded']} refunded), {result['reservations']} reservations")
        for u in result["unfinished"]:
            holds = ", ".join(u["holds"]) or "nothing yet"
            print(f"  UNFINISHED: checkout {u['checkout_key']} ({u['status']}, {u['age_seconds']:.0f} s old) "
                  f"holds {holds}; recovery will undo it")
        for h in result["half_cancelled"]:
            print(f"  HALF CANCELLED: order {h['order']} (stock {h['reservation']}, charge {h['charge']}); "
                  "cancelling it again finishes it")
        for finding in result["findings"]:
            print(f"  FINDING: {finding}")
        print("  consistent: nothing lost or doubled" if result["ok"] else f"  {len(result['findings'])} finding(s)")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
