"""Short fits on MR: cross-entropy vs in-batch G-Loss with all-MiniLM-L6-v2.

1,000 MR training texts (stratified, seeded) and 1,000 MR test texts
(stratified, seeded); the estimator's defaults except max_length 64,
max_epochs 3 (batch 32, lr 5e-5, 10 % of the training texts held out for
early stopping, sigma by the "sqrt" heuristic for G-Loss). Three seeds.

Usage: python benchmarks/mr_short_fit.py [--seeds 0 1 2] [--losses ce gloss]
Writes benchmarks/results/mr_short_fit.json.
"""

import argparse
import time

import numpy as np
from _common import data_home, machine, stratified_sample, write_json

from skgloss import GLossTextClassifier
from skgloss.datasets import load_benchmark


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--losses", nargs="+", default=["ce", "gloss"])
    p.add_argument("--n-train", type=int, default=1000)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--max-epochs", type=int, default=3)
    args = p.parse_args()

    X, y, Xt, yt = load_benchmark("mr", data_home=data_home())
    tr = stratified_sample(y, args.n_train, seed=0)
    te = stratified_sample(yt, args.n_test, seed=0)
    X, y = [X[i] for i in tr], [y[i] for i in tr]
    Xt, yt = [Xt[i] for i in te], [yt[i] for i in te]

    runs = []
    for seed in args.seeds:
        for loss in args.losses:
            clf = GLossTextClassifier(loss=loss, max_length=64, max_epochs=args.max_epochs, random_state=seed)
            t0 = time.perf_counter()
            clf.fit(X, y)
            fit_s = time.perf_counter() - t0
            acc = clf.score(Xt, yt)
            runs.append({"loss": loss, "seed": seed, "test_accuracy": acc, "fit_seconds": fit_s,
                         "n_iter": clf.n_iter_, "best_epoch": clf.best_epoch_, "sigma": clf.sigma_,
                         "history": clf.history_})
            print(f"seed {seed} {loss:6s} test accuracy {acc:.4f}  ({fit_s:.0f} s, best epoch {clf.best_epoch_})",
                  flush=True)

    summary = {}
    for loss in args.losses:
        accs = np.array([r["test_accuracy"] for r in runs if r["loss"] == loss])
        summary[loss] = {"mean": float(accs.mean()), "std": float(accs.std(ddof=1)) if len(accs) > 1 else 0.0,
                         "per_seed": accs.tolist()}
    if {"ce", "gloss"} <= set(args.losses):
        diff = np.array(summary["gloss"]["per_seed"]) - np.array(summary["ce"]["per_seed"])
        summary["gloss_minus_ce"] = {"per_seed": diff.tolist(), "mean": float(diff.mean())}
    for k, v in summary.items():
        print(k, {kk: (round(vv, 4) if isinstance(vv, float) else vv) for kk, vv in v.items()})
    path = write_json("mr_short_fit.json", {"benchmark": "mr_short_fit", "args": vars(args), "machine": machine(),
                                            "summary": summary, "runs": runs})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
