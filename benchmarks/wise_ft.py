"""Few shots, development texts: interpolating the fine-tuned encoder's weights back towards the pre-trained ones.

The diagnostic behind the estimator's few-shot midpoint (since package commit
726e055 a fit with too few labeled rows to hold out ships ``a = 0.5``; the
cells here ran on the code before it, and the script now fits with that
midpoint switched off, so that ``a = 1`` stays the fine-tuned encoder and
``shipped`` the fit as it was). For each few-shot development
cell of ``benchmarks/sweep.py`` (``--shots K``, no ``-1`` rows, the same
labeled texts and 500 development texts per seed) it fits
``GLossTextClassifier`` with the estimator's defaults (max_length 64), then
builds encoders whose weights are ``(1 - a) * pre-trained + a * fine-tuned``
for ``a`` in :data:`ALPHAS` (weight-space ensembling, as in WiSE-FT, Wortsman
et al. 2022, "Robust fine-tuning of zero-shot models"), fits the estimator's
closed-form head (:func:`skgloss.head.fit_linear_head`, C = 1) on each one's
embeddings of the labeled texts and scores the development texts. ``a = 0``
is logistic regression on the frozen encoder (the estimator's head solver),
``a = 1`` the fine-tuned encoder with a refit head; ``shipped`` is what the
fit itself predicts. The question: does a fixed point between the two, which
chooses nothing, hold up where the cross-validated choice of epochs cannot
rank recipes (64-256 labeled rows)?

One JSON per (dataset, shots, seed) under ``benchmarks/results/runs/wise_ft/``;
``--render`` writes ``benchmarks/results/wise_ft.md``. With ``--steps N`` the
fits run about N optimizer steps to the end instead, nothing chosen
(``max_epochs = ceil(N / ceil(n_labeled / 32))``, ``validation_fraction=0``;
``benchmarks/step_budget.py``), their cells under ``runs/wise_ft_stepsN/`` and
the table in ``results/wise_ft_stepsN.md``.

Usage::

    python benchmarks/wise_ft.py --datasets mr r8 --shots 32 8 --seeds 0 1 2
    python benchmarks/wise_ft.py --render
    python benchmarks/wise_ft.py --datasets mr r8 --shots 32 8 --seeds 0 1 2 --steps 128
    python benchmarks/wise_ft.py --render --steps 128
"""

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS, data_home, machine, write_cell  # noqa: E402
from sweep import dev_scores, splits  # noqa: E402

RUNS = RESULTS / "runs" / "wise_ft"
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MAX_LENGTH = 64


def interpolated(pretrained, finetuned, alpha):
    """A copy of ``pretrained`` whose floating-point weights are ``(1 - alpha)·pretrained + alpha·finetuned``."""
    model = copy.deepcopy(pretrained)
    tuned = finetuned.state_dict()
    state = {k: ((1 - alpha) * v + alpha * tuned[k].to(v.dtype)) if v.is_floating_point() else v
             for k, v in pretrained.state_dict().items()}
    model.load_state_dict(state)
    return model.eval()


def step_budget_params(n_labeled, steps, batch_size=32):
    """Estimator parameters of a fit of about ``steps`` optimizer steps run to its end, nothing chosen."""
    from skgloss.training import step_budget_epochs

    return {"max_epochs": step_budget_epochs(n_labeled, batch_size, steps), "validation_fraction": 0.0}


