"""Random vs graph-aware batches for the in-batch G-Loss, on a many-class dataset.

With 52 classes (R52) and batches of 32, most classes appear once in a batch,
so G-Loss has few same-class neighbours to propagate from. ``batching="graph"``
builds batches from groups of corpus neighbours. This script fits both on a
random training subset (all labels kept) and reports test accuracy and how
many masked rows G-Loss could use.

Usage: python benchmarks/batching.py [--dataset r52] [--n-train 2000] [--n-test 1000] [--seeds 0 1]
Writes benchmarks/results/batching.json.
"""

import argparse
import time

import numpy as np
from _common import data_home, machine, write_json

from skgloss import GLossTextClassifier
from skgloss.datasets import load_benchmark


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="r52")
    p.add_argument("--n-train", type=int, default=2000)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--max-epochs", type=int, default=3)
    args = p.parse_args()

    X, y, Xt, yt = load_benchmark(args.dataset, data_home=data_home())
    rng = np.random.default_rng(0)
    tr = rng.choice(len(X), min(args.n_train, len(X)), replace=False)
    te = rng.choice(len(Xt), min(args.n_test, len(Xt)), replace=False)
    X, y = [X[i] for i in tr], [y[i] for i in tr]
    Xt, yt = [Xt[i] for i in te], [yt[i] for i in te]

    runs = []
    for seed in args.seeds:
        for batching in ("random", "graph"):
            clf = GLossTextClassifier(loss="gloss", batching=batching, max_length=64, max_epochs=args.max_epochs,
                                      random_state=seed)
            t0 = time.perf_counter()
            clf.fit(X, y)
            seconds = time.perf_counter() - t0
            acc = clf.score(Xt, yt)
            runs.append({"batching": batching, "seed": seed, "test_accuracy": acc, "fit_seconds": seconds,
                         "best_epoch": clf.best_epoch_, "history": clf.history_})
            print(f"seed {seed} batching={batching:6s} test accuracy {acc:.4f} ({seconds:.0f} s)", flush=True)
    summary = {}
    for b in ("random", "graph"):
        accs = np.array([r["test_accuracy"] for r in runs if r["batching"] == b])
        summary[b] = {"mean": float(accs.mean()), "std": float(accs.std(ddof=1)) if len(accs) > 1 else 0.0,
                      "per_seed": accs.tolist()}
    print(summary)
    path = write_json("batching.json", {"benchmark": "batching", "args": vars(args), "machine": machine(),
                                        "summary": summary, "runs": runs})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
