"""The verdicts of one or more comparisons as one Markdown table (the README's), with the
spread over the repeats.

    python -m loadtests.verdicts results/*/summary.json        (or: make verdicts)

Each row is one measured number: the median over the repeats for each deployment, its lowest
and highest repeat in brackets, and which deployment did better on the medians (the same rule
as the report: a difference under the noise floor is "neither"). "repeats agreeing" counts the
repeats whose own verdict is the same as the median's: a verdict that flips between repeats is
not one to lean on. The verdicts are computed again with this version's rules (the same
numbers a report rebuilt with `compare --rebuild` shows). Runs without verdicts (the ramp) are
skipped."""
import argparse
import json
import sys
from pathlib import Path

from loadtests.scenarios import SCENARIOS

TARGETS = ("monolith", "microservices")


def _cell(median, values: list) -> str:
    numbers = [v for v in values if isinstance(v, (int, float))]
    missing = len(values) - len(numbers)
    text = "-" if median is None else f"{median:g}"
    if median is not None and len(numbers) > 1 and min(numbers) != max(numbers):
        text += f" ({min(numbers):g}–{max(numbers):g})"
    if missing:
        text += f", none in {missing} of {len(values)}"
    return text


def scenario_of(summary: dict) -> str:
    return summary.get("scenario") or summary.get("environment", {}).get("shape") or "spike"


def rows(summary: dict) -> list[dict]:
    """One row per verdict of a comparison's summary.json."""
    name = scenario_of(summary)
    if name not in SCENARIOS:
        return []
    runs = summary["runs"]
    for t, twins in (summary.get("fixed_runs") or {}).items():   # autoscale: each run's fixed twin
        for run, twin in zip(runs.get(t, []), twins):
            run["fixed"] = twin
    repeats = min(len(rs) for rs in runs.values())
    judge = SCENARIOS[name].verdicts
    each = [judge({t: [rs[i]] for t, rs in runs.items()}) for i in range(repeats)]
    out = []
    for j, v in enumerate(judge(runs)):
        per_repeat = [e[j] for e in each]
        out.append({
            "scenario": name,
            "measure": v["measure"],
            **{t: _cell(v["values"].get(t), [p["values"].get(t) for p in per_repeat]) for t in TARGETS},
            "better": v["better"],
            "agreeing": f"{sum(p['better'] == v['better'] for p in per_repeat)} of {len(per_repeat)}",
        })
    return out


def markdown(summaries: list[dict]) -> str:
    lines = ["| scenario | measured | monolith | microservices | better | repeats agreeing |",
             "|---|---|---|---|---|---|"]
    for summary in summaries:
        for r in rows(summary):
            lines.append(f"| `{r['scenario']}` | {r['measure']} | {r['monolith']} | {r['microservices']} "
                         f"| {r['better']} | {r['agreeing']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("summaries", nargs="+", type=Path, help="summary.json files of `make compare` runs")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.summaries if not p.is_file()]
    if missing:
        print(f"no such summary: {', '.join(missing)}", file=sys.stderr)
        return 2
    summaries = [json.loads(p.read_text()) for p in args.summaries]
    skipped = [str(p) for p, s in zip(args.summaries, summaries) if scenario_of(s) not in SCENARIOS]
    if skipped:
        print(f"no verdicts in (skipped): {', '.join(skipped)}", file=sys.stderr)
    print(markdown(summaries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
