"""Copy the benchmark results into README.md, between marker comments.

Each block ``<!-- results:NAME -->`` ... ``<!-- /results:NAME -->`` in the
README is replaced by a table rendered from ``benchmarks/results/NAME.json``.
Nothing in those blocks is typed by hand.

Usage: python benchmarks/render_readme.py
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

LABELS = {"ce": "`ce`", "gloss": "`gloss` (skgloss: one encoder pass)", "supcon": "`supcon`",
          "gloss-2pass": "G-Loss as in the authors' code (two encoder passes)"}


def step_time(data):
    a = data["args"]
    lines = [f"Batch {a['batch_size']}, max_length {a['max_length']}, MR texts, {a['rounds']} interleaved rounds "
             f"after {a['warmup']} warm-up rounds, torch threads {data['machine']['torch_threads']} "
             f"(`python benchmarks/step_time.py`):", "",
             "| loss | median step (s) | median / ce median | median of per-round ratios |", "|---|---|---|---|"]
    for k, r in data["results"].items():
        lines.append(f"| {LABELS.get(k, k)} | {r['median_s']:.3f} | {r['ratio_of_medians']:.3f} | "
                     f"{r['median_per_round_ratio']:.3f} |")
    return lines


def mr_short_fit(data):
    a = data["args"]
    s = data["summary"]
    lines = [f"MR, {a['n_train']} training texts (10 % of them held out for early stopping), {a['n_test']} test "
             f"texts, max_length 64, batch 32, at most {a['max_epochs']} epochs, seeds {a['seeds']} "
             "(`python benchmarks/mr_short_fit.py`):", "",
             "| loss | test accuracy, mean ± std | per seed |", "|---|---|---|"]
    for loss in a["losses"]:
        r = s[loss]
        lines.append(f"| `{loss}` | {100 * r['mean']:.2f} ± {100 * r['std']:.2f} | "
                     + ", ".join(f"{100 * v:.1f}" for v in r["per_seed"]) + " |")
    if "gloss_minus_ce" in s:
        d = s["gloss_minus_ce"]
        lines += ["", f"`gloss` − `ce`, paired by seed: " + ", ".join(f"{100 * v:+.1f}" for v in d["per_seed"])
                  + f" points (mean {100 * d['mean']:+.2f})."]
    return lines


RENDERERS = {"step_time": step_time, "mr_short_fit": mr_short_fit}


def main():
    readme = ROOT / "README.md"
    text = readme.read_text()
    for name, render in RENDERERS.items():
        path = RESULTS / f"{name}.json"
        if not path.is_file():
            continue
        block = "\n".join(render(json.loads(path.read_text())))
        pattern = re.compile(rf"(<!-- results:{name} -->\n)(?:.*?\n)?(<!-- /results:{name} -->)", re.S)
        text, n = pattern.subn(lambda m: m.group(1) + block + "\n" + m.group(2), text)
        if n != 1:
            raise SystemExit(f"README.md has no block for {name}")
    readme.write_text(text)
    print("README.md updated")


if __name__ == "__main__":
    main()
