"""A fit is all or nothing: a failed or interrupted fit leaves the estimator as it was."""

import numpy as np
import pytest
from conftest import make_texts

from skgloss import GLossTextClassifier
from skgloss.classifier import _FITTED_ATTRIBUTES

FAST = dict(max_length=16, batch_size=8, max_epochs=1, learning_rate=2e-3, validation_fraction=0, random_state=0)


class Interrupt:
    """A callback that presses Ctrl-C at the end of the first epoch."""

    def on_epoch_end(self, epoch, record):
        raise KeyboardInterrupt


def fitted_state(clf):
    return {k: v for k, v in clf.__dict__.items() if k in _FITTED_ATTRIBUTES}


@pytest.fixture(scope="module")
def fitted(tiny_bert):
    X, y = make_texts(10)
    return GLossTextClassifier(tiny_bert, **FAST).fit(X, y), X


@pytest.mark.parametrize("breaks", [
    {"max_length": 65},  # beyond the tiny BERT's 64 positions: fails after the labels are read
    {"callbacks": [Interrupt()]},  # Ctrl-C after an epoch of training
])
def test_a_failed_refit_leaves_the_fitted_estimator_as_it_was(fitted, breaks):
    clf, X = fitted
    before_proba, before = clf.predict_proba(X), fitted_state(clf)
    other_labels = np.array(["x", "y", "z", "w"] * 5, dtype=object)
    clf.set_params(**breaks)
    try:
        with pytest.raises((ValueError, KeyboardInterrupt)):
            clf.fit(X, other_labels)
    finally:
        clf.set_params(**{k: FAST.get(k) for k in breaks})
    after = fitted_state(clf)
    assert after.keys() == before.keys()
    assert all(after[k] is before[k] for k in before)  # the very same objects, not a mix
    assert clf.classes_.tolist() == ["fruit", "vehicle"]
    np.testing.assert_array_equal(clf.predict_proba(X), before_proba)


def test_an_interrupted_first_fit_leaves_the_estimator_unfitted(tiny_bert):
    X, y = make_texts(10)
    clf = GLossTextClassifier(tiny_bert, **FAST, callbacks=[Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert not any(name in clf.__dict__ for name in _FITTED_ATTRIBUTES)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_a_successful_refit_replaces_every_fitted_attribute(tiny_bert):
    X, y = make_texts(10)
    y_semi = y.copy()
    y_semi[::3] = -1
    clf = GLossTextClassifier(tiny_bert, **FAST).fit(X, y_semi)  # semi-supervised: a corpus graph
    assert hasattr(clf, "graph_")
    clf.fit(X, y)  # fully labeled: no graph, so none of the old one may stay
    assert not hasattr(clf, "graph_") and not hasattr(clf, "label_distributions_")
