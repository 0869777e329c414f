"""Bad input gets a clear error that names the argument."""

import numpy as np
import pytest
from conftest import make_texts

from skgloss import GLossTextClassifier

X, Y = make_texts(4)


def clf(path, **kw):
    return GLossTextClassifier(path, **{"max_length": 16, "batch_size": 4, "max_epochs": 1, **kw})


@pytest.mark.parametrize(
    "X_bad, y_bad, exc, match",
    [
        (["ok", 3, "ok"], ["a", "b", "a"], TypeError, r"X\[1\]"),
        (["ok", None], ["a", "b"], TypeError, r"X\[1\]"),
        (["ok", "lone \ud800 surrogate"], ["a", "b"], ValueError, r"X\[1\] is not valid Unicode"),
        ("one string", ["a"], TypeError, "single str"),
        ([], [], ValueError, "empty"),
        (["a", "b", "c"], ["x", "y"], ValueError, "different lengths"),
        (["a", "b"], [-1, -1], ValueError, "-1"),
        (["a", "b", "c"], ["x", "x", -1], ValueError, "at least two"),
        (["a", "b", "c"], [0.0, np.nan, 1.0], ValueError, r"y\[1\]"),
        (["a", "b"], [[0, 2], [1, 0]], ValueError, r"y\[0, 1\] is 2"),  # 2-D: a multi-label indicator
        (["a", "b"], np.zeros((2, 2, 2)), ValueError, "1-D"),
        ([["a", "b"], ["c", "d"]], [0, 1], ValueError, "1-D"),
        (["a", "b", "c"], [0.5, 2.5, 0.5], ValueError, "non-integer number 0.5"),  # continuous: a regression
    ],
)
def test_bad_data(tiny_bert, X_bad, y_bad, exc, match):
    with pytest.raises(exc, match=match):
        clf(tiny_bert).fit(X_bad, y_bad)


@pytest.mark.parametrize(
    "param, value, exc",
    [
        ("lam", -0.1, ValueError), ("lam", 1.5, ValueError), ("lam", "high", TypeError),
        ("lam", float("nan"), ValueError),
        ("gamma", 0, ValueError), ("gamma", 1, ValueError),
        ("sigma", 0, ValueError), ("sigma", -2.0, ValueError), ("sigma", "median", ValueError),
        ("sigma", float("inf"), ValueError),
        ("n_neighbors", 0, ValueError), ("n_neighbors", 2.5, TypeError),
        ("max_length", 1, ValueError), ("max_length", 10.0, TypeError),
        ("batch_size", 0, ValueError), ("batch_size", 1, ValueError),
        ("predict_batch_size", 0, ValueError), ("predict_batch_size", 2.5, TypeError),
        ("warm_start", "yes", ValueError),
        ("max_epochs", 0, ValueError), ("learning_rate", 0, ValueError),
        ("weight_decay", -1, ValueError), ("warmup_ratio", 1.0, ValueError),
        ("max_grad_norm", 0, ValueError), ("validation_fraction", 1.0, ValueError),
        ("n_iter_no_change", 0, ValueError), ("verbose", -1, ValueError),
        ("loss", "triplet", ValueError), ("pooling", "max", ValueError),
        ("class_weight", "auto", ValueError), ("class_weight", [1.0, 2.0], ValueError),
        ("class_weight", {"fruit": "heavy"}, ValueError), ("class_weight", {"fruit": -1.0}, ValueError),
        ("class_weight", {"fruit": float("nan")}, ValueError),
    ],
)
def test_bad_parameters_name_the_argument(tiny_bert, param, value, exc):
    with pytest.raises(exc, match=param):
        clf(tiny_bert, **{param: value}).fit(X, Y)


def test_batch_size_one_is_fine_without_a_graph(tiny_bert):
    clf(tiny_bert, loss="ce", batch_size=1, validation_fraction=0).fit(X[:4], Y[:4])


def test_model_path_that_does_not_exist(tmp_path):
    with pytest.raises(ValueError, match="no such folder"):
        clf(str(tmp_path / "missing")).fit(X, Y)
    with pytest.raises(ValueError, match="no such folder"):
        clf("./not/a/model").fit(X, Y)


