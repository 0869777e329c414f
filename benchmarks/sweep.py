"""Sweep estimator settings on validation data only; resumable, one JSON per cell.

The test sets are never read. For each dataset the training subset is the
``cpu`` accuracy profile's (:mod:`skgloss.bench`, seed 0); a *development*
split of ``--n-dev`` texts is drawn (stratified, seeded) from the training
texts outside that subset, and every setting is scored on it. The fit itself
holds out 10 % of its training rows for early stopping, as in the harness
(the profile's max_length, batch size, epochs and learning rate).

With ``--shots K`` the training rows are instead K labeled texts per class
(drawn per seed), plus ``--unlabeled N`` texts marked ``-1``, and the
development texts come from the rest (the few-shot study's protocol,
``benchmarks/few_shot.py``); the fit then has the estimator's defaults
(max_length 64 apart), unless the setting says otherwise. With
``--fraction F`` the training rows are a stratified pool of ``--pool``
training texts (seed 0) of which a stratified fraction F keeps its label
(seeded per seed) and the rest is marked ``-1`` (the label-scarcity study's
protocol, ``benchmarks/label_scarcity.py``, with development texts from
outside the pool instead of test texts); the fit has that study's first
settings for ``skgloss-graph`` (``validation_fraction=0.1``; its current
setting is ``--grid validation_fraction=auto``) unless the setting says
otherwise.

A cell is (dataset, setting, seed); its file under
``benchmarks/results/runs/sweep/`` exists only once the cell is complete, so
an interrupted sweep picks up where it stopped. ``--render`` writes
``benchmarks/results/sweep.md``: development accuracy, mean ± std over seeds,
and the paired difference of every setting against ``defaults`` (the
estimator's defaults under the regime's protocol) where the regime has that
row, else against the best row.

``--grid baseline=ce-labeled`` fits ``loss="ce"`` on the labeled rows alone for
up to 10 epochs, as the label-scarcity study's ``ce-labeled``;
``--grid baseline=labeled-alone`` (with other settings, or alone for the
regime's own) fits the same setting on the labeled rows alone, without the
``-1`` rows; ``--grid baseline=lr-frozen`` scores scikit-learn's ``LogisticRegression``
(defaults) on the frozen encoder's mean-pooled embeddings of the labeled rows
instead of a fit; ``baseline=labelspreading-frozen`` scikit-learn's
``LabelSpreading`` (kNN kernel, k = 10, alpha = 0.2, as in
``benchmarks/label_scarcity.py``) on the normalised frozen embeddings of every
training row, ``-1`` rows included, predicting the development texts
inductively; ``baseline=setfit`` SetFit's default recipe on the labeled rows, as in
``benchmarks/few_shot.py`` (at most 300 steps). A fit with a corpus graph is also scored with each ``inference``
(``dev_accuracy_by_inference``; model selection used the setting's own), and
with ``inference="blend"`` at each predict-time ``blend_weight`` in
``BLEND_WEIGHTS`` (``dev_accuracy_by_blend_weight``; ``--render`` lists them).

``--tag T`` runs a setting again on changed library code (say, the defaults
after a change to how they choose epochs): its files and its row carry
``[T]``, beside the untagged row it is paired against.

Usage::

    python benchmarks/sweep.py --datasets 20ng r8 --seeds 0 1 2 \\
        --grid loss=ce,gloss refit_head=true,false
    python benchmarks/sweep.py --render
"""

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS, data_home, machine, stratified_sample, write_cell  # noqa: E402

from skgloss.bench import PROFILES, per_dataset, subset  # noqa: E402

RUNS = RESULTS / "runs" / "sweep"
#: Predict-time ``blend_weight`` values scored on every fit with a corpus graph.
BLEND_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def parse_grid(items):
    """``["lam=0.5,0.8", "loss=ce"]`` -> list of setting dicts (the cartesian product)."""
    axes = []
    for item in items:
        name, _, values = item.partition("=")
        if not name or not values:
            raise SystemExit(f"--grid takes name=v1,v2,...; got {item!r}")
        parsed = []
        for v in values.split(","):
            try:
                parsed.append(json.loads(v))
            except json.JSONDecodeError:
                parsed.append(v)
        axes.append([(name, v) for v in parsed])
    return [dict(combo) for combo in itertools.product(*axes)] if axes else [{}]


