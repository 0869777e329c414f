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
from sklearn.model_selection import StratifiedKFold

from ._validation import check_texts, is_unlabeled, label_array

__all__ = ["SemiSupervisedKFold", "labeled_scorer", "unlabeled_mask"]


def unlabeled_mask(y) -> np.ndarray:
    """Boolean mask of the rows of ``y`` marked ``-1``."""
    y = np.asarray(y, dtype=object) if isinstance(y, (list, tuple)) else np.asarray(y)
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
        y_lab = np.asarray(y, dtype=object)[labeled].astype(str)
        inner = StratifiedKFold(self.n_splits, shuffle=self.shuffle,
                                random_state=self.random_state if self.shuffle else None)
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
        X_kept = [x for x, k in zip(check_texts(X), keep) if k]
        y_pred = estimator.predict(X_kept)
        # both sides typed as they are, never cast to the other's dtype (that cut longer strings short)
        return score_func(label_array(y)[keep], label_array(y_pred), **kwargs)

    score.__name__ = f"labeled_{getattr(score_func, '__name__', 'score')}"
    return score
