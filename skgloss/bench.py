"""The accuracy harness: losses compared under one budget, resumable.

Run it as ``skgloss bench`` (or ``python -m skgloss.bench``, or
``python benchmarks/harness.py`` in a source checkout).

Protocol (:doc:`method`, evaluation protocol): 10 % of the training texts held out (stratified,
seeded) for early stopping on validation accuracy; test accuracy and macro-F1;
the epoch of the best validation score; seconds per epoch; peak memory. Every
(profile, dataset, variant, seed) cell is one JSON file under
``<runs-dir>/<profile>/`` (default ``benchmarks/results/runs``, relative to the
current folder); a cell whose file exists is not run again, so an interrupted
harness picks up where it stopped. Each cell runs in its own process, so its
peak memory is its own. The data come from :func:`skgloss.datasets.load_benchmark`
(``--data-home`` or ``$SKGLOSS_DATA``).

Variants: ``ce``, ``supcon``, ``gloss`` (in-batch G-Loss), ``gloss-graph``
and ``kl`` (the summary's neighbour-consistency loss). With every label
known, a corpus graph changes a G-Loss fit only through what uses it, so
``gloss-graph`` uses all of it: graph-aware batches and blended head + graph
inference (a corpus graph with neither would give exactly the ``gloss`` fit).

Profiles:

- ``cpu``: all-MiniLM-L6-v2 (offline package), a stratified training subset
  of 1,000 texts (MR, R8) or 500 texts (R52, Ohsumed, 20NG: sized so that
  the whole profile fits about two hours on 2 cores) and 1,000 test texts per
  dataset, max_length 64, batch 32, at most 3 epochs: 40 to 90 s a cell on 2
  cores;
- ``gpu``: full training and test sets, max_length 128, batch 128, at most 10
  epochs. ``--model bert-base-uncased`` (or any local folder) swaps the encoder
  where it can be downloaded.

Usage::

    skgloss bench --profile cpu --datasets mr r8 --seeds 0 1 2
    python benchmarks/render_tables.py --profile cpu
"""


from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ._logging import logger, verbosity

__all__ = ["PROFILES", "VARIANTS", "DATASETS", "cell_path", "fit_cell", "machine", "main", "run_cell",
           "stratified_sample", "subset"]

RUNS = Path("benchmarks") / "results" / "runs"

PROFILES = {
    "cpu": {"model": "sentence-transformers/all-MiniLM-L6-v2", "max_length": 64, "batch_size": 32,
            "max_epochs": 3, "learning_rate": 5e-5,
            "n_train": {"mr": 1000, "r8": 1000, "r52": 500, "ohsumed": 500, "20ng": 500}, "n_test": 1000},
    "gpu": {"model": "sentence-transformers/all-MiniLM-L6-v2", "max_length": 128, "batch_size": 128,
            "max_epochs": 10, "learning_rate": 5e-5, "n_train": None, "n_test": None},
}

VARIANTS = {
    "ce": {"loss": "ce"},
    "supcon": {"loss": "supcon"},
    "gloss": {"loss": "gloss"},
    "gloss-graph": {"loss": "gloss", "batching": "graph", "inference": "blend"},
    "kl": {"loss": "kl"},
}

DATASETS = ("mr", "r8", "r52", "ohsumed", "20ng")


def cell_path(runs_dir, profile, dataset, variant, seed):
    return Path(runs_dir) / profile / f"{dataset}__{variant}__seed{seed}.json"


def machine():
    """Versions, git commit and hardware facts recorded with every benchmark result."""
    import platform

    import numba  # the corpus graph's kNN search and label spreading
    import torch

    from . import __version__
    from .devices import cpu_has_native_bf16

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "skgloss": __version__, "git_commit": commit, "python": sys.version.split()[0],
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "numba_threads": numba.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        # precision="auto" computes in bfloat16 on such a CPU and in float32 elsewhere
        "cpu_native_bf16": cpu_has_native_bf16(),
    }


