"""Few labeled rows: the number of epochs, 0 included, chosen by cross-validation."""

import numpy as np
import pytest
import torch
from conftest import make_texts
from transformers import AutoModel

from skgloss import GLossTextClassifier

FEW = dict(max_length=16, batch_size=8, max_epochs=3, random_state=0, device="cpu")


def test_the_epoch_count_is_chosen_out_of_fold(tiny_bert):
    X, y = make_texts(8)  # 16 labeled rows: too few for a 30-row validation split
    clf = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3).fit(X, y)
    cv = clf.cv_results_
    assert cv["n_folds"] == 3 and cv["n_rows"] == 16 and len(cv["epoch_accuracy"]) == 3
    best = int(np.argmax(cv["epoch_accuracy"])) + 1
    assert cv["chosen_epochs"] in (0, best)
    assert clf.n_iter_ == cv["chosen_epochs"] == len(clf.history_)
    assert clf.best_epoch_ is None and clf.start_score_ is None  # the final fit had no validation rows


def test_fine_tuning_that_hurts_out_of_fold_keeps_the_pretrained_encoder(tiny_bert):
    """A learning rate that scrambles the encoder loses to the start on every fold: no epoch is trained."""
    X, y = make_texts(8)
    clf = GLossTextClassifier(tiny_bert, **FEW, learning_rate=0.5).fit(X, y)
    cv = clf.cv_results_
    assert cv["chosen_epochs"] == 0 and max(cv["epoch_accuracy"]) < cv["start_accuracy"]
    assert clf.n_iter_ == 0
    pretrained = AutoModel.from_pretrained(tiny_bert).state_dict()
    assert all(torch.equal(v, clf.encoder_.state_dict()[k].cpu()) for k, v in pretrained.items())
    assert clf.score(X, y) >= cv["start_accuracy"] - 0.25  # the closed-form head on the frozen encoder


@pytest.mark.parametrize("setting, why", [
    (dict(validation_fraction=0), "validation switched off: every epoch runs"),
    (dict(validation_fraction=0.25), "a fraction given: that split decides"),
])
def test_no_cross_validation_unless_auto(tiny_bert, setting, why):
    X, y = make_texts(8)
    clf = GLossTextClassifier(tiny_bert, **{**FEW, "n_iter_no_change": None}, learning_rate=2e-3, **setting)
    clf.fit(X, y)
    assert clf.cv_results_ is None, why
    assert clf.n_iter_ == 3


def _one_labeled_vehicle(n_per_class=8):
    X, y = make_texts(n_per_class)
    vehicles = np.flatnonzero(y == "vehicle")
    return X, y, vehicles[1:]


def test_a_class_with_one_labeled_row_trains_every_epoch(tiny_bert):
    X, y, others = _one_labeled_vehicle()
    keep = np.setdiff1d(np.arange(len(X)), others)  # fully labeled, one vehicle
    clf = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3).fit([X[i] for i in keep], y[keep])
    assert clf.cv_results_ is None and clf.n_iter_ == 3


def test_a_semi_supervised_fit_with_nothing_to_validate_on_keeps_its_start(tiny_bert):
    """With -1 rows the start (label spreading on the pre-trained encoder) is the incumbent: when neither
    held-out rows nor folds can challenge it, no epoch is trained."""
    X, y, others = _one_labeled_vehicle()
    y = y.copy()
    y[others] = -1  # one labeled vehicle, the other vehicles unlabeled
    clf = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3).fit(X, y)
    assert clf.cv_results_ is None and clf.n_iter_ == 0 and clf.inference_ == "blend"
    pretrained = AutoModel.from_pretrained(tiny_bert).state_dict()
    assert all(torch.equal(v, clf.encoder_.state_dict()[k].cpu()) for k, v in pretrained.items())
    assert clf.transduction_.shape == (len(X),)
    # an explicit validation_fraction=0 still trains every epoch
    clf = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3, validation_fraction=0).fit(X, y)
    assert clf.n_iter_ == 3


@pytest.mark.parametrize("n_labeled, unlabeled, held_out", [
    (400, 0, 40),      # fully labeled: 10 % when that makes 30 or more
    (250, 0, 0),       # 25 rows: cross-validation instead
    (400, 1600, 0),    # with -1 rows the start is the incumbent: 40 rows cannot unseat it
    (1990, 1000, 0),   # 199 rows: still too few
    (2000, 1000, 200),
])
def test_auto_holds_out_enough_rows_to_judge_the_start(n_labeled, unlabeled, held_out):
    y = np.r_[np.arange(n_labeled) % 2, np.full(unlabeled, -1)]
    clf = GLossTextClassifier()
    train, val = clf._validation_split(y, seed=0)
    assert len(val) == held_out and len(train) == len(y) - held_out
    assert (y[val] >= 0).all()
    folds = clf._selection_folds(y, val, seed=0)
    assert (folds is None) == (held_out > 0)
    if folds is not None:  # every labeled row is scored once, out of fold
        assert np.array_equal(np.sort(np.concatenate(folds)), np.flatnonzero(y >= 0))


def test_the_choice_survives_saving(tiny_bert, tmp_path):
    X, y = make_texts(8)
    clf = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3).fit(X, y)
    clf.save_pretrained(tmp_path / "m")
    assert GLossTextClassifier.from_pretrained(tmp_path / "m").cv_results_ == clf.cv_results_
