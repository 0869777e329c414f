"""Few labeled rows: the number of epochs, 0 included, chosen by cross-validation, or a fixed budget of
optimizer steps when the pre-trained encoder does not separate the classes; either way the encoder shipped
halfway back to its starting weights."""

import copy

import numpy as np
import pytest
import torch
from conftest import make_texts
from transformers import AutoModel

import skgloss.classifier
from skgloss import GLossTextClassifier
from skgloss.training import class_separation, step_budget_epochs

FEW = dict(max_length=16, batch_size=8, max_epochs=3, random_state=0, device="cpu")


def test_the_epoch_count_is_chosen_out_of_fold(tiny_bert):
    X, y = make_texts(8)  # 16 labeled rows: too few for a 30-row validation split
    clf = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3).fit(X, y)
    cv = clf.cv_results_
    assert cv["class_separation"] >= skgloss.classifier._MIN_CLASS_SEPARATION  # fruit against vehicles
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


def _float_weights(model):
    return {k: v.detach().cpu().double() for k, v in model.state_dict().items() if v.is_floating_point()}


@pytest.mark.parametrize("labels", ["fruit/vehicle", "shuffled"])
def test_a_few_shot_fit_ships_the_midpoint_of_its_start_and_its_fine_tuned_encoder(tiny_bert, monkeypatch, labels):
    """On both paths without held-out rows (cross-validated epochs; the step budget where the labels are not
    separated), the shipped encoder is (start + fine-tuned) / 2, and the head is the closed-form one on it."""
    monkeypatch.setattr(skgloss.classifier, "_STEP_BUDGET", 10)
    X, y = make_texts(8)
    if labels == "shuffled":
        y = np.random.default_rng(1).permutation(np.repeat(["a", "b"], 8))
    params = dict(**FEW, learning_rate=2e-3, n_iter_no_change=None)
    mixed = GLossTextClassifier(tiny_bert, **params).fit(X, y)
    monkeypatch.setattr(skgloss.classifier, "_FEW_SHOT_ENCODER_MIX", 1.0)
    tuned = GLossTextClassifier(tiny_bert, **params).fit(X, y)
    assert mixed.cv_results_["encoder_mix"] == 0.5 and tuned.cv_results_["encoder_mix"] == 1.0
    assert mixed.n_iter_ == tuned.n_iter_ > 0  # the same fine-tuning; the shipped weights differ
    start, mid, end = (_float_weights(m) for m in (AutoModel.from_pretrained(tiny_bert), mixed.encoder_,
                                                   tuned.encoder_))
    assert max(float((end[k] - start[k]).abs().max()) for k in start) > 1e-3  # fine-tuning moved the weights
    for k in start:
        torch.testing.assert_close(mid[k], (start[k] + end[k]) / 2, atol=1e-6, rtol=1e-5)
    # the head solves its logistic regression on the shipped encoder's embeddings: refitting from it moves nothing
    from skgloss.head import fit_linear_head
    y_idx = np.searchsorted(mixed.classes_, y)
    again = fit_linear_head(copy.deepcopy(mixed.head_), mixed.transform(X), y_idx, C=mixed.head_C)
    torch.testing.assert_close(again.weight, mixed.head_.weight, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(again.bias, mixed.head_.bias, atol=1e-4, rtol=1e-4)


def test_interpolate_weights():
    from skgloss.training import interpolate_weights
    model = torch.nn.Linear(3, 2)
    model.register_buffer("steps", torch.tensor([7]))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    start["steps"] = torch.tensor([0])
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    start["weight"] = start["weight"] + 1.0
    interpolate_weights(model, start, 0.25)
    torch.testing.assert_close(model.weight, 0.75 * start["weight"] + 0.25 * trained["weight"])
    torch.testing.assert_close(model.bias, trained["bias"])  # equal at both ends
    assert int(model.steps) == 7  # integer buffers are not weights
    interpolate_weights(model, start, 0.0)
    torch.testing.assert_close(model.weight, start["weight"])
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\], got 1.5"):
        interpolate_weights(model, start, 1.5)


def _spy_on_schedules(monkeypatch):
    """The ``max_epochs`` schedule of every training run a fit starts (None: the estimator's own)."""
    schedules, train = [], GLossTextClassifier._train

    def spy(self, *args, max_epochs=None, **kwargs):
        schedules.append(max_epochs)
        return train(self, *args, max_epochs=max_epochs, **kwargs)

    monkeypatch.setattr(GLossTextClassifier, "_train", spy)
    return schedules


