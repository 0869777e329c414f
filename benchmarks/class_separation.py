"""Few shots: how far the pre-trained encoder puts the labeled classes apart, per dataset.

A fully labeled fit with too few labeled rows to hold out measures, before
anything else, :func:`skgloss.training.class_separation` of its labeled rows
on the pre-trained encoder (a standardized difference between the cosine
similarity of two texts of one class and of two texts of different classes),
and below ``0.35`` trains a schedule of at least 128 optimizer steps to its
end instead of cross-validating the number of epochs
(``skgloss.classifier._MIN_CLASS_SEPARATION``). This script measures that
number on the few-shot draws of the five benchmark datasets, beside two
signals that were considered and not used, both computed on the same rows:

- ``kappa``: chance-corrected out-of-fold accuracy of logistic regression
  (scikit-learn defaults, 3 stratified folds, classes with 3 or more rows),
  ``(accuracy - 1/K) / (1 - 1/K)``;
- ``silhouette``: scikit-learn's ``silhouette_score`` with cosine distance.

Both fall with the number of classes at a fixed number of labeled texts per
class, so they put 20NG (20 topics, where the cross-validated choice is the
better one) beside MR (sentiment, where the step budget is).

Draws: ``shots`` labeled training texts per class with
``numpy.random.default_rng(seed)``, classes in sorted order, as
``benchmarks/sweep.py`` draws them (the same rows for MR, R8 and 20NG); a
class with fewer training texts than ``shots`` (R52, Ohsumed) gives all of
them. all-MiniLM-L6-v2 (offline package), mean pooling, max_length 64, fp32
on the CPU (a fit embeds at its own precision: bf16 on this machine).

The same ``d`` is measured on the label-scarcity study's draws
(``benchmarks/label_scarcity.py``: a 2,000-text pool of MR and R8 with 1, 5,
10 and 20 % of its labels kept, seeds 0-2), where a fit with ``-1`` rows on
the cross-validated path sets those rows aside below the same threshold
(``--scarcity``; kappa and silhouette are not computed there).

Usage::

    python benchmarks/class_separation.py                 # measure and render (about 3 minutes)
    python benchmarks/class_separation.py --scarcity      # the label-scarcity draws only (about 2 minutes)
    python benchmarks/class_separation.py --render        # render the committed results only

Writes ``benchmarks/results/class_separation.json`` and ``.md``.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS, data_home, machine  # noqa: E402

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MAX_LENGTH = 64
#: (dataset, labeled texts per class, seeds)
CELLS = (("mr", 8, range(10)), ("mr", 32, range(10)), ("r8", 8, range(10)), ("r8", 32, range(10)),
         ("20ng", 8, range(3)), ("20ng", 32, range(3)), ("ohsumed", 8, range(3)), ("r52", 8, range(3)))
#: The label-scarcity study's fractions of the pool that keep their labels.
SCARCITY_FRACTIONS = (0.01, 0.05, 0.1, 0.2)
JSON = RESULTS / "class_separation.json"
OUT = RESULTS / "class_separation.md"


def draw(labels, shots, seed):
    """Row indices of ``shots`` labeled texts per class (all of a smaller class)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(labels == c), min(shots, int(np.sum(labels == c))),
                                      replace=False) for c in sorted(set(labels))])