def stratified_sample(labels, n, seed):
    """Indices of n rows, stratified by label, in a seeded random order."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    if n >= len(labels):
        return np.random.default_rng(seed).permutation(idx)
    picked, _ = train_test_split(idx, train_size=n, stratify=np.asarray(labels), random_state=seed)
    return picked


def per_dataset(value, dataset):
    """A profile setting: one value for every dataset, or a ``{dataset: value}`` dict."""
    return value[dataset] if isinstance(value, dict) else value


def subset(labels, n, seed):
    """Stratified where every class can be, else uniformly random, n rows."""
    if n is None or n >= len(labels):
        return np.arange(len(labels))
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    if counts.min() >= 2:
        return np.sort(stratified_sample(labels, n, seed))
    return np.sort(np.random.default_rng(seed).choice(len(labels), n, replace=False))


def fit_cell(spec, X, y):
    """Fit one cell's estimator (its profile's settings and variant) on ``X, y``.

    ``spec["params"]``, where given, overrides parameters of the variant.
    Returns the fitted :class:`skgloss.GLossTextClassifier`, its parameters
    and the seconds the fit took.
    """
    from .classifier import GLossTextClassifier

    params = {"max_length": spec["max_length"], "batch_size": spec["batch_size"], "max_epochs": spec["max_epochs"],
              "learning_rate": spec["learning_rate"], "validation_fraction": 0.1, "random_state": spec["seed"],
              **VARIANTS[spec["variant"]], **spec.get("params", {})}
    if spec.get("precision"):
        params["precision"] = spec["precision"]
    clf = GLossTextClassifier(spec["model"], **params)
    t0 = time.perf_counter()
    clf.fit(X, y)
    return clf, params, time.perf_counter() - t0


def run_cell(spec):
    """Fit and score one cell; returns the record written to its JSON file."""
    import torch
    from sklearn.metrics import accuracy_score, f1_score

    from .datasets import load_benchmark

    X, y, Xt, yt = load_benchmark(spec["dataset"], data_home=spec["data_home"], verify=spec.get("verify", True))
    tr = subset(y, per_dataset(spec["n_train"], spec["dataset"]), seed=0)
    te = subset(yt, per_dataset(spec["n_test"], spec["dataset"]), seed=0)
    X, y = [X[i] for i in tr], [y[i] for i in tr]
    Xt, yt = [Xt[i] for i in te], [yt[i] for i in te]
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    clf, params, fit_s = fit_cell(spec, X, y)
    pred = clf.predict(Xt)
    yt_arr = np.asarray(yt, dtype=pred.dtype)
    return {
        **{k: spec[k] for k in ("profile", "dataset", "variant", "seed", "model")},
        "params": params, "n_train": len(X), "n_test": len(Xt),
        "test_accuracy": float(accuracy_score(yt_arr, pred)),
        "test_macro_f1": float(f1_score(yt_arr, pred, average="macro")),
        "precision": clf.precision_,
        "best_epoch": clf.best_epoch_, "start_score": clf.start_score_, "n_iter": clf.n_iter_, "fit_seconds": fit_s,
        "seconds_per_epoch": float(np.mean([h["seconds"] for h in clf.history_])),
        "peak_rss_mib": _peak_rss_mib(),
        "peak_cuda_mib": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None,
        "history": clf.history_, "machine": machine(),
    }


def _peak_rss_mib():
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / 2**20


def cells(profile, datasets, variants, seeds):
    return [(d, v, s) for d in datasets for s in seeds for v in variants]


def build_parser(p=None):
    """The harness's options, on ``p`` (a sub-command's parser) or a new parser."""
    p = p or argparse.ArgumentParser(prog="skgloss bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--model", help="encoder (default: the profile's)")
    p.add_argument("--n-train", type=int, help="override the profile's training subset size")
    p.add_argument("--n-test", type=int, help="override the profile's test subset size")
    p.add_argument("--max-epochs", type=int)
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"],
                   help="the estimator's precision (default: its own, 'auto'; e.g. fp32 to compare with bf16 "
                        "on a CPU with native bf16); give such cells their own --runs-dir")
    p.add_argument("--data-home", default=None, help="benchmark data folder (default: $SKGLOSS_DATA)")
    p.add_argument("--runs-dir", default=str(RUNS), help="where cell files go (default: %(default)s)")
    p.add_argument("--no-verify", action="store_true", help="skip the data checksums")
    p.add_argument("--in-process", action="store_true", help="run cells in this process (tests)")
    p.add_argument("--run-one", help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None):
    """Run the harness with command-line arguments ``argv``; returns the exit status."""
    return run(build_parser().parse_args(argv))


def run(args):
    """Run the cells that ``args`` (parsed by :func:`build_parser`) name and that are not finished."""
    if args.run_one:  # child process: one cell
        spec = json.loads(args.run_one)
        out = Path(spec["out"])
        try:
            record = run_cell(spec)
        except Exception as exc:  # one line a failed cell; the traceback with --debug
            if spec.get("debug"):
                raise
            with verbosity(1):  # this process's stderr is the harness's: shown whatever logging is set up
                logger.error("cell %s/%s/seed %d: %s: %s (--debug shows the traceback)", spec["dataset"],
                             spec["variant"], spec["seed"], type(exc).__name__, exc)
            return 1
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, out)  # a cell file exists only once complete
        return 0

    from tqdm import tqdm

    from .datasets import benchmark_files

    prof = dict(PROFILES[args.profile])
    for key in ("model", "n_train", "n_test", "max_epochs", "precision"):
        if getattr(args, key) is not None:
            prof[key] = getattr(args, key)
    todo = [c for c in cells(args.profile, args.datasets, args.variants, args.seeds)
            if not cell_path(args.runs_dir, args.profile, *c).is_file()]
    for dataset in dict.fromkeys(c[0] for c in todo):  # a missing data folder or file fails once, before any cell
        benchmark_files(dataset, data_home=args.data_home)
    logger.info("%d cells to run (%s profile); finished cells are kept in %s", len(todo), args.profile,
                Path(args.runs_dir) / args.profile)
    failures = 0
    for dataset, variant, seed in tqdm(todo, desc="cells", disable=args.quiet):
        spec = {"profile": args.profile, "dataset": dataset, "variant": variant, "seed": seed, **prof,
                "data_home": args.data_home, "verify": not args.no_verify, "debug": getattr(args, "debug", False),
                "out": str(cell_path(args.runs_dir, args.profile, dataset, variant, seed))}
        if args.in_process:
            returncode = main(["--run-one", json.dumps(spec)])
        else:
            command = [sys.executable, "-m", "skgloss.bench", "--run-one", json.dumps(spec)]
            returncode = subprocess.run(command).returncode
        if returncode != 0:
            failures += 1
            logger.warning("cell %s/%s/seed %d failed (exit %d)", dataset, variant, seed, returncode)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
