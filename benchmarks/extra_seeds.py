"""The accuracy bars with seven more seeds: how much of each gap is seed noise?

The issue's bars are judged on seeds 0-2 (``benchmarks/results/accuracy_cpu.md``,
``benchmarks/results/few_shot.md``), and this script does not change that. It
pairs those cells (the ``cpu`` profile's MR, whose mean misses its bar, and
every few-shot comparison) with the same cells run on seeds 3-9, on the same
code and data (``--runs-dir`` of ``skgloss bench`` and of
``benchmarks/few_shot.py``), and reports the paired difference over all ten
seeds with a 95 % Student-t interval: an interval that holds the bar cannot
tell the gap from noise, one wholly below it can.

Run the cells, then render::

    skgloss bench --profile cpu --datasets mr --variants ce gloss --seeds 3 4 5 6 7 8 9 \\
        --runs-dir benchmarks/results/runs/extra_seeds
    python benchmarks/few_shot.py --datasets mr --shots 8 32 --unlabeled 0 1000 --seeds 3 4 5 6 7 8 9 \\
        --runs-dir benchmarks/results/runs/few_shot_extra_seeds --out /tmp/few_shot_extra.md
    python benchmarks/few_shot.py --datasets r8 --shots 8 32 --unlabeled 0 --methods lr-frozen skgloss \\
        --seeds 3 4 5 6 7 8 9 --runs-dir benchmarks/results/runs/few_shot_extra_seeds --out /tmp/few_shot_extra.md
    python benchmarks/extra_seeds.py

(Run so far: all of these, and R8 32 per class with ``--unlabeled 1000`` at seed 3.)

Writes ``benchmarks/results/extra_seeds.md``.
"""

import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
RUNS = HERE / "results" / "runs"
OUT = HERE / "results" / "extra_seeds.md"
STUDY_SEEDS = (0, 1, 2)
EXTRA_SEEDS = tuple(range(3, 10))


def cpu_cell(dataset, variant):
    """The files of one ``cpu`` profile cell, by seed."""
    return lambda seed: (RUNS / ("cpu" if seed in STUDY_SEEDS else "extra_seeds/cpu")
                         / f"{dataset}__{variant}__seed{seed}.json")


def few_shot_cell(dataset, shots, unlabeled, method):
    """The files of one few-shot cell, by seed."""
    return lambda seed: (RUNS / ("few_shot" if seed in STUDY_SEEDS else "few_shot_extra_seeds")
                         / f"{dataset}__{shots}shot__unl{unlabeled}__{method}__seed{seed}.json")


def _few_shot_comparisons():
    """skgloss in every few-shot cell against both baselines of its labeled rows (the baselines ignore
    ``-1`` texts, so a cell with them is paired with the same seed's labeled-only baseline)."""
    out = []
    for dataset in ("mr", "r8"):
        for shots in (8, 32):
            for unlabeled in (0, 1000):
                cell = f"{dataset.upper()} {shots}/class" + (f" + {unlabeled:,} `-1`" if unlabeled else "")
                ours = few_shot_cell(dataset, shots, unlabeled, "skgloss")
                out.append((f"{cell}: skgloss − SetFit", -1.0, ours, few_shot_cell(dataset, shots, 0, "setfit")))
                out.append((f"{cell}: skgloss − logistic regression", 0.0, ours,
                            few_shot_cell(dataset, shots, 0, "lr-frozen")))
    return out


#: (what is compared, the bar on the mean difference in points, the cell, the cell it is compared with)
COMPARISONS = [("`cpu` profile, MR: `gloss` − `ce`", -0.5, cpu_cell("mr", "gloss"), cpu_cell("mr", "ce")),
               *_few_shot_comparisons()]


def accuracy(path, metric="test_accuracy"):
    record = json.loads(path.read_text()) if path.is_file() else {}
    return 100 * record[metric] if metric in record else None


def interval(diffs, level=0.95):
    """Mean, standard error and the Student-t interval of paired differences."""
    d = np.asarray(diffs, dtype=float)
    se = d.std(ddof=1) / np.sqrt(len(d))
    half = stats.t.ppf(0.5 + level / 2, len(d) - 1) * se
    return d.mean(), se, d.mean() - half, d.mean() + half


def verdict(bar, low, high):
    if low >= bar:
        return "meets the bar"
    if high < bar:
        return "below the bar"
    return "cannot tell"