def test_max_length_beyond_model_positions(tiny_bert):
    with pytest.raises(ValueError, match="max_length"):
        clf(tiny_bert, max_length=100).fit(X, Y)


def test_class_weight_with_unknown_label(tiny_bert):
    with pytest.raises(ValueError, match="class_weight"):
        clf(tiny_bert, class_weight={"fruit": 1.0, "plant": 2.0}).fit(X, Y)


def test_params_are_not_validated_in_init():
    GLossTextClassifier(lam=7, loss="nope")  # sklearn convention: errors come in fit


def test_labels_keep_their_type_and_whole_strings_in_scoring(tiny_bert):
    """A list of bools trains bool classes that scikit-learn's metrics take; scoring never casts the true labels to
    the model's dtype (a string longer than every class name was cut to one and counted as right)."""
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import cross_val_score

    from skgloss.model_selection import labeled_scorer

    y_bool = [label == "fruit" for label in Y]
    model = clf(tiny_bert, validation_fraction=0, random_state=0).fit(X, y_bool)
    assert model.classes_.dtype == bool and model.predict(X).dtype == bool
    assert model.score(X, y_bool) == accuracy_score(y_bool, model.predict(X))
    assert len(cross_val_score(clf(tiny_bert, validation_fraction=0), X, y_bool, cv=2, scoring="accuracy")) == 2

    short = np.array(["cat" if label == "fruit" else "dog" for label in Y])  # classes_ of dtype <U3
    model = clf(tiny_bert, validation_fraction=0, random_state=0).fit(X, short)
    longer = np.char.add(short, "fish")  # no text is a "catfish": every prediction is wrong
    assert model.score(X, longer) == 0.0
    assert labeled_scorer()(model, X, longer) == 0.0
    import pandas as pd

    frame = pd.DataFrame({"text": X})  # one text column, as fit and score take it
    assert labeled_scorer()(model, frame, short) == model.score(frame, short)
    with pytest.raises(ValueError, match="sample_weight"):
        model.score(X, short, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match=r"sample_weight\[0\]"):
        model.score(X, short, sample_weight=-np.ones(len(X)))


def test_labels_in_a_pandas_series_of_lists_are_label_sets():
    import pandas as pd

    from skgloss._validation import is_multilabel

    sets = [["fruit"], ["fruit", "extra"], ["vehicle"]]
    assert is_multilabel(pd.Series(sets, index=[5, 3, 9])) and is_multilabel(pd.DataFrame({"tags": sets}))
    assert not is_multilabel(pd.Series(["fruit", "vehicle", "fruit"]))
    assert not is_multilabel(pd.DataFrame({"label": ["fruit", "vehicle", "fruit"]}))


def test_blend_weight_set_after_fit_is_checked_when_it_is_used(tiny_bert):
    model = clf(tiny_bert, validation_fraction=0, random_state=0).fit(X, Y)
    for bad in (float("nan"), 5.0, -0.5):
        with pytest.raises(ValueError, match="blend_weight"):
            model.set_params(blend_weight=bad).predict_proba(X)


def test_file_labels_as_strings_score_a_model_fitted_on_numbers_and_the_other_way_round(tiny_bert):
    """Labels read from a CSV are strings: scoring a model fitted on ints with them compared like with like
    (a cast did it before, at the cost of cutting strings short; without it, scikit-learn refused the mix)."""
    from skgloss._validation import comparable_labels
    from skgloss.model_selection import labeled_scorer

    ints = np.array([1 if label == "fruit" else 2 for label in Y])
    model = clf(tiny_bert, validation_fraction=0, random_state=0).fit(X, ints)
    as_text = [str(v) for v in ints]
    assert model.score(X, as_text) == model.score(X, ints) == labeled_scorer()(model, X, as_text)
    t, p = comparable_labels(["1", "01", "x"], np.array([1, 1, 2]))  # "01" is not the label 1: compared as text
    assert t.tolist() == ["1", "01", "x"] and p.tolist() == ["1", "1", "2"]
