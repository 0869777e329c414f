"""Tables from the harness's cell files: mean ± std per dataset and variant, and
a paired comparison of each variant against ``ce``.

A difference counts as larger than the seed spread when every seed moves the
same way and the mean paired difference exceeds the standard deviation of
``ce`` over the seeds. Writes ``benchmarks/results/accuracy_<profile>.md`` and,
with matplotlib installed, ``accuracy_<profile>_epochs.png``: validation
accuracy after each epoch, mean over seeds, one line per variant and one panel
per dataset.

Usage: python benchmarks/render_tables.py [--profile cpu] [--runs-dir benchmarks/results/runs] [--no-plot]
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


VARIANTS = ("ce", "supcon", "gloss", "gloss-graph", "kl")
GLOSS_VARIANTS = ("gloss", "gloss-graph", "kl")


def mean_std(values):
    values = 100 * np.asarray(values, dtype=float)
    if len(values) > 1:
        return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"
    return f"{values[0]:.2f}" if len(values) else "–"


def best_gloss(table_ds, metric="test_accuracy"):
    """The G-Loss variant (``gloss``, ``gloss-graph``, ``kl``) with the best mean, or None."""
    means = {v: np.mean([r[metric] for r in table_ds[v].values()]) for v in GLOSS_VARIANTS if table_ds.get(v)}
    return max(means, key=means.get) if means else None


def render(records, profile, note=None):
    table = summarise(records)
    variants = [v for v in VARIANTS if any(v in t for t in table.values())]
    lines = [f"# Accuracy, `{profile}` profile", "",
             "Test accuracy (%) mean ± std (sample std) over seeds (n = seeds run); macro-F1 in the second table "
             "(scikit-learn's `f1_score(average=\"macro\")`: the mean over the classes in the test labels or the "
             "predictions, so a predicted class absent from a test subset counts as 0). "
             "Rendered by `benchmarks/render_tables.py` from `benchmarks/results/runs/`.", "",
             *([note, ""] if note else []),
             "## Test accuracy (%)", "",
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
    lines += ["", "## `ce` against the best G-Loss variant (accuracy, %)", "",
              "The best of `gloss`, `gloss-graph` and `kl` by mean test accuracy; picking the best of three "
              "after the fact favours G-Loss.", "",
              "| dataset | `ce` | best G-Loss variant | its accuracy | paired mean difference "
              "| beyond the seed spread |",
              "|---|---|---|---|---|---|"]
    for ds, t in sorted(table.items()):
        best = best_gloss(t)
        if best and t.get("ce"):
            p = paired(t, best)
            diff = f"{100 * p['mean']:+.2f}" if p else "–"
            verdict = ("yes" if p["beyond_seed_spread"] else "no") if p else "–"
            lines.append(f"| {ds} | {mean_std([r['test_accuracy'] for r in t['ce'].values()])} | `{best}` | "
                         f"{mean_std([r['test_accuracy'] for r in t[best].values()])} | {diff} | {verdict} |")
    if "gloss-graph" in variants:
        lines += ["", "`gloss-graph` infers with the graph (blended with the head), so its validation score, and its "
                  "curve in the epochs plot, is transductive: validation texts are graph nodes whose labels are "
                  "hidden. Its test accuracy is inductive, like every other variant's."]
    if "gloss-graph" in variants:
        lines += ["", "`gloss-graph` differs from `gloss` in two ways at once: graph-aware batches and blended "
                  "head + graph inference (a weighted vote of the nearest training documents' spread labels). "
                  "Where the heads of all variants are far from converged (many classes, few texts, 3 epochs), "
                  "the graph vote alone can account for its lead: compare `gloss` with `ce` for the loss, and "
                  "`gloss-graph` with `gloss` for the corpus graph."]
    threads = sorted({r["machine"].get("torch_threads") for r in records})
    lines += ["", "## Cost", "",
              "Epoch of the best validation score (mean), seconds per epoch (median) and peak resident memory "
              "of the cell's process (MiB, max) over seeds."
              + (f" Cells ran with different torch thread counts ({threads}; each cell's JSON says which) and "
                 "some beside another job, so the seconds column compares cells run alike only; per-step cost "
                 "ratios come from `benchmarks/step_time.py`." if len(threads) > 1 else ""), "",
              "| dataset | variant | best epoch | s / epoch | peak RSS (MiB) |", "|---|---|---|---|---|"]
    for ds, t in sorted(table.items()):
        for v in variants:
            runs = list(t.get(v, {}).values())
            if runs:
                lines.append(f"| {ds} | `{v}` | {np.mean([r['best_epoch'] for r in runs]):.1f} | "
                             f"{np.median([r['seconds_per_epoch'] for r in runs]):.1f} | "
                             f"{max(r['peak_rss_mib'] for r in runs):.0f} |")
    return "\n".join(lines) + "\n"


def plot_epochs(records, path):
    """Validation accuracy after each epoch, mean over seeds: one panel per dataset, one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = summarise(records)
    fig, axes = plt.subplots(1, len(table), figsize=(3.2 * len(table), 3.0), squeeze=False, sharey=False)
    for ax, (ds, t) in zip(axes[0], sorted(table.items())):
        for v in VARIANTS:
            runs = list(t.get(v, {}).values())
            if not runs:
                continue
            n = min(len(r["history"]) for r in runs)
            curve = np.mean([[h["val_score"] for h in r["history"][:n]] for r in runs], axis=0)
            ax.plot(np.arange(1, n + 1), 100 * curve, marker="o", label=v)
        ax.set_title(ds)
        ax.set_xlabel("epoch")
        ax.set_xticks(range(1, 1 + max(len(r["history"]) for v in t.values() for r in v.values())))
    axes[0][0].set_ylabel("validation accuracy (%)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--profile", default="cpu")
    p.add_argument("--runs-dir", default=str(HERE / "results" / "runs"))
    p.add_argument("--out", default=None)
    p.add_argument("--no-plot", action="store_true", help="tables only (no matplotlib needed)")
    p.add_argument("--note", help="a paragraph to print under the title")
    args = p.parse_args(argv)
    records = load_cells(args.runs_dir, args.profile)
    if not records:
        raise SystemExit(f"no finished cells under {Path(args.runs_dir) / args.profile}")
    out = Path(args.out) if args.out else HERE / "results" / f"accuracy_{args.profile}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(records, args.profile, args.note))
    print(f"wrote {out} from {len(records)} cells")
    if not args.no_plot:
        png = out.with_name(out.stem + "_epochs.png")
        plot_epochs(records, png)
        print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
