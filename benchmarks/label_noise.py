"""The `cpu` profile's fits with a share of their training labels wrong.

Noisy labels are one place where the graph might have something to say: a
wrong label is a node whose neighbours mostly disagree with it. This script
takes the `cpu` accuracy profile's cells (``skgloss bench --profile cpu``:
same training subset, settings, seeds and 1,000 test texts, via
:func:`skgloss.bench.fit_cell`) and, before fitting, gives a share ``r`` of
the training texts a wrong label, drawn uniformly among the other classes
(symmetric noise). The flips depend on the dataset, ``r`` and the seed only,
so ``ce`` and ``gloss`` of one seed learn from the same wrong labels.
``gloss-graph-inference`` is ``gloss`` with ``inference="graph"``: a text
takes the labels of its nearest training texts (:doc:`method`, "inductive
graph inference"), and model selection judges that predictor. The
fit's own validation rows (10 % held out, as in the profile) are noisy too,
as a user's would be; the test labels are not. Nothing is chosen here: the
variants run with the profile's settings and the estimator's defaults.

Usage::

    python benchmarks/label_noise.py --datasets mr r8 --noise 0 0.2 0.4 \\
        --variants ce gloss gloss-graph-inference --seeds 0 1 2

Writes one JSON file per cell under ``benchmarks/results/runs/label_noise/``
(skipped when present) and the summary ``benchmarks/results/label_noise.json``;
at rate 0 the profile's own cells (``benchmarks/results/runs/cpu/``) stand in
where they exist. Prints a table.
"""

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from _common import command_line, data_home, per_seed, write_cell, write_json

from skgloss.bench import DATASETS, PROFILES, cell_path, fit_cell, machine, per_dataset, subset
from skgloss.datasets import load_benchmark

HERE = Path(__file__).resolve().parent
RUNS = HERE / "results" / "runs"
#: Variants of this study beyond the harness's: (harness variant, parameters it overrides).
EXTRA_VARIANTS = {"gloss-graph-inference": ("gloss", {"inference": "graph"})}


def flip_labels(y, rate, seed, dataset):
    """``y`` with ``round(rate * len(y))`` entries, drawn at random, set to another class drawn uniformly.

    Returns the noisy labels and the indices that were flipped.
    """
    y = np.asarray(y, dtype=object)
    classes = sorted(set(y.tolist()))
    key = [seed, round(rate * 1000), *dataset.encode()]
    rng = np.random.default_rng(key)
    flipped = np.sort(rng.choice(len(y), round(rate * len(y)), replace=False))
    noisy = y.copy()
    for i in flipped:
        others = [c for c in classes if c != y[i]]
        noisy[i] = others[rng.integers(len(others))]
    return noisy.tolist(), flipped


def run(dataset, variant, rate, seed, data):
    X, y, Xt, yt = data
    prof = PROFILES["cpu"]
    tr = subset(y, per_dataset(prof["n_train"], dataset), seed=0)
    te = subset(yt, per_dataset(prof["n_test"], dataset), seed=0)
    noisy, flipped = flip_labels([y[i] for i in tr], rate, seed, dataset)
    base, overrides = EXTRA_VARIANTS.get(variant, (variant, {}))
    spec = {**prof, "dataset": dataset, "variant": base, "seed": seed, "params": overrides}
    clf, params, fit_s = fit_cell(spec, [X[i] for i in tr], noisy)
    Xte, yte = [Xt[i] for i in te], np.asarray([yt[i] for i in te], dtype=object)
    pred = clf.predict(Xte).astype(object)
    return {"dataset": dataset, "variant": variant, "noise": rate, "seed": seed, "params": params,
            "n_train": len(tr), "n_flipped": int(len(flipped)), "n_test": len(te),
            "test_accuracy": float(np.mean(pred == yte)), "predicted_classes": dict(Counter(pred.tolist())),
            "embedding_probes": embedding_probes(clf, [X[i] for i in tr], noisy, Xte, yte),
            "best_epoch": clf.best_epoch_, "fit_seconds": fit_s, "history": clf.history_, "machine": machine()}


