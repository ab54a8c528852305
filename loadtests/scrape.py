"""Reading the deployments' Prometheus metrics before and after a run."""
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def parse(text: str) -> dict[tuple, float]:
    """Every sample of a scrape: (sample name, sorted (label, value) pairs) -> value. The text
    format's escapes, comments and types are prometheus_client's own parser's business."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): float(sample.value)
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scrape(urls: dict[str, str]) -> dict[str, dict[tuple, float]]:
    out = {}
    for name, url in urls.items():
        try:
            with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
                out[name] = parse(r.read().decode())
        except OSError:
            out[name] = {}
    return out


def _delta(before: dict, after: dict, metric: str) -> dict[tuple, float]:
    return {labels: value - before.get((name, labels), 0.0)
            for (name, labels), value in after.items() if name == metric}


def timings(before: dict[str, dict], after: dict[str, dict]) -> dict:
    """Requests served per route and calls made per (caller, callee, operation, via) during the
    run, with their average time, from the histograms' _count and _sum."""
    routes, calls = [], []
    for process in after:
        b, a = before.get(process, {}), after[process]
        for prefix, out in (("shop_http_request_duration_seconds", routes),
                            ("shop_internal_call_duration_seconds", calls)):
            counts, sums = _delta(b, a, prefix + "_count"), _delta(b, a, prefix + "_sum")
            for labels, count in counts.items():
                if count <= 0:
                    continue
                row = dict(labels)
                row.update({"count": int(count), "avg_ms": round(1000 * sums.get(labels, 0.0) / count, 3)})
                out.append(row)
    return {"routes": routes, "calls": calls}


def _increase(before: dict, after: dict, metric: str) -> dict[tuple, float]:
    """A counter's increase per label set; a counter that went down was reset by a restart,
    so its whole value after is the increase."""
    out = {}
    for (name, labels), value in after.items():
        if name != metric:
            continue
        old = before.get((name, labels), 0.0)
        out[labels] = value - old if value >= old else value
    return out


RESILIENCE_COUNTERS = ["shop_internal_retries_total", "shop_circuit_opened_total"]


def outcomes(before: dict[str, dict], after: dict[str, dict]) -> dict:
    """What the resilience machinery did during a run: internal calls by caller, callee and
    outcome (ok, error, timeout, unavailable, short_circuit), retries and breaker openings,
    and the requests each process's admission control shed (by process and reason)."""
    calls, extra = {}, {name: [] for name in RESILIENCE_COUNTERS}
    for process in after:
        b, a = before.get(process, {}), after[process]
        for labels, n in _increase(b, a, "shop_internal_calls_total").items():
            row = dict(labels)
            key = f"{row.get('caller')}->{row.get('callee')} {row.get('outcome')}"
            calls[key] = calls.get(key, 0) + int(n)
        for name in RESILIENCE_COUNTERS:
            for labels, n in _increase(b, a, name).items():
                if n > 0:
                    extra[name].append({**dict(labels), "count": int(n)})
    shed = {}
    for process in after:
        for labels, n in _increase(before.get(process, {}), after[process], "shop_admission_shed_total").items():
            if n > 0:
                key = f"{process} {dict(labels).get('reason')}"
                shed[key] = shed.get(key, 0) + int(n)
    return {"calls": dict(sorted(calls.items())), **extra, "admission_shed": dict(sorted(shed.items()))}
