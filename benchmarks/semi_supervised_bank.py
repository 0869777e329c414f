"""Does fine-tuning hurt a semi-supervised fit's graph, or does its memory bank? (development texts)

The corpus graph's memory bank keeps each row's embedding from the last pass
that saw it; for most rows that is a training step, in training mode
(dropout on). The graph of the last refresh, and graph inference after the
fit, search that bank with eval-mode embeddings of the queries.

For each dataset and seed, in the label-scarcity protocol on development
texts (``benchmarks/sweep.py --fraction F``: a pool of 2,000 training texts
with a fraction of the labels, 500 development texts from outside the pool),
a ``-1`` fit runs all its epochs (``validation_fraction=0``: the fine-tuned
model is kept, whatever model selection would say) with the study's other
settings. The development texts are then scored

- as the fitted model predicts with each ``inference`` (the bank as the fit
  left it);
- with the bank re-embedded by the fitted encoder in eval mode and the graph
  rebuilt and labels spread again over it (same k, σ, α): ``graph-eval-bank``
  and ``blend-eval-bank``.

Writes ``benchmarks/results/semi_supervised_bank.json``; ``--render`` writes
``benchmarks/results/semi_supervised_bank.md``.

Usage: python benchmarks/semi_supervised_bank.py [--datasets r8 mr] [--fraction 0.1] [--seeds 0]
"""

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS, data_home, machine  # noqa: E402
from sweep import splits  # noqa: E402

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PARAMS = {"max_length": 64, "batch_size": 32, "learning_rate": 5e-5, "loss": "gloss", "max_epochs": 2,
          "validation_fraction": 0}


def accuracy(clf, Xd, yd):
    return float(np.mean(clf.predict(Xd).astype(str) == np.asarray(yd).astype(str)))


def run(dataset, fraction, seed, data):
    from skgloss import GLossTextClassifier
    from skgloss.corpus import CorpusGraph

    X, y, Xd, yd = splits(dataset, seed, SimpleNamespace(shots=0, unlabeled=0, fraction=fraction, pool=2000,
                                                         n_dev=500, data_home=data))
    clf = GLossTextClassifier(MODEL, **PARAMS, random_state=seed)
    t0 = time.perf_counter()
    clf.fit(X, y)
    fit_s = time.perf_counter() - t0
    out = {}
    for inference in ("head", "graph", "blend"):
        clf.set_params(inference=inference)
        out[inference] = accuracy(clf, Xd, yd)
    # the same fitted encoder, its bank re-embedded in eval mode, the graph rebuilt and labels spread again
    bank = clf.transform(X)
    codes = np.array([-1 if v == -1 else int(np.searchsorted(clf.classes_, v)) for v in y])
    corpus = CorpusGraph(bank, codes, len(clf.classes_), n_neighbors=clf._corpus_neighbors(), sigma=clf.sigma_,
                         alpha=clf.alpha, threshold=clf.pseudo_label_threshold, random_state=seed).refresh()
    moved = float(np.mean(np.linalg.norm(bank - clf.corpus_embeddings_, axis=1)
                          / np.linalg.norm(bank, axis=1)))
    clf.corpus_embeddings_, clf.label_distributions_, clf._neighbor_index = bank, corpus.F, None
    for inference in ("graph", "blend"):
        clf.set_params(inference=inference)
        out[f"{inference}-eval-bank"] = accuracy(clf, Xd, yd)
    return {"dataset": dataset, "fraction": fraction, "seed": seed, "params": PARAMS, "n_dev": len(Xd),
            "dev_accuracy": out, "bank_relative_change": moved, "fit_seconds": fit_s, "machine": machine()}


def render(path=RESULTS / "semi_supervised_bank.json", out=RESULTS / "semi_supervised_bank.md"):
    """The fine-tuned fits against the starting point of the same seed (``semi_supervised_start.json``)."""
    records = json.loads(path.read_text())["records"]
    start = {}
    start_path = RESULTS / "semi_supervised_start.json"
    if start_path.is_file():
        for ds in json.loads(start_path.read_text())["datasets"]:
            for c in ds["cells"]:
                start[(ds["dataset"], c["fraction"], c["seed"])] = c["dev_accuracy"]
    lines = ["# A semi-supervised fit, fine-tuned or kept at its start (development texts)", "",
             "Development accuracy (%), 500 texts from outside a pool of 2,000 training texts with a fraction of "
             "the labels, all-MiniLM-L6-v2, the label-scarcity study's settings with `validation_fraction=0` "
             "(both epochs run and kept). `start-blend`: the same pool's starting point (label spreading and the "
             "closed-form head on the pre-trained encoder, blended; `benchmarks/semi_supervised_start.py`, "
             "same seed), which model selection keeps when the fine-tuned epochs cannot beat it beyond paired "
             "noise. Rendered by `python benchmarks/semi_supervised_bank.py --render`.", "",
             "## Fine-tuned against the start", "",
             "| dataset | labels | seed | start-blend | fine-tuned: head | graph | blend | blend, bank re-embedded "
             "| fine-tuned blend − start-blend |", "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(records, key=lambda r: (r["dataset"], r["fraction"], r["seed"])):
        a = r["dev_accuracy"]
        s0 = start.get((r["dataset"], r["fraction"], r["seed"]), {}).get("start-blend")
        diff = f"{100 * (a['blend'] - s0):+.1f}" if s0 is not None else "–"
        lines.append(f"| {r['dataset']} | {100 * r['fraction']:g} % | {r['seed']} | "
                     f"{'–' if s0 is None else f'{100 * s0:.1f}'} | {100 * a['head']:.1f} | {100 * a['graph']:.1f} | "
                     f"{100 * a['blend']:.1f} | {100 * a['blend-eval-bank']:.1f} | {diff} |")
    out.write_text("\n".join(lines) + "\n")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["r8", "mr"])
    p.add_argument("--fraction", type=float, default=0.1)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--data-home", default=data_home())
    p.add_argument("--render", action="store_true")
    args = p.parse_args(argv)
    if args.render:
        print(render().read_text())
        return 0
    path = RESULTS / "semi_supervised_bank.json"
    records = json.loads(path.read_text())["records"] if path.is_file() else []
    for seed in args.seeds:
        for dataset in args.datasets:
            rec = run(dataset, args.fraction, seed, args.data_home)
            records = [r for r in records if (r["dataset"], r["fraction"], r["seed"]) != (dataset, args.fraction,
                                                                                          seed)] + [rec]
            path.write_text(json.dumps({"benchmark": "semi_supervised_bank", "records": records}, indent=1))
            print(dataset, args.fraction, seed, {k: round(100 * v, 1) for k, v in rec["dev_accuracy"].items()},
                  f"bank moved {rec['bank_relative_change']:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