def embedding_probes(clf, X, noisy, Xte, yte):
    """Test accuracy of two predictors fitted on the fitted encoder's embeddings and the noisy labels.

    Scikit-learn's ``LogisticRegression`` (defaults) and the majority label of
    the 10 nearest training texts (cosine): how good the embeddings are,
    apart from the head the fit ships.
    """
    E, Ete = clf.transform(X), clf.transform(Xte)
    lr = LogisticRegression(max_iter=2000).fit(E, noisy)
    knn = KNeighborsClassifier(10, metric="cosine").fit(E, noisy)
    return {"logistic_regression": float(np.mean(lr.predict(Ete) == yte)),
            "knn10_majority": float(np.mean(knn.predict(Ete) == yte))}


def profile_cell(dataset, variant, seed):
    """The `cpu` profile's own cell as the rate-0 record, or None where it was not run."""
    path = cell_path(RUNS, "cpu", dataset, variant, seed)
    if not path.is_file():
        return None
    rec = json.loads(path.read_text())
    return {"dataset": dataset, "variant": variant, "noise": 0.0, "seed": seed, "n_train": rec["n_train"],
            "n_flipped": 0, "n_test": rec["n_test"], "test_accuracy": rec["test_accuracy"],
            "best_epoch": rec["best_epoch"], "fit_seconds": rec["fit_seconds"], "machine": rec["machine"],
            "source": str(path.relative_to(HERE.parent))}


def summarise(records, variants):
    """Paired differences of every variant against the first, per dataset and noise rate."""
    base, rows = variants[0], []
    by = {(r["dataset"], r["noise"], r["variant"], r["seed"]): r for r in records}
    for dataset, rate in dict.fromkeys((r["dataset"], r["noise"]) for r in records):
        seeds = sorted({r["seed"] for r in records if (r["dataset"], r["noise"]) == (dataset, rate)})
        for variant in variants[1:]:
            pairs = [(by[dataset, rate, variant, s], by[dataset, rate, base, s]) for s in seeds
                     if (dataset, rate, variant, s) in by and (dataset, rate, base, s) in by]
            diffs = [100 * (a["test_accuracy"] - b["test_accuracy"]) for a, b in pairs]
            if diffs:
                rows.append({"dataset": dataset, "noise": rate, "variant": variant, "against": base,
                             "per_seed": diffs, "mean": float(np.mean(diffs))})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["mr", "r8"], choices=DATASETS)
    p.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.2, 0.4],
                   help="shares of the training texts whose label is made wrong, each in [0, 1); "
                        "0 reads the cpu profile's own cell where there is one")
    p.add_argument("--variants", nargs="+", default=["ce", "gloss"],
                   help="the first is the reference of the paired differences; harness variants or "
                        + ", ".join(EXTRA_VARIANTS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args(argv)
    bad = [r for r in args.noise if not 0 <= r < 1]
    if bad:
        p.error(f"--noise takes shares in [0, 1), got {bad}")
    records = []
    for dataset in args.datasets:
        data = None
        for seed in args.seeds:
            for variant in args.variants:
                for rate in args.noise:
                    rec = profile_cell(dataset, variant, seed) if rate == 0 else None
                    if rec is not None:
                        records.append(rec)
                        continue
                    path = RUNS / "label_noise" / f"{dataset}__{variant}__noise{rate:g}__seed{seed}.json"
                    if not path.is_file():
                        data = data or load_benchmark(dataset, data_home=data_home())
                        write_cell(path, run(dataset, variant, rate, seed, data))
                    records.append(json.loads(path.read_text()))
    records.sort(key=lambda r: (r["dataset"], r["noise"], r["variant"], r["seed"]))
    for r in records:
        print(f"{r['dataset']:>7} noise {r['noise']:.2f} {r['variant']:>6} seed {r['seed']}: "
              f"{100 * r['test_accuracy']:.2f} ({r['n_flipped']} of {r['n_train']} labels wrong)")
    summary = summarise(records, args.variants)
    for row in summary:
        print(f"{row['dataset']} noise {row['noise']:.2f}: {row['variant']} - {row['against']} {row['mean']:+.2f} "
              f"({per_seed(row['per_seed'])})")
    write_json("label_noise.json", {
        "command": command_line("label_noise.py", argv),
        "cells": [{k: v for k, v in r.items() if k != "history"} for r in records], "paired": summary})
    return 0


if __name__ == "__main__":
    sys.exit(main())