def setting_name(setting, tag=None):
    """The row's name: the setting's parameters (``defaults`` for none), then ``[tag]`` when the cells carry one."""
    name = ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(setting.items())) or "defaults"
    return f"{name} [{tag}]" if tag else name


def row_name(record):
    return setting_name(record["setting"], record.get("tag"))


def cell_path(dataset, setting, seed, args):
    safe = (setting_name(setting, args.tag).replace('"', "").replace("/", "_").replace(" ", "")
            .replace("[", "@").replace("]", ""))
    regime = (f"{args.shots}shot-unl{args.unlabeled}__" if args.shots
              else f"frac{args.fraction:g}-pool{args.pool}__" if args.fraction else "")
    return RUNS / f"{dataset}__{regime}{safe}__seed{seed}.json"


def splits(dataset, seed, args):
    """Training texts and labels (``-1`` for unlabeled ones) and development rows from the rest."""
    from skgloss.datasets import load_benchmark

    X, y, _, _ = load_benchmark(dataset, data_home=args.data_home)
    labels = np.asarray(y, dtype=object)
    if args.shots:
        rng = np.random.default_rng(seed)
        tr = np.concatenate([rng.choice(np.flatnonzero(labels == c), args.shots, replace=False)
                             for c in sorted(set(y))])
        rest = np.setdiff1d(np.arange(len(y)), tr)
        unl = rng.choice(rest, args.unlabeled, replace=False) if args.unlabeled else rest[:0]
        tr = np.concatenate([tr, unl])
        fit_labels = labels[tr].copy()
        fit_labels[len(tr) - len(unl):] = -1
    elif args.fraction:
        tr = subset(y, args.pool, seed=0)
        n_labeled = max(int(round(args.fraction * len(tr))), len(set(y)))
        keep = stratified_sample(labels[tr], n_labeled, seed=seed)
        fit_labels = np.full(len(tr), -1, dtype=object)
        fit_labels[keep] = labels[tr][keep]
    else:
        tr = subset(y, per_dataset(PROFILES["cpu"]["n_train"], dataset), seed=0)
        fit_labels = labels[tr]
    rest = np.setdiff1d(np.arange(len(y)), tr)
    dev = rest[np.sort(stratified_sample(labels[rest], min(args.n_dev, len(rest)), seed=1))]
    return [X[i] for i in tr], fit_labels, [X[i] for i in dev], labels[dev]


