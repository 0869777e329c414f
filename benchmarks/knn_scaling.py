"""How ``knn_graph`` scales: exact, PyNNDescent and scikit-learn at 10k, 100k and 1M rows.

Synthetic clustered vectors (d = 384, 50 Gaussian clusters, seed 0), k = 10,
cosine similarity. At each size, side by side in one process:

- ``knn_graph(backend="exact")`` (blocked matrix products, top-k per block);
- ``knn_graph(backend="pynndescent")`` (NN-descent with 2k neighbours);
- scikit-learn ``NearestNeighbors(metric="cosine", algorithm="brute")``.

Recall of each method is measured against brute-force neighbours of
``--n-queries`` random rows (float32 matrix products), so it is comparable across
sizes (at 1M only PyNNDescent runs, as the issue asks; exact search there would
take hours on 2 cores). PyNNDescent's numba compilation is paid once on a small
warm-up set before any timing. Sizes below ``--repeat-below`` rows are timed
``--repeats`` times and the median reported; larger ones once. The JSON is
rewritten after each size, so a run stopped at 1M keeps the smaller sizes.

Usage: python benchmarks/knn_scaling.py [--sizes 10000 100000 1000000] [--skip-exact-above 100000]
Writes benchmarks/results/knn_scaling.json.
"""

import argparse
import time

import numpy as np
from _common import clustered, machine, write_json
from sklearn.neighbors import NearestNeighbors

from skgloss.graph import knn_graph


def true_neighbours(X, queries, k):
    """The k most cosine-similar other rows of each query row (float32 brute force, 128 queries at a time)."""
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    out = []
    for start in range(0, len(queries), 128):
        q = queries[start:start + 128]
        S = Xn[q] @ Xn.T
        S[np.arange(len(q)), q] = -np.inf
        out.append(np.argpartition(-S, k, axis=1)[:, :k])
    return np.vstack(out)


def recall(graph_rows, truth):
    return float(np.mean([len(set(g) & set(t)) / len(t) for g, t in zip(graph_rows, truth)]))


def csr_rows(W, queries):
    return [W.indices[W.indptr[q]:W.indptr[q + 1]] for q in queries]


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times)), times


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--d", type=int, default=384)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--n-queries", type=int, default=2000)
    p.add_argument("--skip-exact-above", type=int, default=100_000,
                   help="above this many rows only PyNNDescent runs")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--repeat-below", type=int, default=50_000)
    args = p.parse_args()

    t0 = time.perf_counter()
    knn_graph(clustered(2000, args.d, seed=1), args.k, sigma=0.5, backend="pynndescent", random_state=0)
    warmup_s = time.perf_counter() - t0
    print(f"PyNNDescent warm-up (numba compilation) {warmup_s:.1f} s", flush=True)

    import numba
    import torch

    results = []

    def save():
        return write_json("knn_scaling.json", {"benchmark": "knn_scaling", "args": vars(args), "machine": machine(),
                                               "numba_threads": numba.get_num_threads(),
                                               "torch_threads": torch.get_num_threads(),
                                               "pynndescent_warmup_s": warmup_s, "results": results})

    for n in args.sizes:
        X = clustered(n, args.d)
        rng = np.random.default_rng(1)
        queries = np.sort(rng.choice(n, min(args.n_queries, n), replace=False))
        truth = true_neighbours(X, queries, args.k)
        repeats = args.repeats if n < args.repeat_below else 1
        row = {"n": n, "d": args.d, "k": args.k, "repeats": repeats}
        W, row["pynndescent_s"], row["pynndescent_times"] = timed(
            lambda: knn_graph(X, args.k, sigma=0.5, backend="pynndescent", random_state=0), repeats)
        row["pynndescent_recall"] = recall(csr_rows(W, queries), truth)
        if n <= args.skip_exact_above:
            W, row["exact_s"], row["exact_times"] = timed(lambda: knn_graph(X, args.k, sigma=0.5, backend="exact"),
                                                          repeats)
            row["exact_recall"] = recall(csr_rows(W, queries), truth)
            nn = NearestNeighbors(n_neighbors=args.k + 1, metric="cosine", algorithm="brute")
            (_, ind), row["sklearn_brute_s"], row["sklearn_brute_times"] = timed(
                lambda: nn.fit(X).kneighbors(X), repeats)
            row["sklearn_brute_recall"] = recall([[j for j in r if j != q][:args.k] for q, r in
                                                  zip(queries, ind[queries])], truth)
            row["exact_over_pynndescent"] = row["exact_s"] / row["pynndescent_s"]
            row["sklearn_over_pynndescent"] = row["sklearn_brute_s"] / row["pynndescent_s"]
            row["sklearn_over_exact"] = row["sklearn_brute_s"] / row["exact_s"]
        results.append(row)
        print(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                        if not k.endswith("_times")), flush=True)
        X = W = None  # free the 1M-row arrays before the next size
        path = save()
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
