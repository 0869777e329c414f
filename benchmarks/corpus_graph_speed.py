"""Speed of the corpus-graph pieces: knn_graph backends and label_spreading.

Synthetic clustered vectors (n rows, d dims, 50 Gaussian clusters, seed 0).
- knn_graph exact vs PyNNDescent vs scikit-learn NearestNeighbors (brute,
  cosine) at k = 10, with PyNNDescent's recall against exact. The exact
  search runs once on 3,000 rows first (its numba kernels load or compile);
  PyNNDescent is timed twice: its first call in the process includes numba
  compilation.
- label_spreading vs scikit-learn LabelSpreading on the same graph (10 % of
  rows labeled; 50 classes = the clusters, and 2 classes = cluster parity; 30 %
  of labels replaced at random so that distributions are not one-hot), same
  alpha/max_iter/tol, median of --repeats interleaved runs each after one
  warm-up call (which, for skgloss, compiles the numba kernels; timed
  separately), with the largest absolute difference of the outputs.

Usage: python benchmarks/corpus_graph_speed.py [--n 20000] [--d 384]
"""

import argparse
import time

import numpy as np
from _common import machine, write_json
from sklearn.neighbors import NearestNeighbors
from sklearn.semi_supervised import LabelSpreading

from skgloss.graph import knn_graph
from skgloss.propagation import label_spreading


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--d", type=int, default=384)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(50, args.d))
    labels = rng.integers(0, 50, args.n)
    X = (centers[labels] + 0.8 * rng.normal(size=(args.n, args.d))).astype(np.float32)

    knn_graph(X[:3000], args.k, sigma=0.5, backend="exact")  # loads (or compiles) the numba top-k kernels
    exact, t_exact = timed(lambda: knn_graph(X, args.k, sigma=0.5, backend="exact"))
    _, t_nnd_first = timed(lambda: knn_graph(X, args.k, sigma=0.5, backend="pynndescent", random_state=0))
    approx, t_nnd = timed(lambda: knn_graph(X, args.k, sigma=0.5, backend="pynndescent", random_state=0))
    _, t_sk = timed(lambda: NearestNeighbors(n_neighbors=args.k + 1, metric="cosine", algorithm="brute")
                    .fit(X).kneighbors_graph(X, mode="distance"))
    recall = approx.astype(bool).multiply(exact.astype(bool)).nnz / exact.nnz
    knn = {"exact_s": t_exact, "pynndescent_first_call_s": t_nnd_first, "pynndescent_s": t_nnd,
           "sklearn_brute_s": t_sk, "pynndescent_recall_vs_exact": recall}
    print(f"knn_graph n={args.n} d={args.d} k={args.k}: exact {t_exact:.2f}s, pynndescent {t_nnd:.2f}s "
          f"(first call {t_nnd_first:.1f}s), sklearn brute {t_sk:.2f}s, recall {recall:.4f}")

    W = exact
    noisy = rng.random(args.n) < 0.3
    spread = {}
    for n_classes, base in ((50, labels), (2, labels % 2)):
        lab = np.where(noisy, rng.integers(0, n_classes, args.n), base)
        y = np.where(rng.random(args.n) < 0.1, lab, -1)
        _, first = timed(lambda: label_spreading(W, y, n_classes=n_classes))
        ours_t, sk_t = [], []
        for _ in range(args.repeats):
            F, t = timed(lambda: label_spreading(W, y, alpha=0.2, max_iter=30, tol=1e-3, n_classes=n_classes))
            ours_t.append(t)
            ref, t = timed(lambda: LabelSpreading(kernel=lambda A, B: W, alpha=0.2, max_iter=30, tol=1e-3)
                           .fit(X, y))
            sk_t.append(t)
        r = {"skgloss_median_s": float(np.median(ours_t)), "sklearn_median_s": float(np.median(sk_t)),
             "speedup_of_medians": float(np.median(sk_t) / np.median(ours_t)),
             "median_per_repeat_speedup": float(np.median(np.array(sk_t) / np.array(ours_t))),
             "max_abs_difference": float(np.abs(F - ref.label_distributions_).max()),
             "sklearn_iterations": int(ref.n_iter_), "skgloss_first_call_s": first, "repeats": args.repeats}
        spread[f"{n_classes}_classes"] = r
        print(f"label_spreading, {n_classes} classes: skgloss {r['skgloss_median_s'] * 1e3:.1f} ms, sklearn "
              f"{r['sklearn_median_s'] * 1e3:.1f} ms, speed-up {r['speedup_of_medians']:.2f}x, "
              f"max |diff| {r['max_abs_difference']:.1e} (first call {first:.2f} s)")
    path = write_json("corpus_graph_speed.json", {"benchmark": "corpus_graph_speed", "args": vars(args),
                                                  "machine": machine(), "knn_graph": knn,
                                                  "label_spreading": spread})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
