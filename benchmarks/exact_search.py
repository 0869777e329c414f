"""Exact kNN graph of 20,000 × 384 embeddings: the symmetric blocked search against the one-sided one.

``knn_graph(backend="exact")`` computes each pair's similarity once (blocks
a ≤ c of ``Z Zᵀ``, every block serving its rows and its columns, top k by
``torch.topk``). The reference is the search it replaced: blocks of rows
against all rows (every pair computed twice), top k by ``np.argpartition``,
reimplemented below. Both run interleaved ``--repeats`` times on the same
synthetic clustered vectors (``_common.clustered``, seed 0)
after one warm-up each; medians and the median of per-repeat ratios are
reported, with a check that both find the same neighbours.

Usage: python benchmarks/exact_search.py [--n 20000] [--d 384] [--repeats 5]
Writes benchmarks/results/exact_search.json.
"""

import argparse
import time

import numpy as np
from _common import clustered, machine, write_json

from skgloss.graph import _symmetric_graph, _unit_rows, knn_graph


def one_sided(X, k, block_bytes=64 * 2**20):
    """The previous exact search: 64 MiB row blocks against every row, np.argpartition."""
    Z = _unit_rows(X)
    n = Z.shape[0]
    block = max(1, block_bytes // (4 * n))
    idx = np.empty((n, k), dtype=np.int64)
    sim = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        stop = min(n, start + block)
        S = Z[start:stop] @ Z.T
        S[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        part = np.argpartition(-S, k - 1, axis=1)[:, :k]
        idx[start:stop] = part
        sim[start:stop] = np.take_along_axis(S, part, axis=1)
    return _symmetric_graph(idx, sim, None)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--d", type=int, default=384)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    X = clustered(args.n, args.d)
    runs = {"symmetric": lambda: knn_graph(X, args.k, backend="exact"), "one_sided": lambda: one_sided(X, args.k)}
    graphs = {name: fn() for name, fn in runs.items()}  # warm-up
    same = (graphs["symmetric"] != 0).astype(int) - (graphs["one_sided"] != 0).astype(int)
    times = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    ratios = [a / b for a, b in zip(times["symmetric"], times["one_sided"])]
    out = {"benchmark": "exact_search", "args": vars(args), "machine": machine(), "times": times,
           "symmetric_median_s": float(np.median(times["symmetric"])),
           "one_sided_median_s": float(np.median(times["one_sided"])),
           "median_ratio_symmetric_over_one_sided": float(np.median(ratios)),
           "edges_differing": int(abs(same).sum()), "edges": int(graphs["symmetric"].nnz)}
    print({k: v for k, v in out.items() if k not in ("machine", "times")})
    print(f"wrote {write_json('exact_search.json', out)}")


if __name__ == "__main__":
    main()