def run_cell(dataset, setting, seed, args):
    from skgloss import GLossTextClassifier

    prof = PROFILES["cpu"]
    X, y, Xd, yd = splits(dataset, seed, args)
    params = {"max_length": prof["max_length"], "batch_size": prof["batch_size"], "max_epochs": prof["max_epochs"],
              "learning_rate": prof["learning_rate"], "validation_fraction": 0.1, "random_state": seed}
    if args.shots:  # few shots: the estimator's own defaults
        params = {"max_length": prof["max_length"], "random_state": seed}
    elif args.fraction:  # label scarcity: that study's first skgloss-graph settings (its current one: add
        # --grid validation_fraction=auto)
        params = {"max_length": 64, "batch_size": 32, "learning_rate": 5e-5, "validation_fraction": 0.1,
                  "loss": "gloss", "max_epochs": 2, "random_state": seed}
    params.update(setting)
    if setting.get("baseline") == "ce-labeled":  # the label-scarcity study's baseline: CE on the labeled rows alone
        keep = [i for i, v in enumerate(y) if v != -1]
        X, y = [X[i] for i in keep], np.asarray(y, dtype=object)[keep]
        params = {**{k: v for k, v in params.items() if k != "baseline"}, "loss": "ce", "max_epochs": 10}
    elif setting.get("baseline") == "labeled-alone":  # the same setting fitted without its -1 rows
        keep = [i for i, v in enumerate(y) if v != -1]
        X, y = [X[i] for i in keep], np.asarray(y, dtype=object)[keep]
        params = {k: v for k, v in params.items() if k != "baseline"}
    elif setting.get("baseline") == "setfit":  # the few-shot study's SetFit (its default recipe, capped steps)
        from few_shot import fit_predict

        labeled = [i for i, v in enumerate(y) if v != -1]
        t0 = time.perf_counter()
        pred, extra = fit_predict("setfit", [X[i] for i in labeled], np.asarray(y, dtype=object)[labeled],
                                  [], Xd, seed)
        return {"dataset": dataset, "setting": setting, "seed": seed, "params": extra, "n_train": len(X),
                "shots": args.shots, "unlabeled": args.unlabeled, "fraction": args.fraction, "pool": args.pool,
                "n_dev": len(Xd), **dev_scores(pred, yd),
                "fit_seconds": time.perf_counter() - t0, "best_epoch": None, "start_score": None, "n_iter": 0,
                "history": [], "machine": machine()}
    elif setting.get("baseline") in ("lr-frozen", "labelspreading-frozen"):
        return {**frozen_baseline(dataset, setting, seed, prof, X, y, Xd, yd, args.shots, args.unlabeled),
                "fraction": args.fraction, "pool": args.pool}
    clf = GLossTextClassifier(prof["model"], **params)
    t0 = time.perf_counter()
    clf.fit(X, y)
    fit_s = time.perf_counter() - t0
    pred = clf.predict(Xd)
    by_inference, by_blend = {}, {}
    if getattr(clf, "graph_", None) is not None:
        by_inference, by_blend = score_by_inference(clf, Xd, yd)
    return {"dataset": dataset, "setting": setting, "seed": seed, "params": params, "n_train": len(X),
            "shots": args.shots, "unlabeled": args.unlabeled, "fraction": args.fraction, "pool": args.pool,
            "n_dev": len(Xd), **dev_scores(pred, yd),
            "dev_accuracy_by_inference": by_inference,
            "dev_accuracy_by_blend_weight": by_blend, "fit_seconds": fit_s, "best_epoch": clf.best_epoch_,
            "start_score": clf.start_score_, "n_iter": clf.n_iter_, "cv_results": getattr(clf, "cv_results_", None),
            "history": clf.history_,
            "machine": machine()}


def dev_scores(pred, yd):
    """Development accuracy and balanced accuracy (the mean of the per-class recalls): few-shot labeled rows are
    balanced, so a fit's cross-validation on them measures the second, while R8's development texts are not."""
    from sklearn.metrics import balanced_accuracy_score

    truth, pred = np.asarray(yd).astype(str), np.asarray(pred).astype(str)
    return {"dev_accuracy": float(np.mean(pred == truth)),
            "dev_balanced_accuracy": float(balanced_accuracy_score(truth, pred))}


def score_by_inference(clf, Xd, yd):
    """Development accuracy of a fit with a corpus graph under each ``inference``, and with ``"blend"`` at each
    predict-time ``blend_weight`` in ``BLEND_WEIGHTS`` (model selection during the fit used the setting's own).

    Two passes over ``Xd`` (head and graph probabilities); every blend is their combination, as ``predict`` makes it.
    """
    from skgloss.inference import combine_probabilities

    own = clf.inference
    try:
        proba = {}
        for inference in ("head", "graph"):
            clf.set_params(inference=inference)
            proba[inference] = clf.predict_proba(Xd)
    finally:
        clf.set_params(inference=own)
    truth = np.asarray(yd).astype(str)

    def accuracy(inference, weight):
        p = combine_probabilities(proba["head"], proba["graph"], inference, weight)
        return float(np.mean(clf.classes_[np.argmax(p, axis=1)].astype(str) == truth))

    by_inference = {inference: accuracy(inference, clf.blend_weight) for inference in ("head", "graph", "blend")}
    return by_inference, {str(w): accuracy("blend", w) for w in BLEND_WEIGHTS}


