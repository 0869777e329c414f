"""The corpus graph at scale on real embeddings: recall@10, time and peak memory at 100k and 1M rows.

The rows are all-MiniLM-L6-v2 embeddings (the estimator's default encoder,
mean pooling, max_length 128, fp32) of the five benchmark corpora stacked
(every train and test document of MR, R8, R52, Ohsumed and 20NG) and, for
size, of their sentences: each text is split at sentence ends and line
breaks, and each sentence cut into windows of at most 8 words (windows of
fewer than 3 words are dropped; R8 and R52 have no punctuation left, so
their windows run across sentences). Duplicate strings are dropped; a seeded
permutation (seed 0) picks 1,000,000 rows, and its first 100,000 are the
100k set (so the sets are nested).

Two stages:

``embed``
    Embeds the 1M rows in chunks of 50,000, each saved to the cache folder
    as soon as it is done, so a stopped run resumes where it stopped (about
    55 minutes alone on 2 CPU cores).
``measure``
    For each size and each setting, in a fresh process, runs a corpus-graph
    refresh as a fit does (the steps of :func:`skgloss.graph.knn_graph`,
    timed apart, then label spreading) and reports its wall time, the
    process's peak resident memory above what it held before, and recall@10
    of every node's neighbour list against exact search for ``--n-queries``
    random rows (brute force in float32). Recall counts a found neighbour
    whose true cosine similarity reaches the 10th best's (less 1e-6) as
    correct, so exact ties cannot lower it.

Usage::

    python benchmarks/knn_real.py embed [--cache DIR]
    python benchmarks/knn_real.py measure [--sizes 100000 1000000] [--cache DIR]

Writes benchmarks/results/knn_real.json (the cache holds 1.5 GB of
embeddings and is not committed).
"""

import argparse
import gzip
import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
from _common import HERE, data_home, machine, write_cell

DATASETS = ("mr", "r8", "r52", "ohsumed", "20ng")
N_ROWS = 1_000_000
CHUNK = 50_000
WINDOW = 8
MIN_WORDS = 3
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def documents(root):
    """(corpus index, text) of every train and test document of the five corpora."""
    for source, name in enumerate(DATASETS):
        for split in ("train", "test"):
            with gzip.open(Path(root) / name / f"{split}.jsonl.gz", "rt", encoding="utf-8") as f:
                for line in f:
                    yield source, json.loads(line)["text"]


def windows(text):
    """The text's sentences, cut into windows of at most ``WINDOW`` words (at least ``MIN_WORDS``)."""
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        for i in range(0, len(words), WINDOW):
            piece = words[i:i + WINDOW]
            if len(piece) >= MIN_WORDS:
                yield " ".join(piece)


def corpus_rows(root, n_rows=N_ROWS, seed=0):
    """The benchmark's rows: documents and sentence windows, deduplicated, ``n_rows`` of them in seeded order.

    Returns the rows, the corpus each row first came from (an index into
    ``DATASETS``), and how many distinct rows there were to pick from.
    """
    pool = {}
    for source, doc in documents(root):
        pool.setdefault(doc, source)
        for piece in windows(doc):
            pool.setdefault(piece, source)
    texts = list(pool)
    if len(texts) < n_rows:
        raise ValueError(f"only {len(texts)} distinct rows, fewer than {n_rows}")
    order = np.random.default_rng(seed).permutation(len(texts))[:n_rows]
    rows = [texts[i] for i in order]
    return rows, np.array([pool[r] for r in rows], dtype=np.int64), len(texts)


def fingerprint(rows):
    h = hashlib.sha256()
    for r in rows:
        h.update(r.encode("utf-8") + b"\0")
    return h.hexdigest()


def default_cache():
    return HERE / ".cache" / "knn_real"


