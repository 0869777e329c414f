"""Cross-validation when some training rows are unlabeled (``-1``).

A plain ``StratifiedKFold`` would treat ``-1`` as a class: unlabeled rows
would land in test folds (where there is nothing to score) and be missing
from training folds (where the corpus graph needs them). Here:

- :class:`SemiSupervisedKFold` splits the labeled rows into stratified folds
  and puts every unlabeled row in every training fold, never in a test fold;
- :func:`labeled_scorer` wraps a metric so that it scores only rows whose
  label is not ``-1``.

``GLossTextClassifier.score`` already ignores ``-1`` rows, so
``GridSearchCV(clf, grid, cv=SemiSupervisedKFold(3))`` measures the right
thing with the default scoring.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils import _safe_indexing

from ._validation import comparable_labels, encode_multilabel, is_multilabel, is_unlabeled, labeled_mask

__all__ = ["SemiSupervisedKFold", "labeled_scorer", "unlabeled_mask"]


def _label_column(y) -> np.ndarray:
    """Single-label ``y`` as a 1-D array, as ``fit`` reads it (pandas as its values, one column as a column)."""
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    y = np.asarray(y, dtype=object) if isinstance(y, (list, tuple)) else np.asarray(y)
    return y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y


def _n_rows(y):
    return y.shape[0] if hasattr(y, "shape") else len(y)


def unlabeled_mask(y) -> np.ndarray:
    """Boolean mask of the rows of ``y`` marked ``-1``.

    ``y`` as ``fit`` takes it: labels (a list, array, Series or one
    column), or multi-label targets (an indicator whose unlabeled rows are
    ``-1`` throughout, or label sets with ``-1`` in place of a set).
    """
    if is_multilabel(y):
        _, Y = encode_multilabel(y, _n_rows(y))
        return ~labeled_mask(Y)
    y = _label_column(y)
    return np.fromiter((is_unlabeled(v) for v in y), dtype=bool, count=y.shape[0])


class SemiSupervisedKFold:
    """Stratified K-fold over labeled rows; unlabeled rows always train.

    Parameters
    ----------
    n_splits : int >= 2, default=5
    shuffle : bool, default=True
    random_state : int, RandomState or None
        Seed of the shuffling (when ``shuffle``).

    Examples
    --------
    >>> import numpy as np
    >>> from skgloss.model_selection import SemiSupervisedKFold
    >>> y = np.array([0, 1, -1, 0, 1, -1, 0, 1])
    >>> for train, test in SemiSupervisedKFold(2, random_state=0).split(np.zeros(8), y):
    ...     assert not np.isin([2, 5], test).any() and np.isin([2, 5], train).all()
    """

    def __init__(self, n_splits=5, *, shuffle=True, random_state=None):
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def split(self, X, y, groups=None):
        """Yield ``(train, test)`` index arrays; test holds labeled rows only."""
        if y is None:
            raise ValueError("SemiSupervisedKFold needs y to know which rows are unlabeled")
        unlabeled = unlabeled_mask(y)
        labeled = np.flatnonzero(~unlabeled)
        seed = self.random_state if self.shuffle else None
        if is_multilabel(y):  # label sets do not stratify: plain folds of the labeled rows
            inner, y_lab = KFold(self.n_splits, shuffle=self.shuffle, random_state=seed), None
        else:
            inner = StratifiedKFold(self.n_splits, shuffle=self.shuffle, random_state=seed)
            y_lab = _label_column(y).astype(object)[labeled].astype(str)
        unl = np.flatnonzero(unlabeled)
        for tr, te in inner.split(labeled, y_lab):
            yield np.sort(np.concatenate([labeled[tr], unl])), labeled[te]

    def __repr__(self):
        return (f"SemiSupervisedKFold(n_splits={self.n_splits}, shuffle={self.shuffle}, "
                f"random_state={self.random_state})")


def labeled_scorer(score_func=accuracy_score, **kwargs):
    """A scorer that evaluates ``score_func`` on the rows whose label is not ``-1``.

    Parameters
    ----------
    score_func : callable ``(y_true, y_pred, **kwargs) -> float``, default=accuracy_score
    **kwargs
        Passed to ``score_func`` (e.g. ``average="macro"`` for ``f1_score``).

    Returns
    -------
    scorer : callable ``(estimator, X, y) -> float`` for ``GridSearchCV(scoring=...)``
    """
    def score(estimator, X, y):
        keep = ~unlabeled_mask(y)
        if not keep.any():
            raise ValueError("every row of y is -1: nothing to score")
        # X keeps its own type (a list, an array, a DataFrame for a pipeline's first step)
        y_pred = estimator.predict(_safe_indexing(X, np.flatnonzero(keep)))
        if is_multilabel(y):
            _, Y = encode_multilabel(y, _n_rows(y), classes=getattr(estimator, "classes_", None))
            return score_func(Y[keep], y_pred, **kwargs)
        # the kept labels (after the -1 rows are gone) and the predictions of one kind where that loses nothing
        return score_func(*comparable_labels(_label_column(y).astype(object)[keep], y_pred), **kwargs)

    score.__name__ = f"labeled_{getattr(score_func, '__name__', 'score')}"
    return score