def test_a_curve_still_at_its_best_after_the_last_epoch_tries_a_longer_schedule(tiny_bert, monkeypatch):
    """One epoch is always the best so far: the folds run a schedule four times as long, and the final fit
    trains on whichever schedule was better out of fold, stopped at its best epoch."""
    schedules = _spy_on_schedules(monkeypatch)
    X, y = make_texts(8)
    clf = GLossTextClassifier(tiny_bert, **{**FEW, "max_epochs": 1}, learning_rate=2e-3).fit(X, y)
    cv = clf.cv_results_
    assert len(cv["epoch_accuracy"]) == 1 and len(cv["long_epoch_accuracy"]) == 4
    assert schedules == [1, 1, 1, 4, 4, 4, cv["schedule_epochs"]]  # 3 folds, 3 folds, the final fit
    longer_wins = max(cv["long_epoch_accuracy"]) > max(cv["epoch_accuracy"])
    assert cv["schedule_epochs"] == (4 if longer_wins else 1)
    curve = cv["long_epoch_accuracy"] if longer_wins else cv["epoch_accuracy"]
    assert cv["chosen_epochs"] in (0, int(np.argmax(curve)) + 1)
    assert clf.n_iter_ == cv["chosen_epochs"]


def test_a_semi_supervised_fit_tries_no_longer_schedule(tiny_bert, monkeypatch):
    """With -1 rows the start (label spreading on the pre-trained encoder) is the incumbent, and the schedule
    stays that of max_epochs."""
    schedules = _spy_on_schedules(monkeypatch)
    X, y = make_texts(8)
    y = y.copy()
    y[::4] = -1
    clf = GLossTextClassifier(tiny_bert, **{**FEW, "max_epochs": 1}, learning_rate=2e-3).fit(X, y)
    cv = clf.cv_results_
    assert cv["long_epoch_accuracy"] is None and cv["schedule_epochs"] == 1
    assert schedules == [1, 1, 1, 1]
    # fruit against vehicles: the pre-trained neighbours can label the -1 rows, which stay
    assert cv["class_separation"] >= skgloss.classifier._MIN_CLASS_SEPARATION and cv["unlabeled_set_aside"] == 0
    assert clf.inference_ == "blend" and len(clf.transduction_) == len(X)
    assert cv["encoder_mix"] == 1.0  # the corpus graph was built on the fine-tuned encoder: shipped as it is


def test_class_separation_is_a_standardized_difference_of_cosines():
    # two classes on orthogonal axes: pairs within a class have cosine 1, across 0; over the 12 ordered pairs
    # the mean is 1/3 and the std sqrt(2)/3, so d = 1 / (sqrt(2)/3)
    e = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 0.5]])  # lengths do not matter
    assert class_separation(e, np.array([0, 0, 1, 1])) == pytest.approx(3 / np.sqrt(2))
    assert class_separation(e, np.array([0, 1, 0, 1])) < 0  # classes across the clusters
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 32))
    y = np.repeat(np.arange(4), 25)
    clustered = centres[y] + 0.3 * rng.normal(size=(100, 32))
    assert class_separation(clustered, y) > 1.5
    assert abs(class_separation(clustered, rng.permutation(y))) < 0.1  # labels unrelated to the embeddings
    # a common offset (an anisotropic encoder) squeezes every cosine towards 1; the clusters still separate
    assert class_separation(clustered + 20.0, y) > 1.5
    assert class_separation(clustered, np.zeros(100, int)) == 0.0  # no pair of two classes
    assert class_separation(np.ones((5, 3)), np.array([0, 0, 1, 1, 1])) == 0.0  # every cosine the same


@pytest.mark.parametrize("n_rows, batch_size, expected", [
    (64, 32, 64),   # 2 steps an epoch
    (256, 32, 16),  # 8
    (160, 32, 26),  # 5: 130 steps
    (16, 32, 128),  # 1
    (5000, 32, 4),  # a long epoch: at least min_epochs
])
def test_step_budget_epochs(n_rows, batch_size, expected):
    assert step_budget_epochs(n_rows, batch_size, 128, min_epochs=4) == expected