def embed(args):
    from skgloss._params import DEFAULT_MODEL
    from skgloss.encoder import embed_texts, load_encoder

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    rows, _, pool_size = corpus_rows(args.data)
    manifest = {"n_rows": len(rows), "pool_size": pool_size, "sha256": fingerprint(rows), "chunk": CHUNK,
                "model": DEFAULT_MODEL, "pooling": "mean", "max_length": 128, "precision": "fp32",
                "window_words": WINDOW, "min_words": MIN_WORDS, "seed": 0, "machine": machine()}
    manifest_path = cache / "manifest.json"
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        if old["sha256"] != manifest["sha256"]:
            raise SystemExit(f"{cache} holds embeddings of other rows; remove it or pass another --cache")
        manifest["chunk_seconds"] = old.get("chunk_seconds", {})
    else:
        manifest["chunk_seconds"] = {}
    write_cell(manifest_path, manifest)
    model, tokenizer = load_encoder(DEFAULT_MODEL)
    for i, start in enumerate(range(0, len(rows), CHUNK)):
        path = cache / f"chunk_{i:03d}.npy"
        if path.exists():
            continue
        t0 = time.perf_counter()
        emb = embed_texts(model, tokenizer, rows[start:start + CHUNK], pooling="mean", max_length=128,
                          batch_size=64, device=args.device)
        seconds = time.perf_counter() - t0
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, emb)
        tmp.replace(path)
        manifest["chunk_seconds"][str(i)] = seconds
        write_cell(manifest_path, manifest)
        print(f"chunk {i}: {len(emb)} rows in {seconds:.0f} s", flush=True)


#: The searches compared: the library's default and PyNNDescent with longer build lists or more candidates.
SETTINGS = {
    "exact": {"backend": "exact"},
    "pynndescent": {"backend": "pynndescent"},
    "pynndescent-build30": {"backend": "pynndescent", "build_k": 30},
    "pynndescent-build40": {"backend": "pynndescent", "build_k": 40},
    "pynndescent-build30-cand60": {"backend": "pynndescent", "build_k": 30, "max_candidates": 60},
}
K = 10


def load_embeddings(cache, n):
    """The first ``n`` rows of the cached embeddings (float32)."""
    cache = Path(cache)
    manifest = json.loads((cache / "manifest.json").read_text())
    chunks = -(-n // manifest["chunk"])
    missing = [i for i in range(chunks) if not (cache / f"chunk_{i:03d}.npy").exists()]
    if missing:
        raise SystemExit(f"chunks {missing} of {cache} are not embedded yet: run the embed stage first")
    X = np.empty((n, 384), dtype=np.float32)
    for i in range(chunks):
        part = np.load(cache / f"chunk_{i:03d}.npy", mmap_mode="r")
        start = i * manifest["chunk"]
        X[start:min(n, start + len(part))] = part[:n - start]
    return X


def true_neighbours(Z, queries, k=K):
    """Exact k nearest other rows of each query row (float32, 64 queries at a time): indices and similarities."""
    import torch

    Zt = torch.from_numpy(Z)
    idx, sim = [], []
    for start in range(0, len(queries), 64):
        q = torch.from_numpy(queries[start:start + 64])
        S = Zt[q] @ Zt.T
        S[torch.arange(len(q)), q] = -np.inf
        values, where = torch.topk(S, k, dim=1)
        idx.append(where.numpy())
        sim.append(values.numpy())
    return np.vstack(idx), np.vstack(sim)


def recalls(Z, queries, found, truth_idx, truth_sim):
    """Set recall@k, and recall@k counting any found row as good as the k-th true neighbour (ties)."""
    k = truth_idx.shape[1]
    by_set = np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth_idx)])
    found_sim = np.einsum("qd,qkd->qk", Z[queries], Z[found])
    by_similarity = np.mean(np.sum(found_sim >= truth_sim[:, -1:] - 1e-6, axis=1) / k)
    return float(by_set), float(by_similarity)


