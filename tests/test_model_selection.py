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
