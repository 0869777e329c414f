"""How often are the corpus graph's pseudo-labels right? (development texts; a diagnostic)

In a fit with ``-1`` rows, an unlabeled row whose label-spreading distribution
``F_i`` has ``max_c F_ic >= pseudo_label_threshold`` (0.9) trains on ``F_i``
as a soft target (:doc:`method`, corpus graph). This script measures, before
any fine-tuning, how many ``-1`` rows get a pseudo-label and how often its
``argmax`` is the row's true label, in the semi-supervised development
regimes of ``benchmarks/sweep.py``: few shots (``--shots K`` labeled texts
per class with 1,000 texts marked ``-1``) and label scarcity (a fraction of
a 2,000-text pool labeled). The graph is the estimator's first corpus graph:
all-MiniLM-L6-v2, mean pooling, max_length 64 (float32 embeddings), the
kNN graph with k = 10 and the "sqrt" kernel width
(:func:`skgloss.knn_graph`, :func:`skgloss.sqrt_sigma_heuristic`), label
spreading with α = 0.2 (:func:`skgloss.label_spreading`).

It also reports what a fit could know without the true labels of the ``-1``
rows: hide each of 3 stratified folds of the labeled rows in turn (2 when a
class has only 2), spread the other labels over the same graph, and count
the hidden rows whose distribution passes the threshold and how many of
those are right.

One JSON per (dataset, regime, seed) under ``benchmarks/results/runs/pseudo_labels/``;
``--render`` writes ``benchmarks/results/pseudo_labels.md``.

Usage::

    python benchmarks/pseudo_labels.py --datasets mr r8 --seeds 0 1 2
    python benchmarks/pseudo_labels.py --render
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS, data_home, machine, write_cell  # noqa: E402
from sweep import splits  # noqa: E402

RUNS = RESULTS / "runs" / "pseudo_labels"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MAX_LENGTH = 64
THRESHOLD = 0.9
K, ALPHA = 10, 0.2
#: (shots, unlabeled, fraction): the few-shot and label-scarcity regimes of the development sweep.
REGIMES = ((32, 1000, None), (8, 1000, None), (None, 0, 0.05), (None, 0, 0.1), (None, 0, 0.2))


def regime_name(shots, unlabeled, fraction):
    return f"{shots}shot-unl{unlabeled}" if shots else f"frac{fraction:g}-pool2000"


def run_cell(dataset, shots, unlabeled, fraction, seed, data, encoder, tokenizer):
    import torch
    from sklearn.model_selection import StratifiedKFold

    from skgloss import knn_graph, label_spreading, sqrt_sigma_heuristic
    from skgloss.datasets import load_benchmark
    from skgloss.encoder import embed_texts

    args = argparse.Namespace(shots=shots, unlabeled=unlabeled, fraction=fraction, pool=2000, n_dev=500,
                              data_home=data)
    X, y, _, _ = splits(dataset, seed, args)
    texts, labels, _, _ = load_benchmark(dataset, data_home=data)
    truth_of = dict(zip(texts, np.asarray(labels, dtype=object)))
    truth = np.array([truth_of[t] for t in X], dtype=object)
    y = np.asarray(y, dtype=object)
    labeled = np.flatnonzero(y != -1)
    classes = np.array(sorted(set(y[labeled])), dtype=object)
    y_idx = np.full(len(y), -1)
    y_idx[labeled] = np.searchsorted(classes, y[labeled])
    t0 = time.perf_counter()
    E = embed_texts(encoder, tokenizer, X, pooling="mean", max_length=MAX_LENGTH, batch_size=64,
                    device=torch.device("cpu"))
    sigma = sqrt_sigma_heuristic(E, random_state=seed)
    graph = knn_graph(E, K, sigma=sigma, random_state=seed)
    F = label_spreading(graph, y_idx, alpha=ALPHA, n_classes=len(classes))
    unl = y_idx == -1
    pseudo = unl & (F.max(axis=1) >= THRESHOLD)
    known = np.isin(truth, classes)  # a -1 row of a class with no labeled row can never be right
    right = pseudo & known
    right[right] = classes[F[right].argmax(axis=1)] == truth[right]
    counts = np.bincount(y_idx[labeled])
    n_folds = int(max(2, min(3, counts[counts > 0].min())))
    held_confident = held_right = 0
    for _, fold in StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(labeled, y_idx[labeled]):
        rows = labeled[fold]
        hidden = y_idx.copy()
        hidden[rows] = -1
        F_fold = label_spreading(graph, hidden, alpha=ALPHA, n_classes=len(classes))[rows]
        confident = F_fold.max(axis=1) >= THRESHOLD
        held_confident += int(confident.sum())
        held_right += int(np.sum(F_fold[confident].argmax(axis=1) == y_idx[rows][confident]))
    return {"dataset": dataset, "regime": regime_name(shots, unlabeled, fraction), "shots": shots,
            "unlabeled": int(unl.sum()), "fraction": fraction, "seed": seed, "n_labeled": int(len(labeled)),
            "threshold": THRESHOLD, "n_neighbors": K, "alpha": ALPHA, "sigma": float(sigma),
            "pseudo_labeled": int(pseudo.sum()), "pseudo_right": int(right.sum()),
            "spread_accuracy_unlabeled": float(np.mean(classes[F[unl].argmax(axis=1)] == truth[unl])),
            "held_out_folds": n_folds, "held_out_confident": held_confident, "held_out_right": held_right,
            "seconds": time.perf_counter() - t0, "machine": machine()}


def cell_path(dataset, regime, seed):
    return RUNS / f"{dataset}__{regime}__seed{seed}.json"


def render():
    records = [json.loads(p.read_text()) for p in sorted(RUNS.glob("*.json"))]
    lines = ["# Pseudo-labels of the first corpus graph: how often they are right (development regimes)", "",
             "Before any fine-tuning: all-MiniLM-L6-v2 (float32), k = 10, the sqrt kernel width, label spreading "
             "with α = 0.2, threshold 0.9 (the estimator's defaults). *Pseudo-labeled*: `-1` rows whose "
             "distribution passes the threshold (mean count); *right*: the share of them whose argmax is the true "
             "label (pooled over seeds, then the per-seed values); *spread accuracy*: the argmax of every `-1` "
             "row; *held-out estimate*: labeled rows hidden a fold at a time, those passing the threshold, and "
             "the share of them right (what a fit can know without the `-1` rows' labels). Rendered by "
             "`python benchmarks/pseudo_labels.py --render` from `benchmarks/results/runs/pseudo_labels/`.", "",
             "| dataset | regime | labeled | `-1` rows | seeds | pseudo-labeled | right, % | spread accuracy, % "
             "| held-out estimate: confident / hidden | right, % |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    cells = {}
    for r in records:
        cells.setdefault((r["dataset"], r["regime"]), []).append(r)

    def order(key):
        rs = cells[key]
        return key[0], rs[0]["n_labeled"]

    for key in sorted(cells, key=order):
        rs = sorted(cells[key], key=lambda r: r["seed"])
        pooled = 100 * sum(r["pseudo_right"] for r in rs) / max(sum(r["pseudo_labeled"] for r in rs), 1)
        per_seed = ", ".join(f"{100 * r['pseudo_right'] / max(r['pseudo_labeled'], 1):.1f}" for r in rs)
        held = sum(r["held_out_confident"] for r in rs)
        held_pct = 100 * sum(r["held_out_right"] for r in rs) / max(held, 1)
        held_seed = ", ".join(f"{100 * r['held_out_right'] / max(r['held_out_confident'], 1):.1f}" for r in rs)
        lines.append(
            f"| {key[0]} | {key[1]} | {rs[0]['n_labeled']} | {rs[0]['unlabeled']} | "
            f"{', '.join(str(r['seed']) for r in rs)} | {np.mean([r['pseudo_labeled'] for r in rs]):.0f} | "
            f"{pooled:.1f} ({per_seed}) | {100 * np.mean([r['spread_accuracy_unlabeled'] for r in rs]):.1f} | "
            f"{held} / {sum(r['n_labeled'] for r in rs)} | {held_pct:.1f} ({held_seed}) |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "pseudo_labels.md").write_text(text)
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mr", "r8"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--data-home", default=data_home())
    p.add_argument("--render", action="store_true")
    args = p.parse_args(argv)
    if not args.render:
        from skgloss.encoder import load_encoder

        encoder, tokenizer = load_encoder(MODEL)
        for dataset in args.datasets:
            for shots, unlabeled, fraction in REGIMES:
                for seed in args.seeds:
                    path = cell_path(dataset, regime_name(shots, unlabeled, fraction), seed)
                    if path.is_file():
                        continue
                    record = run_cell(dataset, shots, unlabeled, fraction, seed, args.data_home, encoder, tokenizer)
                    write_cell(path, record)
                    print(f"{dataset} {record['regime']} seed {seed}: {record['pseudo_labeled']} pseudo-labels, "
                          f"{record['pseudo_right']} right; held out {record['held_out_right']}/"
                          f"{record['held_out_confident']}", flush=True)
    print(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
