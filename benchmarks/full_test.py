"""The `cpu` profile's fits scored on every test text, not only its 1,000.

The `cpu` accuracy profile (``skgloss bench --profile cpu``) scores each fit
on a stratified subset of 1,000 test texts. Where two variants are close,
1,000 texts cannot tell them apart (MR's `gloss` − `ce`). This script fits
the same cells again (same training subset, settings and seeds:
:func:`skgloss.bench.fit_cell`) and scores them on the whole test set, split
into the profile's 1,000 texts (which reproduce the profile's cell where the
fit is the same) and the texts the profile never read. Nothing is chosen
here: the fits select their epochs and heads on their own validation rows.

Usage::

    python benchmarks/full_test.py --datasets mr r8 ohsumed r52 20ng --variants ce gloss --seeds 0 1 2

Writes one JSON file per cell under ``benchmarks/results/runs/full_test/`` (skipped when
present) and the summary ``benchmarks/results/full_test.json``; prints a table.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _common import command_line, data_home, per_seed, write_cell, write_json

from skgloss.bench import DATASETS, PROFILES, cell_path, fit_cell, machine, per_dataset, subset
from skgloss.datasets import load_benchmark

HERE = Path(__file__).resolve().parent
RUNS = HERE / "results" / "runs"


def run(dataset, variant, seed, data):
    X, y, Xt, yt = data
    prof = PROFILES["cpu"]
    tr = subset(y, per_dataset(prof["n_train"], dataset), seed=0)
    in_profile = np.zeros(len(yt), dtype=bool)
    in_profile[subset(yt, per_dataset(prof["n_test"], dataset), seed=0)] = True
    spec = {**prof, "dataset": dataset, "variant": variant, "seed": seed}
    clf, params, fit_s = fit_cell(spec, [X[i] for i in tr], [y[i] for i in tr])
    pred = clf.predict(Xt)
    correct = pred == np.asarray(yt, dtype=pred.dtype)
    profile_cell = cell_path(RUNS, "cpu", dataset, variant, seed)
    recorded = json.loads(profile_cell.read_text())["test_accuracy"] if profile_cell.is_file() else None
    return {"dataset": dataset, "variant": variant, "seed": seed, "params": params, "n_train": len(tr),
            "n_test": len(yt), "n_profile_test": int(in_profile.sum()),
            "accuracy_all": float(correct.mean()), "accuracy_profile_texts": float(correct[in_profile].mean()),
            "accuracy_other_texts": float(correct[~in_profile].mean()),
            "profile_cell_accuracy": recorded, "best_epoch": clf.best_epoch_, "fit_seconds": fit_s,
            "correct": correct.astype(int).tolist(), "machine": machine()}


def summarise(records, variants):
    """Paired differences of every variant against the first, per dataset and split."""
    base, rows = variants[0], []
    by = {(r["dataset"], r["variant"], r["seed"]): r for r in records}
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        seeds = sorted({r["seed"] for r in records if r["dataset"] == dataset})
        for variant in variants[1:]:
            pairs = [(by[dataset, variant, s], by[dataset, base, s]) for s in seeds
                     if (dataset, variant, s) in by and (dataset, base, s) in by]
            if not pairs:
                continue
            for split in ("accuracy_all", "accuracy_profile_texts", "accuracy_other_texts"):
                diffs = [100 * (a[split] - b[split]) for a, b in pairs]
                rows.append({"dataset": dataset, "variant": variant, "against": base, "split": split,
                             "per_seed": diffs, "mean": float(np.mean(diffs))})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--variants", nargs="+", default=["ce", "gloss"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args(argv)
    records = []
    for dataset in args.datasets:
        data = load_benchmark(dataset, data_home=data_home())
        for seed in args.seeds:
            for variant in args.variants:
                path = RUNS / "full_test" / f"{dataset}__{variant}__seed{seed}.json"
                if not path.is_file():
                    write_cell(path, run(dataset, variant, seed, data))
                records.append(json.loads(path.read_text()))
    for r in records:
        print(f"{r['dataset']:>7} {r['variant']:>6} seed {r['seed']}: all {100 * r['accuracy_all']:.2f} "
              f"({r['n_test']}), profile's texts {100 * r['accuracy_profile_texts']:.2f} "
              f"(profile cell {r['profile_cell_accuracy']}), other texts {100 * r['accuracy_other_texts']:.2f}")
    summary = summarise(records, args.variants)
    for row in summary:
        print(f"{row['dataset']}: {row['variant']} - {row['against']}, {row['split']}: {row['mean']:+.2f} "
              f"({per_seed(row['per_seed'])})")
    write_json("full_test.json", {
        "command": command_line("full_test.py", argv),
        "cells": [{k: v for k, v in r.items() if k != "correct"} for r in records], "paired": summary})
    return 0


if __name__ == "__main__":
    sys.exit(main())
