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


def test_a_class_with_one_labeled_row_trains_every_epoch(tiny_bert):
    X, y = make_texts(8)
    y = y.copy()
    y[np.flatnonzero(y == "vehicle")[1:]] = -1  # one labeled vehicle, the rest unlabeled
    clf = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3).fit(X, y)
    assert clf.cv_results_ is None and clf.n_iter_ == 3


def test_the_choice_survives_saving(tiny_bert, tmp_path):
    X, y = make_texts(8)
    clf = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3).fit(X, y)
    clf.save_pretrained(tmp_path / "m")
    assert GLossTextClassifier.from_pretrained(tmp_path / "m").cv_results_ == clf.cv_results_