def _rows(metric, keep=lambda name: True, judged=True):
    """Table rows of the comparisons ``keep`` admits; ``judged=False``: against 0 rather than the bar."""
    rows = []
    for name, bar, left, right in COMPARISONS:
        if not keep(name):
            continue
        pairs = [(s, accuracy(left(s), metric), accuracy(right(s), metric)) for s in STUDY_SEEDS + EXTRA_SEEDS]
        pairs = [(s, a, b) for s, a, b in pairs if a is not None and b is not None]
        if len(pairs) < 4 or not any(s in EXTRA_SEEDS for s, _, _ in pairs):
            continue
        diffs = [a - b for _, a, b in pairs]
        study = [a - b for s, a, b in pairs if s in STUDY_SEEDS]
        mean, se, low, high = interval(diffs)
        both = f"{np.mean([a for _, a, _ in pairs]):.2f} against {np.mean([b for _, _, b in pairs]):.2f}"
        judgement = (verdict(bar, low, high) if judged
                     else "ahead" if low > 0 else "behind" if high < 0 else "cannot tell")
        rows.append(f"| {name} | {f'{bar:+.1f}' if judged else 'none'} | {np.mean(study):+.2f} | {len(pairs)} "
                    "seeds: " + ", ".join(f"{d:+.1f}" for d in diffs)
                    + f" | {mean:+.2f} ± {se:.2f} | [{low:+.2f}, {high:+.2f}] | {judgement} | {both} |")
    return rows


HEADER = ["| comparison | bar | seeds 0-2 | seeds 0-9 (per seed) | mean ± s.e. | 95 % interval | verdict | "
          "both sides (seeds 0-9) |", "|---|---|---|---|---|---|---|---|"]


def render(out=OUT):
    lines = ["# The accuracy bars with ten seeds", "",
             "Paired test-accuracy differences (points) of the issue's comparisons, where seeds 3-9 were run "
             "on the same data and test texts as seeds 0-2 (a seed draws the fit's randomness and, for the "
             "few-shot cells, the labeled texts), and on the same fit code, except that the `cpu` profile's "
             "seeds 0-2 were rerun on a later commit than its seeds 3-9 (each cell records its commit; the same "
             "seeds 0-2 run on an earlier commit than seeds 3-9 differ from the rerun by at most 0.4 points a "
             "cell). 95 % Student-t interval of the mean difference; `cannot tell`: "
             "the interval holds the bar. The bars themselves are judged on seeds 0-2. Rendered by "
             "`python benchmarks/extra_seeds.py`; the commands are in its docstring.", "",
             "## Accuracy (%)", "", *HEADER, *_rows("test_accuracy")]
    balanced = _rows("test_balanced_accuracy", keep=lambda name: name.startswith("R8"), judged=False)
    if balanced:
        lines += ["", "## Balanced accuracy (%), R8", "",
                  "The mean per-class recall of the same fits (the few-shot labeled texts are balanced; R8's test "
                  "texts are half `earn`). The issue's bars are on accuracy, so this table has none: its verdict "
                  "says whether skgloss is ahead of or behind the baseline beyond the interval.", "",
                  *HEADER, *balanced]
    lines += ["", "## By the schedule the fit trained on (few shots, no `-1` rows)", "",
              "The same fits grouped by the schedule they trained on: where the pre-trained encoder separates the "
              "classes (R8), the cross-validated choice of the 4-epoch schedule (`max_epochs`) or of the 16-epoch "
              "one, tried only while the 4-epoch out-of-fold curve is at its best after its last epoch; where it "
              "barely does (MR), the schedule of 128 optimizer steps or more, run to its end without folds. Test "
              "accuracy (%), mean over the seeds of each group; the baselines on the same seeds.", "",
              "| dataset | labeled / class | schedule | seeds | epochs chosen | skgloss | SetFit | "
              "logistic regression |",
              "|---|---|---|---|---|---|---|---|", *_by_schedule()]
    Path(out).write_text("\n".join(lines) + "\n")
    return Path(out)


def _by_schedule():
    rows = []
    for dataset in ("mr", "r8"):
        for shots in (8, 32):
            fits = {}
            for seed in STUDY_SEEDS + EXTRA_SEEDS:
                path = few_shot_cell(dataset, shots, 0, "skgloss")(seed)
                if path.is_file():
                    cv = json.loads(path.read_text())["cv_results"]
                    fits.setdefault((cv["schedule_epochs"], cv["n_folds"] == 0), []).append((seed, cv["chosen_epochs"]))
            if not any(s in EXTRA_SEEDS for group in fits.values() for s, _ in group):
                continue
            for (schedule, budget), group in sorted(fits.items()):
                seeds = [s for s, _ in group]

                def mean(method):
                    values = [accuracy(few_shot_cell(dataset, shots, 0, method)(s)) for s in seeds]
                    values = [v for v in values if v is not None]
                    return f"{np.mean(values):.2f} (n={len(values)})" if values else "not run"

                what = f"{schedule} epochs" + (" (step budget, no folds)" if budget else "")
                rows.append(f"| {dataset} | {shots} | {what} | {', '.join(map(str, seeds))} | "
                            f"{', '.join(str(c) for _, c in group)} | {mean('skgloss')} | {mean('setfit')} | "
                            f"{mean('lr-frozen')} |")
    return rows


if __name__ == "__main__":
    print(render().read_text())
    sys.exit(0)
