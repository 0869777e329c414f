"""Plots of what a fit learned: training curves, embeddings, label-spreading confidence.

Needs matplotlib (``pip install "skgloss[plot]"``). Every function returns a
:class:`matplotlib.figure.Figure` built without ``pyplot``, so nothing here
touches matplotlib's global state or needs a display; save it with
``fig.savefig("file.png")``, or use :func:`save_figure`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._validation import is_unlabeled

__all__ = ["plot_training_curves", "plot_embeddings", "plot_label_confidence", "save_figure"]


def _figure(figsize):
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("skgloss.plotting needs matplotlib: pip install 'skgloss[plot]'") from exc
    return Figure(figsize=figsize, layout="constrained")


def _history(history_or_estimator):
    history = getattr(history_or_estimator, "history_", history_or_estimator)
    if not isinstance(history, (list, tuple)) or not history or not all(isinstance(h, dict) for h in history):
        raise ValueError("plot_training_curves needs a fitted estimator or its non-empty history_ "
                         "(a list of one dict per epoch)")
    return history


_NOT_TERMS = {"epoch", "steps", "degenerate_batches", "masked_rows", "masked_rows_used", "val_score", "val_log_loss",
              "val_score_trained", "val_score_refit", "val_only_refit_correct",
              "val_only_trained_correct", "head", "seconds", "graph_seconds", "pseudo_labeled"}


def plot_training_curves(history, *, title=None, figsize=(8.0, 3.2)):
    """Loss terms and validation score per epoch.

    Parameters
    ----------
    history : GLossTextClassifier or list of dict
        A fitted estimator, or its ``history_``: one dict per epoch with the
        mean of each loss term (``loss``, ``ce``, ``gloss``, ``supcon``,
        ``kl``, ``pseudo``) and ``val_score``.
    title : str, optional
        Figure title.
    figsize : tuple of float, default=(8.0, 3.2)
        Size in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Two panels: each loss term against the epoch; the validation score
        (accuracy of the fit's inference mode on the held-out rows) against
        the epoch, when the fit had a validation split.
    """
    history_or_estimator, history = history, _history(history)
    fig = _figure(figsize)
    ax_loss, ax_val = fig.subplots(1, 2)
    epochs = [h["epoch"] for h in history]
    terms = [k for k in history[0] if k not in _NOT_TERMS and isinstance(history[0][k], (int, float))]
    terms += [k for h in history for k in h if k not in _NOT_TERMS and k not in terms
              and isinstance(h[k], (int, float))]
    for term in dict.fromkeys(terms):
        xs = [e for e, h in zip(epochs, history) if term in h]
        ax_loss.plot(xs, [h[term] for h in history if term in h], marker="o", label=term,
                     linewidth=2.5 if term == "loss" else 1.5)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("mean over the epoch's steps")
    ax_loss.set_title("loss terms")
    ax_loss.legend(fontsize=8)
    scores = [(e, h["val_score"]) for e, h in zip(epochs, history) if h.get("val_score") is not None]
    if scores:
        ax_val.plot(*zip(*scores), marker="o", color="tab:green")
        best = getattr(history_or_estimator, "best_epoch_", None)  # the epoch the fit kept (0: its start)
        if best is None:  # a bare history: the fit's order, accuracy then the lower log-loss
            best = max((h for h in history if h.get("val_score") is not None),
                       key=lambda h: (h["val_score"], -h.get("val_log_loss", 0.0)))["epoch"]
        ax_val.axvline(best, color="grey", linestyle=":", label=f"best epoch {best}")
        ax_val.legend(fontsize=8)
    else:
        ax_val.text(0.5, 0.5, "no validation split", ha="center", va="center", transform=ax_val.transAxes)
    ax_val.set_xlabel("epoch")
    ax_val.set_ylabel("validation accuracy")
    ax_val.set_title("validation")
    for ax in (ax_loss, ax_val):
        ax.set_xticks(epochs)
    if title:
        fig.suptitle(title)
    return fig


def plot_embeddings(embeddings, labels, *, method="pca", title=None, random_state=0, max_points=5000,
                    figsize=(5.0, 4.4)):
    """A 2-D projection of embeddings, coloured by class.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_features)
        Document embeddings, e.g. from ``clf.transform(texts)``.
    labels : array-like of shape (n_samples,)
        Class of each row; ``-1`` (unlabeled) rows are drawn in grey.
    method : {"pca", "tsne"}, default="pca"
        Projection: scikit-learn's ``PCA`` or ``TSNE`` (slower; perplexity
        ``min(30, (n - 1) / 3)``).
    title : str, optional
        Axes title; the silhouette score of the labeled rows in the full
        embedding space (cosine) is appended when there are two or more classes.
    random_state : int, default=0
        Seed of the projection and of the subsample.
    max_points : int, default=5000
        Larger inputs are subsampled (seeded) to this many rows.
    figsize : tuple of float, default=(5.0, 4.4)

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.metrics import silhouette_score

    X = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(labels, dtype=object)
    if X.ndim != 2 or X.shape[0] < 3:
        raise ValueError(f"embeddings must be 2-D with at least 3 rows, got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"labels must have one entry per embedding row ({X.shape[0]}), got shape {y.shape}")
    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    if X.shape[0] > max_points:
        keep = np.sort(np.random.default_rng(random_state).choice(X.shape[0], max_points, replace=False))
        X, y = X[keep], y[keep]
    if method == "pca":
        P = PCA(n_components=2, random_state=random_state).fit_transform(X)
    else:
        P = TSNE(n_components=2, perplexity=min(30.0, (X.shape[0] - 1) / 3), init="pca",
                 random_state=random_state).fit_transform(X)
    unlabeled = np.array([is_unlabeled(v) for v in y])
    classes = sorted({str(v) for v in y[~unlabeled]})
    fig = _figure(figsize)
    ax = fig.subplots()
    if unlabeled.any():
        ax.scatter(P[unlabeled, 0], P[unlabeled, 1], s=6, c="lightgrey", label="unlabeled")
    for i, c in enumerate(classes):
        m = np.array([str(v) == c for v in y])
        ax.scatter(P[m, 0], P[m, 1], s=8, color=_colour(i, len(classes)), label=c)
    text = title or ""
    labeled_y = np.array([str(v) for v in y[~unlabeled]])
    if len(classes) >= 2 and len(labeled_y) > len(classes):
        score = silhouette_score(X[~unlabeled], labeled_y, metric="cosine")
        text = f"{text} (silhouette {score:.3f})" if text else f"silhouette {score:.3f}"
    ax.set_title(text)
    ax.set_xlabel(f"{method.upper()} 1")
    ax.set_ylabel(f"{method.upper()} 2")
    ax.set_xticks([])
    ax.set_yticks([])
    if len(classes) <= 20:
        ax.legend(fontsize=7, markerscale=2, loc="best")
    return fig


def _colour(i, n):
    from matplotlib import colormaps

    return colormaps["tab10" if n <= 10 else "tab20"](i % 20)


def plot_label_confidence(label_distributions, y=None, *, threshold=None, title=None, figsize=(5.0, 3.4)):
    """Histogram of label-spreading confidence, ``max_c F_ic``, on unlabeled rows.

    Parameters
    ----------
    label_distributions : array-like of shape (n_samples, n_classes)
        ``F`` after label spreading, e.g. ``clf.label_distributions_``.
    y : array-like of shape (n_samples,), optional
        The labels the fit saw; only its ``-1`` rows are counted. Without it,
        every row is.
    threshold : float, optional
        Drawn as a vertical line (e.g. ``clf.pseudo_label_threshold``), with
        the share of rows at or above it.
    title : str, optional
    figsize : tuple of float, default=(5.0, 3.4)

    Returns
    -------
    fig : matplotlib.figure.Figure
        Rows no label reached (all-zero ``F``) are counted apart, in the title.
    """
    F = np.asarray(label_distributions, dtype=np.float64)
    if F.ndim != 2 or F.shape[0] == 0:
        raise ValueError(f"label_distributions must be 2-D and non-empty, got shape {F.shape}")
    rows = np.ones(F.shape[0], dtype=bool)
    if y is not None:
        y = np.asarray(y, dtype=object)
        if y.shape != (F.shape[0],):
            raise ValueError(f"y must have one entry per row of label_distributions ({F.shape[0]}), "
                             f"got shape {y.shape}")
        rows = np.array([is_unlabeled(v) for v in y])
        if not rows.any():
            raise ValueError("y has no unlabeled (-1) rows to show")
    conf = F[rows].max(axis=1)
    reached = F[rows].sum(axis=1) > 0
    fig = _figure(figsize)
    ax = fig.subplots()
    ax.hist(conf[reached], bins=np.linspace(0, 1, 41), color="tab:blue")
    if threshold is not None:
        share = float(np.mean(conf[reached] >= threshold)) if reached.any() else 0.0
        ax.axvline(threshold, color="tab:red", linestyle="--", label=f"threshold {threshold:g}: {100 * share:.1f} %")
        ax.legend(fontsize=8)
    ax.set_xlabel("confidence, max over classes of F")
    ax.set_ylabel("rows")
    n_unreached = int((~reached).sum())
    ax.set_title((title + "\n" if title else "") + f"{int(rows.sum())} rows, {n_unreached} not reached by any label")
    return fig


def save_figure(fig, path, *, dpi=110):
    """Write ``fig`` to ``path`` (PNG unless the suffix says otherwise); creates the folder. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