def run_cell(dataset, shots, seed, data, steps=None):
    from unittest import mock

    import torch

    import skgloss.classifier
    from skgloss import GLossTextClassifier
    from skgloss.encoder import embed_texts, load_encoder
    from skgloss.head import fit_linear_head

    args = argparse.Namespace(shots=shots, unlabeled=0, fraction=None, pool=None, n_dev=500, data_home=data)
    X, y, Xd, yd = splits(dataset, seed, args)
    t0 = time.perf_counter()
    params = {} if steps is None else step_budget_params(len(X), steps)
    clf = GLossTextClassifier(MODEL, max_length=MAX_LENGTH, random_state=seed, **params)
    with mock.patch.object(skgloss.classifier, "_FEW_SHOT_ENCODER_MIX", 1.0):  # the fine-tuned encoder as it is
        clf.fit(X, y)
    fit_s = time.perf_counter() - t0
    shipped = dev_scores(clf.predict(Xd), yd)
    pretrained, tokenizer = load_encoder(MODEL)
    y_idx = np.searchsorted(clf.classes_, np.asarray(y, dtype=object))
    by_alpha = {}
    for alpha in ALPHAS:
        encoder = interpolated(pretrained, clf.encoder_, alpha)

        def embed(texts):
            return embed_texts(encoder, tokenizer, texts, pooling=clf.pooling, max_length=MAX_LENGTH, batch_size=64,
                               device=torch.device("cpu"), precision=clf.precision_)

        head = fit_linear_head(torch.nn.Linear(clf.n_features_out_, len(clf.classes_)), embed(X), y_idx, C=1.0)
        with torch.no_grad():
            logits = head(torch.as_tensor(embed(Xd), dtype=torch.float32)).numpy()
        by_alpha[str(alpha)] = dev_scores(clf.classes_[np.argmax(logits, axis=1)], yd)
    return {"dataset": dataset, "shots": shots, "seed": seed, "n_train": len(X), "n_dev": len(Xd),
            "params": params, "shipped": shipped, "by_alpha": by_alpha, "cv_results": clf.cv_results_,
            "fit_seconds": fit_s, "precision": clf.precision_, "machine": machine()}


def runs_dir(steps=None):
    return RUNS if steps is None else RESULTS / "runs" / f"wise_ft_steps{steps}"


def cell_path(dataset, shots, seed, steps=None):
    return runs_dir(steps) / f"{dataset}__{shots}shot__seed{seed}.json"


def render(steps=None):
    records = [json.loads(p.read_text()) for p in sorted(runs_dir(steps).glob("*.json"))]
    title = "" if steps is None else f", fits of about {steps} optimizer steps run to the end"
    lines = ["# Few shots: the fine-tuned encoder interpolated towards the pre-trained one (development "
             f"texts{title})", "",
             "Development accuracy (%) on 500 texts outside the labeled ones, no `-1` rows, all-MiniLM-L6-v2, "
             "max_length 64; a: the weight of the fine-tuned encoder (0: the pre-trained encoder, 1: the "
             "fine-tuned one), each with the estimator's closed-form head refit on the labeled texts; `shipped`: "
             "what the fit itself predicts. Mean over seeds, then the per-seed values. Rendered by "
             f"`python benchmarks/wise_ft.py --render{'' if steps is None else f' --steps {steps}'}` from "
             f"`benchmarks/results/runs/{runs_dir(steps).name}/`.", "",
             "| dataset | labeled / class | seeds | shipped | " + " | ".join(f"a = {a:g}" for a in ALPHAS) + " |",
             "|---|---|---|---|" + "---|" * len(ALPHAS)]
    cells = {}
    for r in records:
        cells.setdefault((r["dataset"], r["shots"]), []).append(r)
    for (dataset, shots), rs in sorted(cells.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        rs = sorted(rs, key=lambda r: r["seed"])

        def fmt(values):
            return f"{100 * np.mean(values):.2f} ({', '.join(f'{100 * v:.1f}' for v in values)})"

        row = [fmt([r["shipped"]["dev_accuracy"] for r in rs])]
        row += [fmt([r["by_alpha"][str(a)]["dev_accuracy"] for r in rs]) for a in ALPHAS]
        lines.append(f"| {dataset} | {shots} | {', '.join(str(r['seed']) for r in rs)} | " + " | ".join(row) + " |")
    text = "\n".join(lines) + "\n"
    (RESULTS / ("wise_ft.md" if steps is None else f"wise_ft_steps{steps}.md")).write_text(text)
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mr", "r8"])
    p.add_argument("--shots", type=int, nargs="+", default=[32, 8])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--data-home", default=data_home())
    p.add_argument("--render", action="store_true")
    p.add_argument("--steps", type=int, default=None, help="fit for about this many optimizer steps, nothing chosen")
    args = p.parse_args(argv)
    if not args.render:
        for seed in args.seeds:
            for dataset in args.datasets:
                for shots in args.shots:
                    path = cell_path(dataset, shots, seed, args.steps)
                    if path.is_file():
                        continue
                    record = run_cell(dataset, shots, seed, args.data_home, args.steps)
                    write_cell(path, record)
                    print(f"{dataset} {shots}/class seed {seed}: shipped {record['shipped']['dev_accuracy']:.4f}, "
                          + ", ".join(f"a={a}: {v['dev_accuracy']:.4f}" for a, v in record["by_alpha"].items()),
                          flush=True)
    print(render(args.steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
