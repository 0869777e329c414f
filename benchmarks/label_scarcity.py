"""Label scarcity: what unlabeled text and the corpus graph buy when labels are few.

For MR and R8, a stratified training pool of ``--n-pool`` texts (seed 0) keeps
the labels of a stratified ``fraction`` of its rows (seeded per run); the rest
are marked ``-1``. Tested on ``--n-test`` stratified test texts (seed 0).
Compared, with all-MiniLM-L6-v2 (offline package), max_length 64, batch 32:

- ``ce-labeled``: ``loss="ce"`` fitted on the labeled rows only, up to
  ``--labeled-epochs`` epochs (default 10: a few labeled rows need more than a
  few passes) with early stopping on 10 % of them;
- ``skgloss-graph``: ``loss="gloss"`` fitted on the whole pool with the corpus
  graph (label spreading refreshed every epoch, pseudo-labels for confident
  ``-1`` rows), up to ``--pool-epochs`` epochs (default 2) as the estimator's
  default ``validation_fraction="auto"`` chooses them (with at most 400 labeled
  rows: by cross-validation over them, the starting point as the incumbent;
  ``cv_results`` in the record), scored as the
  estimator predicts by default (``inference="auto"``, which blends head and
  graph in a fit with ``-1`` rows); each record also holds the test accuracy
  of every ``inference`` of the same fit (``test_accuracy_by_inference``).
  Cells of earlier settings are kept: head inference (and blended inference of
  the same fits as ``skgloss-graph-blend``) in
  ``benchmarks/results/runs/scarcity_head_inference/``, and blended inference
  with 10 % of the labeled rows held out in
  ``benchmarks/results/runs/scarcity_holdout/``;
- ``labelspreading-frozen``: scikit-learn ``LabelSpreading`` (kNN kernel,
  k = 10, alpha = 0.2) on frozen, mean-pooled, L2-normalised MiniLM
  embeddings of the pool, predicting the test texts inductively;
- ``tfidf-lr``: TF-IDF (word 1-2-grams, sublinear tf) + ``LogisticRegression``
  on the labeled rows only.

Every (dataset, method, fraction, seed) is one JSON file under
``benchmarks/results/runs/scarcity/``; finished files are not run again, so the
study resumes after an interruption. Seeds run outermost, so a partial study
has whole seeds. Fine-tuning runs each run in their own process.

Usage: python benchmarks/label_scarcity.py [--datasets mr r8] [--fractions 0.01 0.05 0.1 0.2] [--seeds 0 1 2]
Then: python benchmarks/render_scarcity.py
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import data_home, write_cell  # noqa: E402

from skgloss.bench import machine, stratified_sample, subset  # noqa: E402

logger = logging.getLogger("skgloss.benchmarks")
RUNS = HERE / "results" / "runs" / "scarcity"
FINE_TUNED = ("ce-labeled", "skgloss-graph")
FROZEN = ("labelspreading-frozen", "tfidf-lr")
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
COMMON = {"max_length": 64, "batch_size": 32, "learning_rate": 5e-5}
#: ``ce-labeled`` early-stops on 10 % of its labeled rows; ``skgloss-graph`` keeps the estimator's default
#: (``validation_fraction="auto"``: below 200 held-out rows in a fit with ``-1`` rows, cross-validation decides
#: whether fine-tuning beats the starting point, and how many epochs).
VALIDATION = {"ce-labeled": 0.1, "skgloss-graph": "auto"}


def cell_path(runs_dir, dataset, method, fraction, seed):
    return Path(runs_dir) / f"{dataset}__{method}__frac{fraction:g}__seed{seed}.json"


def load_split(spec):
    """The pool (texts, labels), the test texts and labels, and the labeled pool rows."""
    from skgloss.datasets import load_benchmark

    X, y, Xt, yt = load_benchmark(spec["dataset"], data_home=spec["data_home"], verify=spec["verify"])
    tr, te = subset(y, spec["n_pool"], seed=0), subset(yt, spec["n_test"], seed=0)
    X, y = [X[i] for i in tr], np.array([y[i] for i in tr], dtype=object)
    Xt, yt = [Xt[i] for i in te], np.array([yt[i] for i in te], dtype=object)
    n_labeled = max(int(round(spec["fraction"] * len(y))), len(set(y.tolist())))
    labeled = np.sort(stratified_sample(y, n_labeled, seed=spec["seed"]))
    return X, y, Xt, yt, labeled


def _scores(yt, pred):
    from sklearn.metrics import accuracy_score, f1_score

    yt, pred = np.asarray(yt).astype(str), np.asarray(pred).astype(str)
    return {"test_accuracy": float(accuracy_score(yt, pred)),
            "test_macro_f1": float(f1_score(yt, pred, average="macro", labels=np.unique(yt)))}


def _record(spec, method, **fields):
    return {"dataset": spec["dataset"], "method": method, "fraction": spec["fraction"], "seed": spec["seed"],
            "n_pool": spec["n_pool"], "n_test": spec["n_test"], "model": spec["model"], **fields,
            "machine": machine()}


def run_fine_tuned(spec):
    """One fine-tuning run: ``ce-labeled`` or ``skgloss-graph``; returns its records."""
    from skgloss import GLossTextClassifier

    X, y, Xt, yt, labeled = load_split(spec)
    if spec["method"] == "ce-labeled":
        params = {**COMMON, "loss": "ce", "max_epochs": spec["labeled_epochs"], "random_state": spec["seed"],
                  "validation_fraction": VALIDATION["ce-labeled"]}
        X_fit, y_fit = [X[i] for i in labeled], y[labeled]
    else:
        params = {**COMMON, "loss": "gloss", "max_epochs": spec["pool_epochs"], "random_state": spec["seed"],
                  "validation_fraction": VALIDATION["skgloss-graph"]}
        X_fit, y_fit = X, np.full(len(y), -1, dtype=object)
        y_fit[labeled] = y[labeled]
    clf = GLossTextClassifier(spec["model"], **params)
    t0 = time.perf_counter()
    clf.fit(X_fit, y_fit)
    fit_s = time.perf_counter() - t0
    common = {"params": params, "n_labeled": len(labeled), "fit_seconds": fit_s, "best_epoch": clf.best_epoch_,
              "n_iter": clf.n_iter_, "cv_results": clf.cv_results_, "history": clf.history_}
    records = {spec["method"]: _record(spec, spec["method"], **_scores(yt, clf.predict(Xt)), **common)}
    if spec["method"] == "skgloss-graph":
        unl = y_fit == -1
        rec = records["skgloss-graph"]
        rec["inference_"] = clf.inference_
        rec["transductive_accuracy"] = float(np.mean(clf.transduction_[unl].astype(str) == y[unl].astype(str)))
        rec["test_accuracy_by_inference"] = {}
        # a fit that set its -1 rows aside (cv_results_["unlabeled_set_aside"]) has no corpus graph to infer with
        for inference in ("head", "graph", "blend") if hasattr(clf, "graph_") else ("head",):
            clf.set_params(inference=inference)
            rec["test_accuracy_by_inference"][inference] = _scores(yt, clf.predict(Xt))["test_accuracy"]
    return records


def run_frozen(spec, fractions, seeds):
    """Every frozen-embedding and TF-IDF run of one dataset; embeds the texts once."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import LabelSpreading

    from skgloss.encoder import embed_texts, load_encoder, resolve_model_path

    X, y, Xt, yt, _ = load_split({**spec, "fraction": fractions[0], "seed": seeds[0]})
    encoder, tokenizer = load_encoder(resolve_model_path(spec["model"]))
    t0 = time.perf_counter()
    kw = {"pooling": "mean", "max_length": COMMON["max_length"], "batch_size": 64, "device": "cpu"}
    E, Et = embed_texts(encoder, tokenizer, X, **kw), embed_texts(encoder, tokenizer, Xt, **kw)
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    Et /= np.linalg.norm(Et, axis=1, keepdims=True)
    embed_s = time.perf_counter() - t0
    classes = np.array(sorted(set(y.tolist())), dtype=object)
    y_idx = np.searchsorted(classes, y)
    out = {}
    for seed in seeds:
        for fraction in fractions:
            run = {**spec, "fraction": fraction, "seed": seed}
            *_, labeled = load_split(run)
            y_ls = np.full(len(y), -1)
            y_ls[labeled] = y_idx[labeled]
            t0 = time.perf_counter()
            ls = LabelSpreading(kernel="knn", n_neighbors=10, alpha=0.2, max_iter=100).fit(E, y_ls)
            pred = classes[ls.predict(Et)]
            out[("labelspreading-frozen", fraction, seed)] = _record(
                run, "labelspreading-frozen", **_scores(yt, pred), n_labeled=len(labeled),
                fit_seconds=time.perf_counter() - t0 + embed_s,
                params={"kernel": "knn", "n_neighbors": 10, "alpha": 0.2, "pooling": "mean", **kw})
            t0 = time.perf_counter()
            tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
            A = tfidf.fit_transform([X[i] for i in labeled])
            if len(set(y[labeled].tolist())) > 1:
                lr = LogisticRegression(C=10.0, max_iter=2000).fit(A, y[labeled].astype(str))
                pred = lr.predict(tfidf.transform(Xt))
            else:
                pred = np.full(len(yt), str(y[labeled][0]))
            out[("tfidf-lr", fraction, seed)] = _record(
                run, "tfidf-lr", **_scores(yt, pred), n_labeled=len(labeled), fit_seconds=time.perf_counter() - t0,
                params={"ngram_range": [1, 2], "sublinear_tf": True, "C": 10.0})
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mr", "r8"])
    p.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.05, 0.1, 0.2])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=list(FINE_TUNED + FROZEN), choices=list(FINE_TUNED + FROZEN))
    p.add_argument("--model", default=MODEL)
    p.add_argument("--n-pool", type=int, default=2000)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--labeled-epochs", type=int, default=10)
    p.add_argument("--pool-epochs", type=int, default=2)
    p.add_argument("--data-home", default=None, help="benchmark data folder (default: SKGLOSS_DATA or ../shared/data)")
    p.add_argument("--runs-dir", default=str(RUNS))
    p.add_argument("--no-verify", action="store_true", help="skip the data checksums")
    p.add_argument("--in-process", action="store_true", help="run fine-tuning in this process (tests)")
    p.add_argument("--run-one", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.run_one:  # child process: one fine-tuning run
        spec = json.loads(args.run_one)
        for method, record in run_fine_tuned(spec).items():
            write_cell(cell_path(spec["runs_dir"], spec["dataset"], method, spec["fraction"], spec["seed"]), record)
        return 0

    from tqdm import tqdm

    base = {"model": args.model, "n_pool": args.n_pool, "n_test": args.n_test,
            "data_home": args.data_home or data_home(), "verify": not args.no_verify,
            "labeled_epochs": args.labeled_epochs, "pool_epochs": args.pool_epochs,
            "runs_dir": args.runs_dir}
    done = lambda d, m, f, s: cell_path(args.runs_dir, d, m, f, s).is_file()  # noqa: E731
    frozen = [m for m in args.methods if m in FROZEN]
    for dataset in args.datasets:  # frozen baselines first: one process per dataset, seconds each
        if frozen and not all(done(dataset, m, f, s) for m in frozen for f in args.fractions for s in args.seeds):
            for (method, fraction, seed), record in run_frozen({**base, "dataset": dataset}, args.fractions,
                                                               args.seeds).items():
                if method in frozen:
                    write_cell(cell_path(args.runs_dir, dataset, method, fraction, seed), record)
    todo = [(d, m, f, s) for s in args.seeds for d in args.datasets for f in args.fractions for m in args.methods
            if m in FINE_TUNED and not done(d, m, f, s)]
    logger.info("%d fine-tuning runs to do; finished runs are kept in %s", len(todo), args.runs_dir)
    failures = 0
    for dataset, method, fraction, seed in tqdm(todo, desc="runs"):
        spec = {**base, "dataset": dataset, "method": method, "fraction": fraction, "seed": seed}
        if args.in_process:
            main(["--run-one", json.dumps(spec)])
            continue
        proc = subprocess.run([sys.executable, __file__, "--run-one", json.dumps(spec)])
        if proc.returncode != 0:
            failures += 1
            logger.warning("run %s/%s/%g/seed %d failed (exit %d)", dataset, method, fraction, seed, proc.returncode)
    return 1 if failures else 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
