import numpy as np
import pytest
from conftest import make_texts
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV

from skgloss import GLossTextClassifier
from skgloss.model_selection import SemiSupervisedKFold, labeled_scorer, unlabeled_mask


@pytest.mark.parametrize("y_kind", ["int", "str"])
def test_unlabeled_rows_never_in_a_test_fold(y_kind):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    y[rng.random(60) < 0.6] = -1
    if y_kind == "str":
        y = np.array([-1 if v == -1 else f"c{v}" for v in y], dtype=object)
    unl = np.flatnonzero(unlabeled_mask(y))
    tested = []
    for train, test in SemiSupervisedKFold(3, random_state=0).split(np.zeros(60), y):
        assert not np.isin(unl, test).any()
        assert np.isin(unl, train).all()
        assert np.intersect1d(train, test).size == 0
        tested.append(test)
    tested = np.sort(np.concatenate(tested))
    assert tested.tolist() == np.flatnonzero(~unlabeled_mask(y)).tolist()  # each labeled row tested once


def test_split_is_stratified():
    y = np.array([0] * 30 + [1] * 15 + [-1] * 20)
    for _, test in SemiSupervisedKFold(3, random_state=1).split(np.zeros(65), y):
        assert np.bincount(y[test]).tolist() == [10, 5]


def test_labeled_scorer_ignores_unlabeled_rows():
    class Fixed:
        def predict(self, X):
            return np.array(["a"] * len(X), dtype=object)

    X = ["t"] * 4
    assert labeled_scorer()(Fixed(), X, ["a", -1, "b", -1]) == 0.5
    assert labeled_scorer(f1_score, average="macro")(Fixed(), X, ["a", -1, "a", -1]) == 1.0
    with pytest.raises(ValueError, match="-1"):
        labeled_scorer()(Fixed(), X, [-1, -1, -1, -1])


@pytest.mark.parametrize("as_column", ["array", "frame"])
def test_labels_in_one_column_are_read_as_fit_reads_them(as_column):
    """y of shape (n, 1), or a one-column DataFrame: -1 rows went into test folds and were scored as a class."""
    import pandas as pd

    y = np.array([0, 1, -1, 0, 1, -1, 0, 1] * 3)
    column = y.reshape(-1, 1) if as_column == "array" else pd.DataFrame({"label": y})
    assert unlabeled_mask(column).tolist() == (y == -1).tolist()
    for _, test in SemiSupervisedKFold(2, random_state=0).split(np.zeros(len(y)), column):
        assert (y[test] != -1).all()

    class Echo:  # predicts each text's own label: a perfect model
        def predict(self, X):
            return np.array([int(t) for t in X])

    texts = [str(v) for v in y]
    assert labeled_scorer()(Echo(), texts, column) == 1.0


def test_labeled_scorer_passes_x_through_in_its_own_type_and_types_labels_after_dropping_minus_one():
    """A pipeline whose first step reads a DataFrame got a list of strings; bool labels with -1 were compared as
    an object array, which scikit-learn's metrics refuse."""
    import pandas as pd
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from sklearn.base import BaseEstimator, ClassifierMixin

    class FirstWordIsLabel(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.classes_ = np.array([False, True])
            return self

        def predict(self, X):
            return np.array([t.split()[0] == "yes" for t in X])

    frame = pd.DataFrame({"word": ["yes", "no", "yes", "no"], "rest": ["a", "b", "c", "d"]})
    pipe = make_pipeline(FunctionTransformer(lambda df: (df["word"] + " " + df["rest"]).tolist()),
                         FirstWordIsLabel()).fit(frame, [True, False, True, False])
    assert labeled_scorer()(pipe, frame, [True, -1, True, False]) == 1.0


def test_multilabel_targets_with_unlabeled_rows():
    Y = np.array([[1, 0], [0, 1], [-1, -1], [1, 1], [0, 1], [-1, -1], [1, 0], [0, 1]])
    assert unlabeled_mask(Y).tolist() == [False, False, True, False, False, True, False, False]
    tested = np.sort(np.concatenate([test for _, test in SemiSupervisedKFold(2, random_state=0).split(None, Y)]))
    assert tested.tolist() == [0, 1, 3, 4, 6, 7]

    class Fixed:
        classes_ = np.array([0, 1])

        def predict(self, X):
            return np.array([[1, 0]] * len(X))

    assert labeled_scorer()(Fixed(), ["t"] * 8, Y) == pytest.approx(2 / 6)  # subset accuracy on labeled rows
    sets = [{"a"}, -1, {"b"}, {"a"}]
    assert unlabeled_mask(sets).tolist() == [False, True, False, False]


def test_grid_search_on_partly_labeled_data(tiny_bert):
    X, y = make_texts(12)
    y = np.array(y, dtype=object)
    y[::2] = -1
    grid = GridSearchCV(
        GLossTextClassifier(tiny_bert, max_length=16, batch_size=8, max_epochs=1, validation_fraction=0,
                            random_state=0),
        {"lam": [0.3, 0.9], "n_neighbors": [3, 5]}, cv=SemiSupervisedKFold(2, random_state=0),
        scoring=labeled_scorer(),
    )
    grid.fit(X, y)
    assert len(grid.cv_results_["mean_test_score"]) == 4
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    assert hasattr(grid.best_estimator_, "transduction_")