def _memory_kb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def build(args):
    """One graph build in this (fresh) process; prints its record as the last line of JSON."""
    from skgloss import graph
    from skgloss.propagation import label_spreading

    setting = SETTINGS[args.setting]
    options = {k: v for k, v in setting.items() if k != "backend"}
    warmup_s = 0.0
    if setting["backend"] == "pynndescent":  # numba compilation, paid once per process, outside the timing
        t0 = time.perf_counter()
        warm = np.random.default_rng(1).normal(size=(2000, 384)).astype(np.float32)
        graph._pynndescent_neighbors(graph._unit_rows(warm), K, 0, None, **options)
        warmup_s = time.perf_counter() - t0
    X = load_embeddings(args.cache, args.n)
    truth = np.load(Path(args.cache) / f"truth_{args.n}.npz")
    sigma = graph.sqrt_sigma_heuristic(X, random_state=0)
    y = np.where(np.random.default_rng(2).random(args.n) < 0.1, np.load(Path(args.cache) / "sources.npy")[:args.n],
                 -1)
    with open("/proc/self/clear_refs", "w") as f:  # reset the peak-memory mark to what is held now
        f.write("5")
    held_kb = _memory_kb("VmRSS")
    t0 = time.perf_counter()
    Z = graph._unit_rows(X)
    if setting["backend"] == "exact":
        idx, sim = graph._exact_self_search(Z, K)
    else:
        idx, sim = graph._pynndescent_neighbors(Z, K, 0, None, **options)
    t1 = time.perf_counter()
    W = graph._symmetric_graph(idx, sim, sigma)
    t2 = time.perf_counter()
    F = label_spreading(W, y, alpha=0.2, n_classes=len(DATASETS))
    t3 = time.perf_counter()
    peak_kb = _memory_kb("VmHWM")
    by_set, by_similarity = recalls(Z, truth["queries"], idx[truth["queries"]], truth["idx"], truth["sim"])
    if setting["backend"] == "pynndescent":  # the list length NN-descent built, the library's default if not set
        setting = {**setting, "build_k": options.get("build_k") or graph._BUILD_FACTOR * K}
    record = {"n": args.n, "setting": args.setting, **setting, "k": K, "search_s": t1 - t0, "graph_s": t2 - t1,
              "spreading_s": t3 - t2, "refresh_s": t3 - t0, "held_gb": held_kb / 2**20,
              "peak_extra_gb": (peak_kb - held_kb) / 2**20, "recall": by_set, "recall_ties": by_similarity,
              "edges": int(W.nnz), "sigma": float(sigma), "F_rows": int(F.shape[0]), "warmup_s": warmup_s}
    print(json.dumps(record))


def measure(args):
    import subprocess
    import sys

    import torch

    cache = Path(args.cache)
    out = HERE / "results" / "knn_real.json"
    done = json.loads(out.read_text()) if out.exists() else {"results": []}
    asked = {(n, s) for n in args.sizes for s in args.settings}
    results = [r for r in done["results"] if not (args.redo and (r["n"], r["setting"]) in asked)]
    if not (cache / "sources.npy").exists():
        np.save(cache / "sources.npy", corpus_rows(args.data)[1])
    for n in args.sizes:
        truth_path = cache / f"truth_{n}.npz"
        if not truth_path.exists():
            from skgloss.graph import _unit_rows

            Z = _unit_rows(load_embeddings(cache, n))
            queries = np.sort(np.random.default_rng(1).choice(n, args.n_queries, replace=False))
            t0 = time.perf_counter()
            idx, sim = true_neighbours(Z, queries)
            print(f"n={n}: exact neighbours of {args.n_queries} queries in {time.perf_counter() - t0:.0f} s",
                  flush=True)
            np.savez(truth_path, queries=queries, idx=idx, sim=sim)
            Z = None
        for name in args.settings:
            if any(r["n"] == n and r["setting"] == name for r in results):
                continue
            if name == "exact" and n > args.exact_max:
                continue
            proc = subprocess.run([sys.executable, __file__, "build", "--n", str(n), "--setting", name,
                                   "--cache", str(cache)], capture_output=True, text=True)
            if proc.returncode:
                raise SystemExit(f"n={n} {name} failed:\n{proc.stderr[-3000:]}")
            record = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(record)
            print(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()),
                  flush=True)
            manifest = json.loads((cache / "manifest.json").read_text())
            write_cell(out, {"benchmark": "knn_real", "args": {"sizes": args.sizes, "n_queries": args.n_queries},
                             "rows": {k: manifest[k] for k in ("n_rows", "pool_size", "sha256", "model", "pooling",
                                                               "max_length", "precision", "window_words",
                                                               "min_words", "seed")},
                             "embedding_seconds": sum(manifest["chunk_seconds"].values()),
                             "machine": machine(), "torch_threads": torch.get_num_threads(),
                             "results": sorted(results, key=lambda r: (r["n"], r["setting"]))})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("stage", choices=["embed", "measure", "build"])
    p.add_argument("--cache", default=str(default_cache()))
    p.add_argument("--data", default=data_home())
    p.add_argument("--device", default="cpu")
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, N_ROWS])
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--n-queries", type=int, default=2000)
    p.add_argument("--exact-max", type=int, default=100_000, help="the exact search runs up to this many rows")
    p.add_argument("--redo", action="store_true", help="measure again the cells asked for (else they are kept)")
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--setting", choices=list(SETTINGS), help=argparse.SUPPRESS)
    args = p.parse_args()
    {"embed": embed, "measure": measure, "build": build}[args.stage](args)


if __name__ == "__main__":
    main()
