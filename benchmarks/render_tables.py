"""Tables from the harness's cell files: mean ± std per dataset and variant, and
a paired comparison of each variant against ``ce``.

A difference counts as larger than the seed spread when every seed moves the
same way and the mean paired difference exceeds the standard deviation of
``ce`` over the seeds. Writes ``benchmarks/results/accuracy_<profile>.md``.

Usage: python benchmarks/render_tables.py [--profile cpu] [--runs-dir benchmarks/results/runs]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def load_cells(runs_dir, profile):
    return [json.loads(p.read_text()) for p in sorted((Path(runs_dir) / profile).glob("*.json"))]


def summarise(records):
    """``{dataset: {variant: {seed: record}}}``."""
    table = {}
    for r in records:
        table.setdefault(r["dataset"], {}).setdefault(r["variant"], {})[r["seed"]] = r
    return table


def paired(table_ds, variant, metric="test_accuracy"):
    """Paired differences (variant - ce) over the seeds both have, and the verdict."""
    ce, other = table_ds.get("ce", {}), table_ds.get(variant, {})
    seeds = sorted(set(ce) & set(other))
    if len(seeds) < 2:
        return None
    diff = np.array([other[s][metric] - ce[s][metric] for s in seeds])
    ce_std = float(np.std([ce[s][metric] for s in seeds], ddof=1))
    same_sign = bool((diff > 0).all() or (diff < 0).all())
    return {"seeds": seeds, "mean": float(diff.mean()), "per_seed": diff.tolist(),
            "beyond_seed_spread": bool(same_sign and abs(diff.mean()) > ce_std)}


def render(records, profile):
    table = summarise(records)
    variants = [v for v in ("ce", "supcon", "gloss", "gloss-graph", "kl")
                if any(v in t for t in table.values())]
    lines = [f"# Accuracy, `{profile}` profile", "",
             "Test accuracy (%) mean ± std over seeds (n = seeds run); macro-F1 in the second table. "
             "Rendered by `benchmarks/render_tables.py` from `benchmarks/results/runs/`.", "",
             "| dataset | " + " | ".join(f"`{v}`" for v in variants) + " |",
             "|---|" + "---|" * len(variants)]
    for metric, title in (("test_accuracy", None), ("test_macro_f1", "Macro-F1 (%)")):
        if title:
            lines += ["", f"## {title}", "", "| dataset | " + " | ".join(f"`{v}`" for v in variants) + " |",
                      "|---|" + "---|" * len(variants)]
        for ds, t in sorted(table.items()):
            cells = []
            for v in variants:
                vals = [r[metric] for r in t.get(v, {}).values()]
                cells.append(f"{100 * np.mean(vals):.2f} ± {100 * np.std(vals, ddof=1):.2f} (n={len(vals)})"
                             if len(vals) > 1 else (f"{100 * vals[0]:.2f} (n=1)" if vals else "–"))
            lines.append(f"| {ds} | " + " | ".join(cells) + " |")
    lines += ["", "## Paired against `ce` (accuracy, points)", "",
              "| dataset | variant | per seed | mean | beyond the seed spread |", "|---|---|---|---|---|"]
    for ds, t in sorted(table.items()):
        for v in variants[1:]:
            p = paired(t, v)
            if p:
                lines.append(f"| {ds} | `{v}` | " + ", ".join(f"{100 * d:+.1f}" for d in p["per_seed"])
                             + f" | {100 * p['mean']:+.2f} | {'yes' if p['beyond_seed_spread'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--profile", default="cpu")
    p.add_argument("--runs-dir", default=str(HERE / "results" / "runs"))
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    records = load_cells(args.runs_dir, args.profile)
    if not records:
        raise SystemExit(f"no finished cells under {Path(args.runs_dir) / args.profile}")
    out = Path(args.out) if args.out else HERE / "results" / f"accuracy_{args.profile}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(records, args.profile))
    print(f"wrote {out} from {len(records)} cells")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
