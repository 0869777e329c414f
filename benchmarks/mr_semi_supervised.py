"""MR with 10 % of the training labels: what the corpus graph buys.

The training pool is MR's training set (or --n-train texts of it, stratified);
a stratified --label-fraction of it keeps its label, the rest is marked -1.
Compared, all with all-MiniLM-L6-v2, max_length 64, tested on MR's test set
(or --n-test texts of it):

- ``ce-labeled``: loss="ce" fitted on the labeled rows only;
- ``gloss-graph``: loss="gloss" on the whole pool with the corpus graph
  (pseudo-labels for confident -1 rows, refreshed every epoch);
- ``kl-graph`` (with --with-kl): loss="kl" on the whole pool;
- ``labelspreading-frozen``: scikit-learn LabelSpreading (kNN kernel, k=10,
  alpha=0.2) on frozen mean-pooled MiniLM embeddings, predicting the test set
  inductively.

Also reports, from the gloss-graph fit, one corpus-graph refresh as a
fraction of an epoch. Writes benchmarks/results/mr_semi_supervised.json.

Usage: python benchmarks/mr_semi_supervised.py [--seeds 0] [--max-epochs 2] [--with-kl]
"""

import argparse
import time

import numpy as np
from _common import data_home, machine, stratified_sample, write_json
from sklearn.semi_supervised import LabelSpreading

from skgloss import GLossTextClassifier
from skgloss.datasets import load_benchmark
from skgloss.encoder import DEFAULT_MODEL, embed_texts, load_encoder


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--n-test", type=int, default=None)
    p.add_argument("--label-fraction", type=float, default=0.1)
    p.add_argument("--max-epochs", type=int, default=2)
    p.add_argument("--with-kl", action="store_true")
    args = p.parse_args()

    X, y, Xt, yt = load_benchmark("mr", data_home=data_home())
    if args.n_train:
        keep = stratified_sample(y, args.n_train, seed=0)
        X, y = [X[i] for i in keep], [y[i] for i in keep]
    if args.n_test:
        keep = stratified_sample(yt, args.n_test, seed=0)
        Xt, yt = [Xt[i] for i in keep], [yt[i] for i in keep]
    y = np.array(y, dtype=object)
    yt = np.array(yt, dtype=object)

    encoder, tokenizer = load_encoder(DEFAULT_MODEL)
    t0 = time.perf_counter()
    kw = dict(pooling="mean", max_length=64, batch_size=64, device="cpu")
    E, Et = embed_texts(encoder, tokenizer, X, **kw), embed_texts(encoder, tokenizer, Xt, **kw)
    frozen_s = time.perf_counter() - t0

    runs = []
    for seed in args.seeds:
        labeled = stratified_sample(y, int(round(args.label_fraction * len(y))), seed=seed)
        y_part = np.full(len(y), -1, dtype=object)
        y_part[labeled] = y[labeled]

        def record(name, acc, seconds, **extra):
            runs.append({"method": name, "seed": seed, "test_accuracy": acc, "seconds": seconds, **extra})
            print(f"seed {seed} {name:22s} test accuracy {acc:.4f} ({seconds:.0f} s)", flush=True)

        clf = GLossTextClassifier(loss="ce", max_length=64, max_epochs=args.max_epochs, random_state=seed)
        t0 = time.perf_counter()
        clf.fit([X[i] for i in labeled], y[labeled])
        record("ce-labeled", clf.score(Xt, yt), time.perf_counter() - t0, history=clf.history_)

        variants = [("gloss-graph", "gloss")] + ([("kl-graph", "kl")] if args.with_kl else [])
        for name, loss in variants:
            clf = GLossTextClassifier(loss=loss, max_length=64, max_epochs=args.max_epochs, random_state=seed)
            t0 = time.perf_counter()
            clf.fit(X, y_part)
            seconds = time.perf_counter() - t0
            unl = y_part == -1
            transductive = float(np.mean(clf.transduction_[unl].astype(str) == y[unl].astype(str)))
            refresh = [h["graph_seconds"] / h["seconds"] for h in clf.history_ if "graph_seconds" in h]
            record(name, clf.score(Xt, yt), seconds, history=clf.history_, transductive_accuracy=transductive,
                   refresh_fraction_of_epoch=refresh)
            # a fit that set its -1 rows aside (cv_results_["unlabeled_set_aside"]) has no corpus graph
            for mode in ("graph", "blend") if hasattr(clf, "graph_") else ():
                clf.set_params(inference=mode)
                record(f"{name}/{mode}-inference", clf.score(Xt, yt), 0.0)

        ls = LabelSpreading(kernel="knn", n_neighbors=10, alpha=0.2, max_iter=100)
        y_ls = np.full(len(y), -1)
        classes = sorted(set(y.tolist()))
        y_ls[labeled] = [classes.index(v) for v in y[labeled]]
        t0 = time.perf_counter()
        ls.fit(E / np.linalg.norm(E, axis=1, keepdims=True), y_ls)
        pred = np.array(classes, dtype=object)[ls.predict(Et / np.linalg.norm(Et, axis=1, keepdims=True))]
        record("labelspreading-frozen", float(np.mean(pred == yt)), time.perf_counter() - t0 + frozen_s)

    summary = {}
    for name in dict.fromkeys(r["method"] for r in runs):
        accs = np.array([r["test_accuracy"] for r in runs if r["method"] == name])
        summary[name] = {"mean": float(accs.mean()), "std": float(accs.std(ddof=1)) if len(accs) > 1 else 0.0,
                         "per_seed": accs.tolist()}
    path = write_json("mr_semi_supervised.json", {
        "benchmark": "mr_semi_supervised", "args": vars(args), "machine": machine(),
        "n_train_pool": len(y), "n_test": len(yt), "summary": summary, "runs": runs})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