def test_labels_the_encoder_does_not_separate_train_a_step_budget_to_its_end(tiny_bert, monkeypatch):
    """Labels drawn independently of the texts: the pre-trained space cannot separate them, no fold is run,
    and the one training run takes the step budget's schedule to its last epoch."""
    monkeypatch.setattr(skgloss.classifier, "_STEP_BUDGET", 10)  # 16 rows in batches of 8: 5 epochs
    schedules = _spy_on_schedules(monkeypatch)
    X, _ = make_texts(8)
    y = np.random.default_rng(1).permutation(np.repeat(["a", "b"], 8))
    clf = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3).fit(X, y)
    cv = clf.cv_results_
    assert cv["class_separation"] < skgloss.classifier._MIN_CLASS_SEPARATION
    assert cv["n_folds"] == 0 and cv["start_accuracy"] is None and cv["epoch_accuracy"] == []
    assert cv["schedule_epochs"] == cv["chosen_epochs"] == 5
    assert schedules == [5]
    assert clf.n_iter_ == len(clf.history_) == 5
    assert sum(h["steps"] for h in clf.history_) == 10
    # the budget never shortens max_epochs
    monkeypatch.setattr(skgloss.classifier, "_STEP_BUDGET", 2)
    assert GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3).fit(X, y).n_iter_ == FEW["max_epochs"]


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
    cv = clf.cv_results_
    card = (tmp_path / "m" / "README.md").read_text()
    assert (f"| epochs chosen | {cv['chosen_epochs']} of a {cv['schedule_epochs']}-epoch schedule, by "
            f"{cv['n_folds']}-fold cross-validation on the {cv['n_rows']} labeled texts |" in card)
    assert clf.n_iter_ > 0 and ("| shipped encoder | 0.5 × the pre-trained weights + 0.5 × the fine-tuned ones "
                                "(weight-space ensembling, as in every fit from the pre-trained encoder with too few "
                                "labeled texts to hold any out), the head fitted on it |" in card)


def test_the_model_card_says_why_a_step_budget_ran(tiny_bert, tmp_path, monkeypatch):
    monkeypatch.setattr(skgloss.classifier, "_STEP_BUDGET", 10)
    X, _ = make_texts(8)
    y = np.random.default_rng(1).permutation(np.repeat(["a", "b"], 8))
    clf = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3).fit(X, y)
    clf.save_pretrained(tmp_path / "m")
    d = clf.cv_results_["class_separation"]
    assert (f"| epochs chosen | all 5 of a schedule of 10 or more optimizer steps: the pre-trained encoder "
            f"barely separates the classes (class separation {d:.3f} < 0.35), so nothing was cross-validated |"
            in (tmp_path / "m" / "README.md").read_text())


def test_unlabeled_rows_the_encoder_cannot_label_are_set_aside(tiny_bert, monkeypatch):
    """Labels the pre-trained space does not separate: its neighbours cannot label the -1 rows, so the fit
    sets them aside and is the fit of its labeled rows alone (the step budget), to the last bit."""
    monkeypatch.setattr(skgloss.classifier, "_STEP_BUDGET", 10)
    X, _ = make_texts(8)
    y = np.random.default_rng(1).permutation(np.repeat(["a", "b"], 8))
    extra, _ = make_texts(6, seed=3)
    rows = np.random.default_rng(2).permutation(len(X) + len(extra))  # -1 rows among the labeled ones
    X_all = np.array(list(X) + list(extra), dtype=object)[rows].tolist()
    y_all = np.array(list(y) + ["-1"] * len(extra), dtype=object)[rows]
    y_all[y_all == "-1"] = -1
    semi = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3).fit(X_all, y_all)
    cv = semi.cv_results_
    assert cv["class_separation"] < skgloss.classifier._MIN_CLASS_SEPARATION
    assert cv["unlabeled_set_aside"] == len(extra) and cv["n_folds"] == 0 and cv["n_rows"] == len(X)
    assert semi.n_samples_fit_ == len(X_all) and semi.n_labeled_fit_ == len(X)
    assert semi.inference_ == "head" and not hasattr(semi, "graph_")  # no corpus graph
    labeled = [X_all[i] for i in np.flatnonzero(y_all != -1)]
    alone = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3).fit(labeled, y_all[y_all != -1].astype(str))
    np.testing.assert_array_equal(semi.predict_proba(extra), alone.predict_proba(extra))
    assert semi.n_iter_ == alone.n_iter_ == 5
    # every row of X still gets a label, the fitted model's, as LabelSpreading's transduction_ would give
    np.testing.assert_allclose(semi.label_distributions_, semi.predict_proba(X_all), atol=1e-6)
    np.testing.assert_array_equal(semi.transduction_, semi.predict(X_all))
    with pytest.raises(ValueError, match="needs the corpus graph"):
        semi.set_params(inference="graph").predict(extra)
    assert cv["encoder_mix"] == alone.cv_results_["encoder_mix"] == 0.5
    # labeled rows enough to hold 30 out, were they alone (here: 2 of 16): the fine-tuned encoder ships as it is
    monkeypatch.setattr(skgloss.classifier, "_MIN_AUTO_VALIDATION_ROWS", 2)
    many = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3).fit(X_all, y_all)
    assert many.cv_results_["unlabeled_set_aside"] == len(extra) and many.cv_results_["encoder_mix"] == 1.0


