"""The starting point of a semi-supervised fit, on development texts: which inference, which graph.

A fit with ``-1`` rows starts from label spreading on the pre-trained
encoder (:mod:`skgloss.corpus`); that starting point competes in model
selection, so it is the floor of what such a fit ships. This study scores it
on the pre-trained (frozen) encoder, no fine-tuning, in the label-scarcity
protocol of ``benchmarks/sweep.py --fraction F``: the pool is 2,000 training
texts (stratified, seed 0) of which a stratified fraction keeps its label
(seeded per seed); ``--n-dev`` development texts come from the training texts
outside the pool (seed 1). The test sets are never read.

Scored on the development texts (accuracy), all on the same normalised,
mean-pooled all-MiniLM-L6-v2 embeddings (max_length 64):

- ``lr-frozen``: scikit-learn ``LogisticRegression`` on the labeled rows;
- ``labelspreading-frozen``: scikit-learn ``LabelSpreading`` (kNN kernel,
  k = 10, alpha = 0.2, max_iter 100), as in ``benchmarks/label_scarcity.py``;
- ``start-head``, ``start-graph``, ``start-blend``: what a skgloss fit's
  starting point predicts with each ``inference``: the corpus graph
  (k = 10, the σ heuristic, :func:`skgloss.propagation.label_spreading` with
  alpha 0.2), the closed-form head (:func:`skgloss.head.fit_linear_head` on
  the labeled rows and the confident pseudo-labeled rows, threshold 0.9,
  each group weighing the same, as the fit's refit), and their mean;
- ``start-head[labeled only]``, ``start-blend[labeled-only head]``: the same
  with a head fitted on the labeled rows alone (what ``lr-frozen`` fits, with
  the fit's solver), so that the graph's opinion enters the blend once
  instead of twice (through the pseudo-labels and through the graph);
- ``graph[...]``: graph inference with another corpus-graph setting (cosine
  edge weights instead of the Gaussian kernel, alpha 0.5 or 0.9, k = 5 or
  20), with the number and accuracy of the pseudo-labels it would give.

Writes ``benchmarks/results/semi_supervised_start.json`` and ``.md``.

Usage: python benchmarks/semi_supervised_start.py [--datasets r8 mr] [--seeds 0 1 2]
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS, data_home, machine  # noqa: E402
from sweep import splits  # noqa: E402

from skgloss.bench import subset  # noqa: E402

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
FRACTIONS = (0.01, 0.05, 0.1, 0.2)
#: (name, k, kernel, alpha) of the corpus-graph settings compared; the first is the estimator's default.
GRAPHS = (("graph[default: k=10, gaussian, alpha=0.2]", 10, "gaussian", 0.2),
          ("graph[cosine weights]", 10, "cosine", 0.2),
          ("graph[alpha=0.5]", 10, "gaussian", 0.5), ("graph[alpha=0.9]", 10, "gaussian", 0.9),
          ("graph[k=5]", 5, "gaussian", 0.2), ("graph[k=20]", 20, "gaussian", 0.2))
THRESHOLD = 0.9


def embed(texts):
    import torch

    from skgloss.encoder import embed_texts, load_encoder, resolve_model_path

    enc, tok = load_encoder(resolve_model_path(MODEL))
    E = embed_texts(enc, tok, texts, pooling="mean", max_length=64, batch_size=64, device=torch.device("cpu"))
    return E / np.linalg.norm(E, axis=1, keepdims=True)


def closed_form_head(E, codes, F, n_classes, with_pseudo=True):
    """The fit's refit head on the starting point: labeled rows + confident pseudo-labeled rows, F as targets
    (``with_pseudo=False``: the labeled rows alone)."""
    import torch

    from skgloss.head import fit_linear_head

    labeled = codes >= 0
    pseudo = ~labeled & (F.max(axis=1) >= THRESHOLD) & with_pseudo
    rows = np.r_[np.flatnonzero(labeled), np.flatnonzero(pseudo)]
    targets = np.r_[np.eye(n_classes)[codes[labeled]], F[pseudo]]
    weights = np.r_[np.full(labeled.sum(), 1.0 / labeled.sum()), np.full(pseudo.sum(), 1.0 / max(pseudo.sum(), 1))]
    head = fit_linear_head(torch.nn.Linear(E.shape[1], n_classes), E[rows], targets,
                           sample_weight=weights * labeled.sum())
    return head


def run_dataset(dataset, seeds, n_dev):
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import LabelSpreading

    from skgloss.datasets import load_benchmark
    from skgloss.graph import NeighborIndex, edge_weights, knn_graph, sqrt_sigma_heuristic
    from skgloss.inference import softmax
    from skgloss.propagation import label_spreading, neighbour_average

    args = SimpleNamespace(data_home=data_home(), shots=0, unlabeled=0, fraction=FRACTIONS[0], pool=2000, n_dev=n_dev)
    X, _, Xd, yd = splits(dataset, seeds[0], args)  # the pool and the development texts do not depend on the seed
    t0 = time.perf_counter()
    E, Ed = embed(X), embed(Xd)
    embed_s = time.perf_counter() - t0
    _, y_all, _, _ = load_benchmark(dataset, data_home=args.data_home)
    truth = np.asarray(y_all, dtype=object)[subset(y_all, args.pool, seed=0)].astype(str)
    classes = np.array(sorted(set(truth)))
    dev = np.searchsorted(classes, yd.astype(str))
    sigma = sqrt_sigma_heuristic(E, random_state=0)
    index = NeighborIndex(E, backend="exact")
    graphs = {}
    for name, k, kernel, alpha in GRAPHS:
        s = sigma if kernel == "gaussian" else None
        idx, sim = index.query(Ed, k)
        graphs[name] = (knn_graph(E, k, sigma=s), alpha, idx, edge_weights(sim, s))
    cells = []
    for fraction in FRACTIONS:
        for seed in seeds:
            args.fraction = fraction
            _, y_fit, _, _ = splits(dataset, seed, args)
            codes = np.array([-1 if v == -1 else int(np.searchsorted(classes, str(v))) for v in y_fit])
            unl = codes < 0
            acc = {}
            lr = LogisticRegression(max_iter=1000).fit(E[~unl], codes[~unl])
            acc["lr-frozen"] = float(np.mean(lr.predict(Ed) == dev))
            ls = LabelSpreading(kernel="knn", n_neighbors=10, alpha=0.2, max_iter=100).fit(E, codes)
            acc["labelspreading-frozen"] = float(np.mean(ls.predict(Ed) == dev))
            pseudo = {}
            for name, k, _, alpha in GRAPHS:
                G, alpha, idx, w = graphs[name]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # alpha=0.9 may stop at max_iter; the result is still scored
                    F = label_spreading(G, codes, alpha=alpha, max_iter=30 if alpha <= 0.5 else 1000,
                                        n_classes=len(classes))
                Q, _ = neighbour_average(idx, w, F)
                acc[name] = float(np.mean(Q.argmax(axis=1) == dev))
                confident = unl & (F.max(axis=1) >= THRESHOLD)
                pseudo[name] = {"n": int(confident.sum()), "accuracy": float(np.mean(
                    F[confident].argmax(axis=1) == np.searchsorted(classes, truth[confident]))) if confident.any()
                    else None}
                if name == GRAPHS[0][0]:
                    head = closed_form_head(E, codes, F, len(classes))
                    H = softmax(Ed @ head.weight.detach().numpy().T + head.bias.detach().numpy())
                    acc["start-head"] = float(np.mean(H.argmax(axis=1) == dev))
                    acc["start-graph"] = acc[name]
                    acc["start-blend"] = float(np.mean((0.5 * H + 0.5 * Q).argmax(axis=1) == dev))
                    head = closed_form_head(E, codes, F, len(classes), with_pseudo=False)
                    H = softmax(Ed @ head.weight.detach().numpy().T + head.bias.detach().numpy())
                    acc["start-head[labeled only]"] = float(np.mean(H.argmax(axis=1) == dev))
                    acc["start-blend[labeled-only head]"] = float(np.mean((0.5 * H + 0.5 * Q).argmax(axis=1) == dev))
            cells.append({"dataset": dataset, "fraction": fraction, "seed": seed, "n_labeled": int((~unl).sum()),
                          "dev_accuracy": acc, "pseudo_labels": pseudo})
            print(dataset, fraction, seed, {k: round(100 * v, 1) for k, v in acc.items()}, flush=True)
    return {"dataset": dataset, "n_pool": args.pool, "n_dev": len(Xd), "sigma": sigma, "embed_seconds": embed_s,
            "cells": cells}


def render(result):
    lines = ["# The starting point of a semi-supervised fit (development texts)", "",
             "Accuracy (%) on development texts, mean over seeds "
             f"{sorted({c['seed'] for d in result['datasets'] for c in d['cells']})}, frozen all-MiniLM-L6-v2, pool "
             "of 2,000 training texts with a fraction of the labels kept. `benchmarks/semi_supervised_start.py`; "
             f"machine: {result['machine']['cpu_count']} cores, {result['machine']['platform']}, commit "
             f"{result['machine']['git_commit']}.", ""]
    for d in result["datasets"]:
        methods = list(d["cells"][0]["dev_accuracy"])
        lines += [f"## {d['dataset']} ({d['n_dev']} development texts)", "",
                  "| method | " + " | ".join(f"{100 * f:g} %" for f in FRACTIONS) + " |",
                  "|---|" + "---:|" * len(FRACTIONS)]
        for m in methods:
            row = []
            for f in FRACTIONS:
                v = [100 * c["dev_accuracy"][m] for c in d["cells"] if c["fraction"] == f]
                row.append(f"{np.mean(v):.2f} ± {np.std(v, ddof=1):.2f}" if len(v) > 1 else f"{v[0]:.2f}")
            lines.append(f"| `{m}` | " + " | ".join(row) + " |")
        lines += ["", "Pseudo-labels of the default graph (`-1` rows with max F ≥ 0.9): "
                  + "; ".join(f"{100 * f:g} %: " + ", ".join(
                      f"{c['pseudo_labels'][GRAPHS[0][0]]['n']} at "
                      f"{100 * (c['pseudo_labels'][GRAPHS[0][0]]['accuracy'] or 0):.1f} %"
                      for c in d["cells"] if c["fraction"] == f) for f in FRACTIONS), ""]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["r8", "mr"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--n-dev", type=int, default=500)
    args = p.parse_args(argv)
    result = {"model": MODEL, "max_length": 64, "seeds": args.seeds, "machine": machine(),
              "datasets": [run_dataset(d, args.seeds, args.n_dev) for d in args.datasets]}
    (RESULTS / "semi_supervised_start.json").write_text(json.dumps(result, indent=1))
    (RESULTS / "semi_supervised_start.md").write_text(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
