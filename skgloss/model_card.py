"""The model card: the ``README.md`` that :func:`skgloss.persistence.save_model` writes into a model folder.

It follows the Hugging Face Hub's convention: YAML metadata between ``---``
lines (``library_name``, ``base_model`` where the encoder was a Hub id,
``pipeline_tag``, ``tags``), then a page for people: the base encoder, the
loss and its parameters, the classes, how many texts trained it, the epochs
run and kept with their validation accuracy, the skgloss version, and how to
load it (as a skgloss estimator, and its ``encoder/`` as a
sentence-transformers model). Everything on it comes from the fitted
estimator; nothing is typed by hand.
"""

from __future__ import annotations

import json
import os

from . import __version__

__all__ = ["model_card"]

#: Parameters the card shows in its summary, by loss (the full list follows in a JSON block).
_LOSS_PARAMS = {"gloss": ("lam", "gamma", "n_neighbors"), "supcon": ("lam",), "kl": ("lam",), "ce": ()}


def _is_hub_id(name) -> bool:
    """``"org/name"`` or ``"name"`` that is not a local path."""
    name = os.fspath(name)
    return not (os.path.isabs(name) or name.startswith((".", "~")) or os.path.exists(name)
                or name.count("/") > 1 or "\\" in name)


def _kept_validation(est):
    """``(epoch, accuracy)`` of the model the fit kept, or None without validation."""
    if est.best_epoch_ is None:
        return None
    if est.best_epoch_ == 0:
        return 0, est.start_score_
    return est.best_epoch_, est.history_[est.best_epoch_ - 1].get("val_score")


def model_card(est, params: dict, title: str = "skgloss model") -> str:
    """The card of a fitted estimator as Markdown text (``params``: its parameters as JSON data)."""
    base = params["model_name_or_path"]
    meta = ["---", "library_name: skgloss", "pipeline_tag: text-classification",
            "tags:", "- skgloss", "- g-loss", "- text-classification", "- sentence-transformers"]
    if _is_hub_id(base):
        meta.insert(1, f"base_model: {base}")
    meta.append("---")
    classes = [str(c) for c in est.classes_.tolist()]
    loss = params["loss"]
    loss_params = ", ".join(f"{k}={params[k]!r}" for k in _LOSS_PARAMS.get(loss, ()))
    if est.sigma_ is not None:
        loss_params += (", " if loss_params else "") + f"sigma={est.sigma_:.4g}"
    n = getattr(est, "n_samples_fit_", None)
    n_labeled = getattr(est, "n_labeled_fit_", None)
    rows = [("base encoder", f"`{base}`"),
            ("loss", f"`{loss}`" + (f" ({loss_params})" if loss_params else "")),
            ("classes", f"{len(classes)}: " + ", ".join(f"`{c}`" for c in classes[:50])
             + (", ..." if len(classes) > 50 else "")),
            ("training texts", "unknown" if n is None else
             f"{n:,}" + ("" if n_labeled is None else f" ({n_labeled:,} labeled, {n - n_labeled:,} unlabeled)")),
            ("epochs run", str(est.n_iter_))]
    cv = getattr(est, "cv_results_", None)
    if cv and cv.get("unlabeled_set_aside"):
        rows.append(("unlabeled texts", f"{cv['unlabeled_set_aside']:,} set aside: the pre-trained encoder barely "
                                        "separates the labeled classes (class separation "
                                        f"{cv['class_separation']:.3f} < {cv['min_class_separation']}), so its "
                                        "neighbours could not label them"))
    if cv and cv["n_folds"] == 0:
        rows.append(("epochs chosen", f"all {cv['chosen_epochs']} of a schedule of {cv['step_budget']} or more "
                                      "optimizer steps: the pre-trained encoder barely separates the classes "
                                      f"(class separation {cv['class_separation']:.3f} < "
                                      f"{cv['min_class_separation']}), so nothing was cross-validated"))
    elif cv:
        schedule = cv.get("schedule_epochs")
        rows.append(("epochs chosen", f"{cv['chosen_epochs']}"
                                      + (f" of a {schedule}-epoch schedule" if schedule else "")
                                      + f", by {cv['n_folds']}-fold cross-validation on the {cv['n_rows']} labeled "
                                        "texts"))
    mix = cv.get("encoder_mix", 1.0) if cv else 1.0
    if mix < 1 and est.n_iter_:
        rows.append(("shipped encoder", f"{1 - mix:g} × the pre-trained weights + {mix:g} × the fine-tuned ones "
                                        "(weight-space ensembling, as in every fit from the pre-trained encoder "
                                        "with too few labeled texts to hold any out), the head fitted on it"))
    kept = _kept_validation(est)
    if kept is None:
        rows.append(("validation", "none (every labeled text trained; the last epoch is kept)"))
    else:
        epoch, score = kept
        what = "the starting point (pre-trained encoder)" if epoch == 0 else f"epoch {epoch}"
        rows.append(("kept", f"{what}, validation accuracy {score:.4f}" if score is not None else what))
    rows += [("embedding width", str(est.n_features_out_)), ("pooling", f"`{params['pooling']}`"),
             ("max_length", str(params["max_length"])), ("skgloss version", __version__)]
    lines = meta + ["", f"# {title}", "",
                    f"A text classifier fine-tuned with skgloss (`GLossTextClassifier`, loss `{loss}`).", "",
                    "| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    lines += ["", "## Use", "", "```python", "from skgloss import GLossTextClassifier", "",
              'clf = GLossTextClassifier.from_pretrained("path/to/this/folder")',
              'clf.predict(["a text to classify"])', "```", "",
              "The `encoder/` folder is also a sentence-transformers model, with the same pooling"
              + (" (it cuts a text at max_length tokens, where this model averages the windows of a longer "
                 "text)" if params.get("long_text") == "chunk" else "") + ":", "",
              "```python", "from sentence_transformers import SentenceTransformer", "",
              'SentenceTransformer("path/to/this/folder/encoder").encode(["a text"])', "```", "",
              "## Parameters", "", "```json", json.dumps(params, indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)