@pytest.mark.parametrize("params", [{"refit_head": False}, {"loss": "kl"}, {"inference": "blend"}])
def test_the_midpoint_ships_only_with_a_head_fitted_on_it_and_no_corpus_graph(tiny_bert, params):
    """Without the closed-form head the trained head would meet an encoder it never saw; a corpus graph is built on
    the fine-tuned encoder. Either way the fine-tuned encoder ships as it is."""
    X, y = make_texts(8)
    clf = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3, n_iter_no_change=None, **params).fit(X, y)
    assert clf.cv_results_["encoder_mix"] == 1.0


def test_the_bank_graph_inference_searches_holds_each_rows_latest_embedding(tiny_bert):
    """A fit with -1 rows and no validation rows: the final head's rows are embedded once more by the final
    encoder, and corpus_embeddings_ is that bank on every device (a GPU fit returned its stale host copy)."""
    X, y = make_texts(10)
    y = y.copy()
    y[::3] = -1
    params = {**FEW, "max_epochs": 2, "device": "auto", "precision": "fp32"}  # the GPU path where there is one
    clf = GLossTextClassifier(tiny_bert, **params, learning_rate=2e-3, validation_fraction=0,
                              pseudo_label_threshold=None).fit(X, y)
    labeled = np.flatnonzero(y != -1)
    np.testing.assert_allclose(clf.corpus_embeddings_[labeled], clf.transform([X[i] for i in labeled]),
                               atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("params", [{"loss": "kl"}, {"batching": "graph"}, {"inference": "graph"}])
def test_a_fit_that_sets_unlabeled_rows_aside_keeps_no_corpus_graph_even_when_training_built_one(
        tiny_bert, tmp_path, monkeypatch, params):
    """loss="kl", graph batches or graph inference build a corpus graph over the labeled rows while training;
    shipped beside label_distributions_ of every row of X, the neighbours graph inference finds were paired with
    other texts' rows, and the saved model could not be loaded."""
    import warnings

    monkeypatch.setattr(skgloss.classifier, "_STEP_BUDGET", 10)
    X, _ = make_texts(8)
    y = np.random.default_rng(1).permutation(np.repeat(["a", "b"], 8)).astype(object)  # labels unrelated to text
    extra, _ = make_texts(6, seed=3)
    X_all, y_all = list(extra) + list(X), np.array([-1] * len(extra) + list(y), dtype=object)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3, **params).fit(X_all, y_all)
    assert clf.cv_results_["unlabeled_set_aside"] == len(extra)
    assert not hasattr(clf, "graph_") and not hasattr(clf, "corpus_embeddings_")
    assert clf.label_distributions_.shape == (len(X_all), 2)
    said = [str(w.message) for w in caught if "keeps no corpus graph" in str(w.message)]
    if params.get("inference") == "graph":
        assert said and "inference='graph' is unavailable" in said[0]
        with pytest.raises(ValueError, match="needs the corpus graph"):
            clf.predict(extra)
        clf.set_params(inference="auto")
    else:
        assert not said
    loaded = GLossTextClassifier.from_pretrained(clf.save_pretrained(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict(X_all), clf.predict(X_all))


def test_the_model_card_says_why_unlabeled_rows_were_set_aside_and_their_labels_are_saved(tiny_bert, tmp_path, monkeypatch):
    monkeypatch.setattr(skgloss.classifier, "_STEP_BUDGET", 10)
    X, _ = make_texts(8)
    y = np.random.default_rng(1).permutation(np.repeat([0, 1], 8))
    y[::4] = -1
    clf = GLossTextClassifier(tiny_bert, **FEW, learning_rate=2e-3).fit(X, y)
    clf.save_pretrained(tmp_path / "m")
    card = (tmp_path / "m" / "README.md").read_text()
    assert "| training texts | 16 (12 labeled, 4 unlabeled) |" in card
    loaded = GLossTextClassifier.from_pretrained(tmp_path / "m")
    np.testing.assert_array_equal(loaded.label_distributions_, clf.label_distributions_)
    np.testing.assert_array_equal(loaded.transduction_, clf.transduction_)
    assert loaded.cv_results_ == clf.cv_results_ and not hasattr(loaded, "graph_")
    d = clf.cv_results_["class_separation"]
    assert (f"| unlabeled texts | 4 set aside: the pre-trained encoder barely separates the labeled classes "
            f"(class separation {d:.3f} < 0.35), so its neighbours could not label them |" in card)