def kappa(embeddings, y, seed):
    """Chance-corrected out-of-fold accuracy of logistic regression (classes with 3 or more rows)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    keep = np.isin(y, [c for c in np.unique(y) if np.sum(y == c) >= 3])
    e, y = embeddings[keep], y[keep]
    right = np.zeros(len(y), bool)
    for train, test in StratifiedKFold(3, shuffle=True, random_state=seed).split(e, y):
        right[test] = LogisticRegression(max_iter=1000).fit(e[train], y[train]).predict(e[test]) == y[test]
    k = len(np.unique(y))
    return float((right.mean() - 1 / k) / (1 - 1 / k))


def measure(cells=CELLS):
    import torch
    from sklearn.metrics import silhouette_score

    from skgloss.datasets import load_benchmark
    from skgloss.encoder import embed_texts, load_encoder
    from skgloss.training import class_separation

    enc, tok = load_encoder(MODEL)
    records = []
    for dataset, shots, seeds in cells:
        X, y, _, _ = load_benchmark(dataset, data_home=data_home())
        labels = np.asarray(y, dtype=object)
        for seed in seeds:
            rows = draw(labels, shots, seed)
            e = embed_texts(enc, tok, [X[i] for i in rows], pooling="mean", max_length=MAX_LENGTH, batch_size=64,
                            device=torch.device("cpu"))
            codes = np.unique(labels[rows].astype(str), return_inverse=True)[1]
            record = {"dataset": dataset, "shots": shots, "seed": seed, "n_rows": len(rows),
                      "n_classes": int(codes.max() + 1), "class_separation": class_separation(e, codes),
                      "kappa": kappa(e, codes, seed), "silhouette": float(silhouette_score(e, codes, metric="cosine"))}
            records.append(record)
            print(json.dumps(record), flush=True)
    kept = {k: v for k, v in (json.loads(JSON.read_text()) if JSON.exists() else {}).items()
            if k.startswith("scarcity_")}  # the label-scarcity draws' records stay
    JSON.write_text(json.dumps({"model": MODEL, "max_length": MAX_LENGTH, "records": records,
                                "machine": machine(), **kept}, indent=1) + "\n")


def measure_scarcity():
    """``d`` of the labeled rows of every label-scarcity draw, added to the committed JSON."""
    import torch

    from label_scarcity import load_split
    from skgloss.encoder import embed_texts, load_encoder
    from skgloss.training import class_separation

    enc, tok = load_encoder(MODEL)
    records = []
    for dataset in ("mr", "r8"):
        for fraction in SCARCITY_FRACTIONS:
            for seed in range(3):
                X, y, _, _, labeled = load_split({"dataset": dataset, "data_home": data_home(), "verify": False,
                                                  "n_pool": 2000, "n_test": 1000, "fraction": fraction,
                                                  "seed": seed})
                e = embed_texts(enc, tok, [X[i] for i in labeled], pooling="mean", max_length=MAX_LENGTH,
                                batch_size=64, device=torch.device("cpu"))
                codes = np.unique(y[labeled].astype(str), return_inverse=True)[1]
                counts = np.bincount(codes)
                record = {"dataset": dataset, "fraction": fraction, "seed": seed, "n_rows": len(labeled),
                          "n_classes": int(codes.max() + 1), "smallest_class": int(counts.min()),
                          "class_separation": class_separation(e, codes)}
                records.append(record)
                print(json.dumps(record), flush=True)
    data = json.loads(JSON.read_text())
    data["scarcity_records"] = records
    data["scarcity_machine"] = machine()
    JSON.write_text(json.dumps(data, indent=1) + "\n")


def load(key="records", by=("dataset", "shots")):
    """``{(dataset, shots): [record, ...]}`` of the committed results (``key``: which list)."""
    cells = {}
    for r in json.loads(JSON.read_text()).get(key, []):
        cells.setdefault(tuple(r[k] for k in by), []).append(r)
    return cells


def render(out=OUT):
    from skgloss.classifier import _MIN_CLASS_SEPARATION

    def spread(records, key):
        v = [r[key] for r in records]
        return f"{np.median(v):.2f} ({min(v):.2f} to {max(v):.2f})"

    lines = ["# Few shots: class separation on the pre-trained encoder", "",
             "## Class separation of few-shot draws", "",
             "How far all-MiniLM-L6-v2 (mean pooling, max_length 64, fp32) puts the labeled classes of few-shot "
             "draws apart, before any training: median (min to max) over the seeds. `d`: "
             "`skgloss.training.class_separation`, the number a fully labeled few-shot fit compares with "
             f"{_MIN_CLASS_SEPARATION} (below it: a schedule of at least 128 optimizer steps run to its end; at "
             "or above it: the number of epochs cross-validated). `kappa` (chance-corrected out-of-fold accuracy "
             "of logistic regression) and `silhouette` (cosine) were considered and not used: they fall with the "
             "number of classes. Rendered by `python benchmarks/class_separation.py` from "
             "`benchmarks/results/class_separation.json`.", "",
             "| dataset | labeled / class | classes | seeds | d | kappa | silhouette | "
             f"d below {_MIN_CLASS_SEPARATION} |",
             "|---|---|---|---|---|---|---|---|"]
    for (dataset, shots), records in load().items():
        below = sum(r["class_separation"] < _MIN_CLASS_SEPARATION for r in records)
        lines.append(f"| {dataset} | {shots} | {records[0]['n_classes']} | {len(records)} | "
                     f"{spread(records, 'class_separation')} | {spread(records, 'kappa')} | "
                     f"{spread(records, 'silhouette')} | {below} of {len(records)} draws |")
    lines += ["", "R52 and Ohsumed: a class with fewer than 8 training texts gives all of them "
                  "(R52 has classes of 1-2 texts; `kappa` leaves out classes of fewer than 3)."]
    scarcity = load("scarcity_records", ("dataset", "fraction"))
    if scarcity:
        lines += ["", "## Class separation of the label-scarcity draws", "",
                  "The labeled rows of `benchmarks/label_scarcity.py`'s draws (a 2,000-text pool, seeds 0-2), "
                  "same encoder and settings: median (min to max). A fit with `-1` rows whose labels are too few to "
                  "hold out 200 of them takes the cross-validated path when every class has two or more labels, "
                  f"and there sets its `-1` rows aside below {_MIN_CLASS_SEPARATION}; with a class of one labeled "
                  "row nothing is folded, and the fit keeps its start (label spreading on the pre-trained "
                  "encoder) whatever `d` is.", "",
                  "| dataset | labels kept | labeled rows | seeds | d | smallest class | "
                  f"d below {_MIN_CLASS_SEPARATION} |", "|---|---|---|---|---|---|---|"]
        for (dataset, fraction), records in scarcity.items():
            below = sum(r["class_separation"] < _MIN_CLASS_SEPARATION for r in records)
            smallest = ", ".join(str(r["smallest_class"]) for r in records)
            lines.append(f"| {dataset} | {100 * fraction:g} % | {records[0]['n_rows']} | {len(records)} | "
                         f"{spread(records, 'class_separation')} | {smallest} | {below} of {len(records)} draws |")
    Path(out).write_text("\n".join(lines) + "\n")
    return Path(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--render", action="store_true", help="render the committed results only")
    p.add_argument("--scarcity", action="store_true", help="measure the label-scarcity draws only")
    args = p.parse_args(argv)
    if args.scarcity:
        measure_scarcity()
    elif not args.render:
        measure()
    print(render().read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
