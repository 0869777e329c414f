"""Few shots: skgloss against SetFit and logistic regression on the frozen encoder.

For MR and R8: ``shots`` labeled training texts per class (8 or 32, drawn
per seed), optionally ``--unlabeled`` more training texts marked ``-1``
(drawn per seed from the rest of the training set), 1,000 stratified test
texts (seed 0). Every method uses all-MiniLM-L6-v2 (offline package) and
texts truncated to 64 tokens:

- ``lr-frozen``: scikit-learn ``LogisticRegression`` (defaults) on the
  frozen encoder's mean-pooled embeddings of the labeled texts;
- ``setfit``: SetFit 1.x with its default recipe (oversampled contrastive
  pairs, ``CosineSimilarityLoss``, batch 16, one epoch, then logistic
  regression); where that epoch would take more than ``--setfit-max-steps``
  steps (the 32-shot R8 cells: 8,000+ pairs), it is cut there, so that the
  cells fit this machine (each file records the default and the steps run);
- ``skgloss``: ``GLossTextClassifier`` with :data:`SKGLOSS_SETTING`, fixed
  before any test score was read; with ``-1`` rows when ``--unlabeled`` > 0.

One JSON file per (dataset, shots, unlabeled, method, seed) under
``benchmarks/results/runs/few_shot/`` (``--runs-dir``); finished files are not run again.
``--render`` writes ``benchmarks/results/few_shot.md``.

Usage::

    python benchmarks/few_shot.py --datasets mr r8 --shots 8 32 --unlabeled 0 1000 --seeds 0 1 2
    python benchmarks/few_shot.py --render

SetFit is a benchmark-only dependency: ``pip install setfit``.
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

from skgloss.bench import subset  # noqa: E402

RUNS = RESULTS / "runs" / "few_shot"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MAX_LENGTH = 64
METHODS = ("lr-frozen", "setfit", "skgloss")
#: The one skgloss setting of this study: the estimator's defaults (max_length apart), fixed from the
#: development sweep before any test score was read (benchmarks/results/sweep.md, "8 labeled texts per
#: class": neither more epochs nor a lower learning rate helped on both MR and R8).
SKGLOSS_SETTING = {"max_length": MAX_LENGTH}


def cell_path(dataset, shots, unlabeled, method, seed, runs=None):
    return Path(RUNS if runs is None else runs) / f"{dataset}__{shots}shot__unl{unlabeled}__{method}__seed{seed}.json"


def draw(dataset, shots, unlabeled, seed, data):
    """Labeled texts (``shots`` per class), unlabeled texts, test texts."""
    from skgloss.datasets import load_benchmark

    X, y, Xt, yt = load_benchmark(dataset, data_home=data)
    rng = np.random.default_rng(seed)
    y = np.asarray(y, dtype=object)
    labeled = np.concatenate([rng.choice(np.flatnonzero(y == c), min(shots, int(np.sum(y == c))), replace=False)
                              for c in sorted(set(y.tolist()))])
    rest = np.setdiff1d(np.arange(len(y)), labeled)
    pool = rng.choice(rest, min(unlabeled, len(rest)), replace=False) if unlabeled else rest[:0]
    te = subset(yt, 1000, seed=0)
    return ([X[i] for i in labeled], y[labeled], [X[i] for i in pool], [Xt[i] for i in te],
            np.asarray([yt[i] for i in te], dtype=object))


def fit_predict(method, XL, yL, XU, Xt, seed, setfit_max_steps=300):
    if method == "lr-frozen":
        import torch
        from sklearn.linear_model import LogisticRegression

        from skgloss.encoder import embed_texts, load_encoder

        enc, tok = load_encoder(MODEL)
        emb = lambda texts: embed_texts(enc, tok, texts, pooling="mean", max_length=MAX_LENGTH,  # noqa: E731
                                        batch_size=64, device=torch.device("cpu"))
        lr = LogisticRegression(max_iter=1000).fit(emb(XL), yL.astype(str))
        return lr.predict(emb(Xt)), {}
    if method == "setfit":
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments
        from setfit.sampler import ContrastiveDataset

        from skgloss.encoder import resolve_model_path

        model = SetFitModel.from_pretrained(resolve_model_path(MODEL))
        model.model_body.max_seq_length = MAX_LENGTH
        # the default recipe's steps: one epoch over the oversampled pairs, batch 16; capped
        default_steps = -(-len(ContrastiveDataset(list(XL), list(yL.astype(str)), False)) // 16)
        steps = -1 if default_steps <= setfit_max_steps else setfit_max_steps
        args = TrainingArguments(max_steps=steps, seed=seed, report_to="none",
                                 show_progress_bar=False, save_strategy="no", output_dir="/tmp/setfit_ckpt")
        trainer = Trainer(model=model, args=args,
                          train_dataset=Dataset.from_dict({"text": list(XL), "label": list(yL.astype(str))}))
        trainer.train()
        return np.asarray(model.predict(list(Xt))).astype(str), {"setfit_default_steps": default_steps,
                                                                 "setfit_steps": steps if steps > 0 else default_steps}
    from skgloss import GLossTextClassifier

    params = {**SKGLOSS_SETTING, "random_state": seed}
    clf = GLossTextClassifier(MODEL, **params)
    X = list(XL) + list(XU)
    y = np.concatenate([yL.astype(str), np.full(len(XU), -1, dtype=object)]).astype(object)
    clf.fit(X, y)
    return clf.predict(Xt).astype(str), {"params": params, "best_epoch": clf.best_epoch_,
                                         "start_score": clf.start_score_, "n_iter": clf.n_iter_,
                                         "cv_results": getattr(clf, "cv_results_", None), "history": clf.history_}


def class_recall(truth, pred):
    """Recall of every test class and their mean (balanced accuracy): the labeled rows are balanced (``shots``
    per class), so that is what a fit's cross-validation on them measures, while R8's test texts are not."""
    truth, pred = np.asarray(truth).astype(str), np.asarray(pred).astype(str)
    classes = sorted(set(truth.tolist()))
    recall = {c: float(np.mean(pred[truth == c] == c)) for c in classes}
    return {"test_balanced_accuracy": float(np.mean(list(recall.values()))), "test_recall_by_class": recall,
            "test_class_counts": {c: int(np.sum(truth == c)) for c in classes}}


def _cell(r):
    return r["dataset"], r["shots"], r["unlabeled"], r["method"]


def _table_row(recs, key, metric):
    """``| cell | mean ± std | n | paired vs lr-frozen |`` of ``metric`` (a fraction) over the seeds of ``key``."""
    by = {(*_cell(r), r["seed"]): r[metric] for r in recs if metric in r}
    rs = [r for r in recs if _cell(r) == key]
    values = 100 * np.array([r[metric] for r in rs])
    # the baselines ignore unlabeled texts and draw() takes the labeled rows first, so a cell with
    # unlabeled texts is paired with the same seed's labeled-only lr-frozen
    base = (key[0], key[1], 0, "lr-frozen")
    diffs = [100 * (r[metric] - by[(*base, r["seed"])]) for r in rs
             if key[3] != "lr-frozen" and (*base, r["seed"]) in by]
    paired = (f"{np.mean(diffs):+.2f} (" + ", ".join(f"{d:+.1f}" for d in diffs) + ")") if diffs else ""
    sd = values.std(ddof=1) if len(values) > 1 else 0.0  # the sample std, as every table of the project
    return (f"| {key[0]} | {key[1]} | {key[2]} | `{key[3]}` | {values.mean():.2f} ± {sd:.2f} | "
            f"{len(rs)} | {paired} |")


def render(out=RESULTS / "few_shot.md", runs=None):
    runs, out = Path(RUNS if runs is None else runs), Path(out)
    recs = [json.loads(p.read_text()) for p in sorted(runs.glob("*.json"))]
    where = runs.resolve().relative_to(HERE.parent) if runs.resolve().is_relative_to(HERE.parent) else runs
    lines = ["# Few shots", "", "Test accuracy (%), mean ± std over seeds (n), 1,000 test texts, all-MiniLM-L6-v2, "
             "max_length 64; fit seconds (median) on the 2-core CPU, at 1 or 2 torch threads (each file "
             "records its own) and some beside another job, so indicative only. "
             "Rendered by "
             f"`python benchmarks/few_shot.py --render` from `{where}/`.", "",
             "## Test accuracy (%) and fit seconds", "",
             "| dataset | labeled / class | unlabeled | method | accuracy | n | paired vs `lr-frozen` (per seed) "
             "| fit s |",
             "|---|---|---|---|---|---|---|---|"]
    keys = sorted({_cell(r) for r in recs}, key=lambda k: (k[0], k[1], k[2], METHODS.index(k[3])))
    for key in keys:
        seconds = np.median([r["fit_seconds"] for r in recs if _cell(r) == key])
        lines.append(_table_row(recs, key, "test_accuracy") + f" {seconds:.0f} |")
    # balanced accuracy, for the cells whose every file records it (the files written since it was added)
    balanced = [k for k in keys if all("test_balanced_accuracy" in r for r in recs if _cell(r) == k)]
    if balanced:
        mix = {}
        for r in recs:
            if _cell(r) in balanced:
                counts = r["test_class_counts"]
                mix[r["dataset"]] = ", ".join(f"{c} {100 * n / sum(counts.values()):.1f} %"
                                              for c, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        lines += ["", "## Balanced accuracy (%)", "",
                  "The mean of the per-class recalls on the same test texts, for the cells whose files record it. "
                  "The labeled texts are balanced (the same number per class), so a fit's cross-validated choice "
                  "of epochs measures this, not accuracy. Test class mix: "
                  + "; ".join(f"{d}: {m}" for d, m in sorted(mix.items())) + ".", "",
                  "| dataset | labeled / class | unlabeled | method | balanced accuracy | n | "
                  "paired vs `lr-frozen` (per seed) |", "|---|---|---|---|---|---|---|"]
        lines += [_table_row(recs, key, "test_balanced_accuracy") for key in balanced]
    out.write_text("\n".join(lines) + "\n")
    return out


def main(argv=None):
    global ARGS
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mr", "r8"])
    p.add_argument("--shots", type=int, nargs="+", default=[8, 32])
    p.add_argument("--unlabeled", type=int, nargs="+", default=[0, 1000])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--setfit-max-steps", type=int, default=300)
    p.add_argument("--data-home", default=data_home())
    p.add_argument("--runs-dir", default=None, help=f"where cell files go (default: {RUNS})")
    p.add_argument("--out", default=str(RESULTS / "few_shot.md"), help="the rendered table (default: %(default)s)")
    p.add_argument("--render", action="store_true")
    ARGS = p.parse_args(argv)
    if ARGS.render:
        print(render(ARGS.out, ARGS.runs_dir).read_text())
        return 0
    for seed in ARGS.seeds:
        for dataset in ARGS.datasets:
            for shots in ARGS.shots:
                for unlabeled in ARGS.unlabeled:
                    for method in ARGS.methods:
                        if unlabeled and method != "skgloss":
                            continue  # the baselines cannot use unlabeled texts
                        path = cell_path(dataset, shots, unlabeled, method, seed, ARGS.runs_dir)
                        if path.is_file():
                            continue
                        XL, yL, XU, Xt, yt = draw(dataset, shots, unlabeled, seed, ARGS.data_home)
                        t0 = time.perf_counter()
                        pred, extra = fit_predict(method, XL, yL, XU, Xt, seed, ARGS.setfit_max_steps)
                        fit_s = time.perf_counter() - t0
                        acc = float(np.mean(np.asarray(pred).astype(str) == yt.astype(str)))
                        rec = {"dataset": dataset, "shots": shots, "unlabeled": unlabeled, "method": method,
                               "seed": seed, "n_labeled": len(XL), "test_accuracy": acc,
                               **class_recall(yt, pred), "fit_seconds": fit_s, **extra, "machine": machine()}
                        write_cell(path, rec)
                        print(f"{dataset} {shots}-shot unl {unlabeled} {method} seed {seed}: {acc:.4f} "
                              f"({fit_s:.0f} s)", flush=True)
    print(render(ARGS.out, ARGS.runs_dir).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
