"""The autoscaling scenario's part of the report: what the node in a box did, over time and in
numbers (loadtests/nodes.py reads them off the runs). One self-contained HTML section with
its chart inline, placed after the verdicts."""
import base64
import html
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from markupsafe import Markup

from loadtests import nodes

COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999"]


def _esc(value) -> str:
    return html.escape(str(value))


def chart(runs: dict) -> bytes | None:
    """For each deployment (its first autoscaled run, and the fixed twin dashed): replicas per
    deployable over time, then the CPU allocated (sum of limits) against the CPU used."""
    chosen = {t: rs[0] for t, rs in runs.items() if rs and rs[0].get("node")}
    if not chosen:
        return None
    fig = Figure(figsize=(9, 3.2 * len(chosen) * 2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2 * len(chosen), 1, sharex=True, squeeze=False)[:, 0]
    for i, (target, run) in enumerate(chosen.items()):
        rep_ax, cpu_ax = axes[2 * i], axes[2 * i + 1]
        rows = nodes.allocation(run)
        names = sorted({n for r in rows for n in r["deployables"]})
        for k, name in enumerate(names):
            xs = [r["t"] for r in rows if name in r["deployables"]]
            ys = [r["deployables"][name]["replicas"] for r in rows if name in r["deployables"]]
            rep_ax.step(xs, ys, where="post", color=COLOURS[k % len(COLOURS)], label=name)
        rep_ax.set_ylabel(f"{target}\nreplicas")
        rep_ax.legend(loc="upper left", fontsize=7, ncol=3)
        xs = [r["t"] for r in rows]
        cpu_ax.step(xs, [r["cpu_allocated"] for r in rows], where="post", color="#333333", label="allocated (autoscaled)")
        cpu_ax.plot(xs, [r["cpu_used"] for r in rows], color="#D55E00", label="used (autoscaled)")
        twin = run.get("fixed")
        if twin and twin.get("node"):
            trows = nodes.allocation(twin)
            cpu_ax.step([r["t"] for r in trows], [r["cpu_allocated"] for r in trows], where="post",
                        color="#333333", ls=(0, (4, 2)), lw=1, label="allocated (fixed)")
            cpu_ax.plot([r["t"] for r in trows], [r["cpu_used"] for r in trows], color="#D55E00",
                        ls=(0, (4, 2)), lw=1, label="used (fixed)")
        budget = (run.get("node") or {}).get("budget_cores")
        if budget:
            cpu_ax.axhline(budget, color="#999999", lw=0.8, ls=":", label=f"node budget {budget:g}")
        cpu_ax.set_ylabel("cores")
        cpu_ax.legend(loc="upper left", fontsize=7, ncol=3)
        spike = next((p for p in run.get("phases") or [] if p["name"] == "spike"), None)
        for ax in (rep_ax, cpu_ax):
            ax.grid(True, alpha=0.3)
            if spike:
                ax.axvspan(spike["start"], spike["end"], color="#BBBBBB", alpha=0.35, lw=0)
    axes[-1].set_xlabel("seconds since the load started (one point per sync of the autoscaler)")
    fig.suptitle("The node in a box: replicas, and CPU allocated against used (shaded: the spike)")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def table(runs: dict) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("deployment", "run", "deployable", "request (cores)", "start",
                                             "peak replicas", "core-seconds", "autoscaler"))
    rows = []
    for target, rs in runs.items():
        for i, run in enumerate(rs, 1):
            for mode, r in (("autoscaled", run), ("fixed", run.get("fixed"))):
                for name, d in ((r or {}).get("node") or {}).get("deployables", {}).items():
                    a = d.get("autoscaler")
                    policy = f"{a['min']}-{a['max']} at {a['target_utilization']}%" if a else "none (fixed)"
                    cells = [target, f"{i} {mode}", name, f"{d['cpu_request_cores']:g}", d["start_replicas"],
                             d["peak_replicas"], d["core_seconds_allocated"], policy]
                    rows.append("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in cells) + "</tr>")
    return f'<table class="node"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def events(runs: dict) -> str:
    items = []
    for target, rs in runs.items():
        for i, run in enumerate(rs, 1):
            node = run.get("node") or {}
            for e in node.get("events") or []:
                delay = e.get("readiness_delay_s", e.get("drain_s"))
                what = "ready after" if "readiness_delay_s" in e else "drained in"
                items.append(f"{target} run {i}: at {e.get('t')} s, {e.get('deployable', '')} "
                             f"{e.get('from')} -> {e.get('to')} replicas"
                             + (f", {what} {delay} s" if delay is not None else "")
                             + (f" (failed: {e['error']})" if e.get("error") else ""))
            for h in node.get("budget_hits") or []:
                items.append(f"{target} run {i}: at {h.get('t')} s, {h.get('deployable', '')} wanted "
                             f"{h.get('wanted')} replicas, the node's budget allowed {h.get('got')}")
    return "<ul>" + "".join(f"<li>{_esc(x)}</li>" for x in items) + "</ul>" if items else "<p>No scaling.</p>"


def section(runs: dict) -> str:
    png = chart(runs)
    img = (f'<figure><img alt="replicas and CPU over time" src="data:image/png;base64,'
           f'{base64.b64encode(png).decode()}"><figcaption>Each deployable is a cgroup with replicas x its '
           "request (limit = request); the autoscaler follows Kubernetes' HPA algorithm with deploy/k8s's "
           "policies. Dashed: the same spike with the replicas fixed at their minimum.</figcaption></figure>"
           if png else "")
    # Markup: the report appends this to the verdict section, itself Markup, which would
    # escape a plain string (the whole section once reached the page as text).
    return Markup('<div class="box"><h2>The node in a box</h2>'
            "<p>Not a cluster: one machine's core, each deployable's CPU limited by the kernel as the kubelet "
            "would, a replica being one gunicorn worker (a new one serves in well under a second; a pod "
            "starts in seconds), metrics read at each sync (metrics-server lags more), no network between "
            "nodes, and no per-node memory limit.</p>"
            f"{img}<h3>Scale events</h3>{events(runs)}<h3>Deployables</h3>{table(runs)}</div>")
