"""Fits that go wrong quietly say so: a diverged loss, a graph term that never had a masked row."""

import warnings

import numpy as np
import pytest
from conftest import FRUIT, VEHICLE, make_texts

from skgloss import GLossTextClassifier

FAST = dict(max_length=16, batch_size=8, max_epochs=2, learning_rate=2e-3, random_state=0)
DIVERGING = dict(FAST, learning_rate=1e30)  # the first AdamW step sends every weight to ~1e30: inf, then NaN


def test_a_diverged_fit_with_validation_keeps_the_best_epoch_and_warns(tiny_bert):
    X, y = make_texts(10)
    with pytest.warns(RuntimeWarning, match=r"training loss became nan in epoch 1: training diverged "
                                            r"\(learning_rate=1e\+30"):
        clf = GLossTextClassifier(tiny_bert, **DIVERGING, validation_fraction=0.25).fit(X, y)
    assert clf.best_epoch_ == 0 and clf.n_iter_ == 1
    assert np.isfinite(clf.predict_proba(X)).all()


def test_a_diverged_fit_without_validation_fails_and_leaves_the_estimator_unfitted(tiny_bert):
    X, y = make_texts(10)
    clf = GLossTextClassifier(tiny_bert, **DIVERGING, validation_fraction=0)
    with pytest.raises(FloatingPointError, match="no earlier epoch to keep"):
        clf.fit(X, y)
    assert not hasattr(clf, "head_")


def test_every_batch_degenerate_is_a_warning(tiny_bert):
    words = FRUIT + VEHICLE
    X = [f"{w} {w} the" for w in words[:10]]
    y = np.arange(10)  # ten classes of one row each: nothing to mask, L_G never has a term
    with pytest.warns(UserWarning, match="every G-Loss batch was degenerate"):
        clf = GLossTextClassifier(tiny_bert, **FAST, validation_fraction=0).fit(X, y)
    assert sum(r["masked_rows_used"] for r in clf.history_) == 0


def test_a_healthy_fit_warns_of_neither(tiny_bert):
    X, y = make_texts(10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = GLossTextClassifier(tiny_bert, **FAST, validation_fraction=0).fit(X, y)
    assert sum(r["masked_rows_used"] for r in clf.history_) > 0
    assert not [w for w in caught if "degenerate" in str(w.message) or "diverged" in str(w.message)]


def test_minus_one_as_a_class_gets_a_hint(tiny_bert):
    X, _ = make_texts(3)
    with pytest.raises(ValueError, match="if -1 is one of your classes"):
        GLossTextClassifier(tiny_bert, **FAST).fit(X, [-1, 1] * 3)


def test_random_state_none_leaves_numpy_global_rng_alone(tiny_bert):
    X, y = make_texts(5)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    GLossTextClassifier(tiny_bert, **{**FAST, "random_state": None, "max_epochs": 1}).fit(X, y)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