def frozen_baseline(dataset, setting, seed, prof, X, y, Xd, yd, shots, unlabeled):
    """``baseline=lr-frozen`` or ``baseline=labelspreading-frozen`` on the frozen encoder's embeddings."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import LabelSpreading

    from skgloss.encoder import embed_texts, load_encoder

    enc, tok = load_encoder(prof["model"])
    t0 = time.perf_counter()
    y = np.asarray(y, dtype=object)
    labeled = np.flatnonzero(np.asarray([v != -1 for v in y]))

    def embed(texts, normalise=False):
        E = embed_texts(enc, tok, texts, pooling="mean", max_length=prof["max_length"], batch_size=64,
                        device=torch.device("cpu"))
        return E / np.linalg.norm(E, axis=1, keepdims=True) if normalise else E

    if setting["baseline"] == "lr-frozen":
        model = LogisticRegression(max_iter=1000).fit(embed([X[i] for i in labeled]), y[labeled].astype(str))
        pred = model.predict(embed(Xd))
    else:
        classes = np.array(sorted(set(y[labeled].astype(str))), dtype=object)
        codes = np.full(len(y), -1)
        codes[labeled] = np.searchsorted(classes, y[labeled].astype(str))
        model = LabelSpreading(kernel="knn", n_neighbors=10, alpha=0.2, max_iter=100).fit(embed(X, True), codes)
        pred = classes[model.predict(embed(Xd, True))]
    return {"dataset": dataset, "setting": setting, "seed": seed, "params": {}, "n_train": len(X), "shots": shots,
            "unlabeled": unlabeled, "n_dev": len(Xd), **dev_scores(pred, yd), "fit_seconds": time.perf_counter() - t0,
            "best_epoch": None, "start_score": None, "n_iter": 0, "history": [], "machine": machine()}


def render(runs=RUNS, out=RESULTS / "sweep.md"):
    records = [json.loads(p.read_text()) for p in sorted(runs.glob("*.json"))]
    if not records:
        raise SystemExit(f"no sweep cells in {runs}")
    lines = ["# Sweep (development accuracy, never test)", "",
             "Development accuracy (%) on texts of each training set outside the `cpu` profile's subset, "
             "mean ± std over seeds (n = seeds). Rendered by `python benchmarks/sweep.py --render` from "
             "`benchmarks/results/runs/sweep/`. Best epoch: 0 is the starting point, nan a fit without "
             "validation. Fit seconds: median over the cells on the 2-core CPU; some cells ran beside another "
             "job, so the seconds are indicative only. Commit: the code each row's cells ran on (rows of "
             "different commits are different versions of skgloss: an option such as "
             "`refit_head=\"overwrite\"` may no longer exist). Cells whose `machine` has "
             "`cpu_native_bf16` computed in bfloat16 (`precision=\"auto\"`), the others in float32.", ""]
    def regime(r):
        return r["dataset"], r.get("shots") or 0, r.get("unlabeled", 0), r.get("fraction") or 0

    for dataset, shots, unlabeled, fraction in sorted({regime(r) for r in records}):
        rows = [r for r in records if regime(r) == (dataset, shots, unlabeled, fraction)]
        settings = []
        for r in rows:
            if row_name(r) not in settings:
                settings.append(row_name(r))
        by = {(row_name(r), r["seed"]): r for r in rows}
        what = (f"{shots} labeled texts per class, {unlabeled} unlabeled" if shots
                else f"{fraction:.0%} of a pool of {max(r.get('pool') or r['n_train'] for r in rows)} training texts labeled"
                if fraction
                else f"{rows[0]['n_train']} training texts")
        lines += [f"## {dataset} ({what}; {rows[0]['n_dev']} development texts)", "",
                  "| setting | dev accuracy | n | paired vs `defaults` or else the best row (per seed) "
                  "| best epoch (mean) | fit s | commit |",
                  "|---|---|---|---|---|---|---|"]
        acc = {name: {s: 100 * by[name, s]["dev_accuracy"] for (n, s) in by if n == name} for name in settings}
        order = sorted(settings, key=lambda n: -np.mean(list(acc[n].values())))
        # paired against the current defaults where the regime has them, else against the best row
        best = "defaults" if "defaults" in settings else order[0]
        for name in order:
            seeds = sorted(acc[name])
            a = np.array([acc[name][s] for s in seeds])
            paired = [acc[name][s] - acc[best][s] for s in seeds if s in acc[best]]
            diff = (f"{np.mean(paired):+.2f} ({', '.join(f'{d:+.1f}' for d in paired)})"
                    + (f", n = {len(paired)}" if len(paired) != len(seeds) else "")  # fewer pairs than seeds
                    if name != best and paired else "")
            epochs = [by[name, s]["best_epoch"] for s in seeds if by[name, s]["best_epoch"] is not None]
            secs = np.median([by[name, s]["fit_seconds"] for s in seeds])
            commits = sorted({by[name, s]["machine"].get("git_commit") or "?" for s in seeds})
            sd = a.std(ddof=1) if len(a) > 1 else 0.0  # the sample std, as every table of the project
            lines.append(f"| `{name}` | {a.mean():.2f} ± {sd:.2f} | {len(seeds)} | {diff} | "
                         f"{np.mean(epochs) if epochs else float('nan'):.1f} | {secs:.0f} | {' '.join(commits)} |")
        lines.append("")
        blends = [r for r in rows if r.get("dev_accuracy_by_blend_weight")]
        if blends:
            lines += ["Predict-time `blend_weight` (`inference=\"blend\"`; the same fitted model, scored with "
                      "each weight: 0 is the head alone, 1 the corpus graph alone; the fit's model selection "
                      "used its own weight):", "",
                      "| setting | seed | " + " | ".join(f"{w:g}" for w in BLEND_WEIGHTS) + " |",
                      "|---|---|" + "---|" * len(BLEND_WEIGHTS)]
            for r in sorted(blends, key=lambda r: (row_name(r), r["seed"])):
                acc = r["dev_accuracy_by_blend_weight"]
                lines.append(f"| `{row_name(r)}` | {r['seed']} | "
                             + " | ".join(f"{100 * acc[str(w)]:.2f}" for w in BLEND_WEIGHTS) + " |")
            lines.append("")
    out.write_text("\n".join(lines))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["20ng", "r8"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--grid", nargs="*", default=[], help="name=v1,v2 ... (values parsed as JSON where they can be)")
    p.add_argument("--n-dev", type=int, default=500)
    p.add_argument("--shots", type=int, default=None, help="labeled texts per class (few-shot regime)")
    p.add_argument("--unlabeled", type=int, default=0, help="with --shots: texts marked -1")
    p.add_argument("--fraction", type=float, default=None, help="share of the pool labeled (label-scarcity regime)")
    p.add_argument("--pool", type=int, default=2000, help="with --fraction: training texts in the pool")
    p.add_argument("--data-home", default=data_home())
    p.add_argument("--tag", default=None, help="label of cells whose setting ran before on other code (the defaults "
                   "after a change to the library): their files and row carry it, the untagged row stays")
    p.add_argument("--render", action="store_true", help="only write benchmarks/results/sweep.md")
    args = p.parse_args(argv)
    if args.render:
        print(render())
        return 0
    for dataset in args.datasets:
        for seed in args.seeds:
            for setting in parse_grid(args.grid):
                path = cell_path(dataset, setting, seed, args)
                if path.is_file():
                    continue
                record = run_cell(dataset, setting, seed, args)
                if args.tag:
                    record["tag"] = args.tag
                write_cell(path, record)
                print(f"{dataset} {setting_name(setting)} seed {seed}: dev {record['dev_accuracy']:.4f} "
                      f"(best epoch {record['best_epoch']}, start {record['start_score']}, "
                      f"{record['fit_seconds']:.0f} s)", flush=True)
    print(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
