"""scikit-learn's own estimator checks, those that apply to an estimator of raw texts.

``sklearn.utils.estimator_checks`` feeds numeric matrices to ``fit`` in most
checks, which a text estimator must refuse (``X`` is one text per row). The
checks that inspect the estimator without such data run here as they are;
the ones that only differ by their data are rewritten below on texts
(parameters not overwritten by ``fit``, ``__dict__`` unchanged by
prediction, ``check_is_fitted`` before and after). The user guide lists the
rest ("scikit-learn compatibility").
"""

import copy

import numpy as np
import pytest
import sklearn.utils.estimator_checks as checks
from conftest import make_texts
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skgloss import GLossTextClassifier

FAST = dict(max_length=16, batch_size=8, max_epochs=1, learning_rate=2e-3, random_state=0, validation_fraction=0)
#: scikit-learn checks that apply as they are (no numeric X involved)
APPLICABLE = ["check_no_attributes_set_in_init", "check_get_params_invariance", "check_set_params",
              "check_estimator_cloneable", "check_estimator_repr", "check_do_not_raise_errors_in_init_or_set_params",
              "check_valid_tag_types", "check_estimator_tags_renamed", "check_estimators_unfitted", "check_mixin_order",
              "check_parameters_default_constructible"]


@pytest.mark.parametrize("name", APPLICABLE)
def test_scikit_learn_check(name):
    getattr(checks, name)("GLossTextClassifier", GLossTextClassifier())


def test_fit_leaves_the_parameters_as_they_were(tiny_bert):
    """check_dont_overwrite_parameters / check_estimators_overwrite_params, on texts."""
    X, y = make_texts(6)
    clf = GLossTextClassifier(tiny_bert, **FAST)
    before = copy.deepcopy(clf.get_params())
    clf.fit(X, y)
    assert clf.get_params() == before
    public = {k for k in vars(clf) if not k.startswith("_") and not k.endswith("_")}
    assert public == set(before)  # fit added only attributes ending in "_"


def test_prediction_leaves_the_estimator_unchanged(tiny_bert):
    """check_dict_unchanged and check_fit_check_is_fitted, on texts."""
    X, y = make_texts(6)
    clf = GLossTextClassifier(tiny_bert, **FAST)
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    clf.fit(X, y)
    check_is_fitted(clf)
    state = {k: v for k, v in vars(clf).items() if k != "_neighbor_index"}
    snapshot = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()}
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform"):
        getattr(clf, method)(X)
        for k, v in snapshot.items():
            now = vars(clf)[k]
            assert now is v or (isinstance(v, np.ndarray) and np.array_equal(now, v)), (method, k)
    assert clone(clf).get_params() == clf.get_params() and not hasattr(clone(clf), "classes_")
