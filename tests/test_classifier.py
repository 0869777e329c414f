import pickle

import joblib
import numpy as np
import pytest
import torch
from conftest import make_texts, prediction_atol
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import skgloss.classifier
from skgloss import GLossTextClassifier
from skgloss.encoder import load_encoder

# validation_fraction=0: what "auto" meant for these few rows before it cross-validated the epoch count
# (tests/test_few_labels.py tests that)
FAST = dict(max_length=16, batch_size=8, max_epochs=2, learning_rate=2e-3, random_state=0, validation_fraction=0)


def make_clf(tiny_bert, **kw):
    return GLossTextClassifier(tiny_bert, **{**FAST, **kw})


@pytest.fixture(scope="module")
def fitted(tiny_bert):
    X, y = make_texts(20)
    return make_clf(tiny_bert, max_epochs=6, validation_fraction=0).fit(X, y), X, y


def test_fit_predict_surface(fitted):
    clf, X, y = fitted
    assert list(clf.classes_) == ["fruit", "vehicle"]
    proba = clf.predict_proba(X)
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    pred = clf.predict(X)
    assert set(pred) <= {"fruit", "vehicle"}
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(1)])
    emb = clf.transform(X)
    assert emb.shape == (40, 32) and emb.dtype == np.float32
    assert clf.n_features_out_ == 32
    assert clf.n_iter_ == 6 and len(clf.history_) == 6
    assert {"ce", "gloss", "loss", "val_score", "seconds", "steps", "degenerate_batches"} <= set(clf.history_[0])
    assert clf.sigma_ > 0
    # wherever the suite runs, "auto" lands on the device and precision the resolvers pick
    from skgloss.devices import resolve_device, resolve_precision

    assert clf.device_.type == resolve_device("auto").type
    assert clf.precision_ == resolve_precision("auto", clf.device_)


def test_predict_batch_size_groups_texts_without_changing_the_predictions(fitted):
    import copy

    clf, X, _ = fitted
    small = copy.copy(clf).set_params(predict_batch_size=3)  # the same fitted model, a forward pass per 3 texts
    np.testing.assert_allclose(small.predict_proba(X), clf.predict_proba(X), atol=1e-5)
    np.testing.assert_allclose(small.transform(X), clf.transform(X), atol=1e-5)
    with pytest.raises(ValueError, match="predict_batch_size"):
        copy.copy(clf).set_params(predict_batch_size=0).predict(X[:2])


def test_scores_for_scikit_learn_scorers(fitted):
    from sklearn.metrics import roc_auc_score

    clf, X, y = fitted
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-6)
    margin = clf.decision_function(X)  # two classes: one score per text, positive for classes_[1]
    assert margin.shape == (len(X),) and np.isfinite(margin).all()
    np.testing.assert_array_equal(clf.classes_[(margin > 0).astype(int)], clf.predict(X))
    np.testing.assert_allclose(margin, np.log(proba[:, 1]) - np.log(proba[:, 0]), rtol=1e-5, atol=1e-6)
    assert roc_auc_score(np.asarray(y) == clf.classes_[1], margin) > 0.9


def test_transform_output_as_a_dataframe(fitted):
    pd = pytest.importorskip("pandas")
    clf, X, _ = fitted
    names = clf.get_feature_names_out()
    assert names.tolist() == [f"glosstextclassifier{i}" for i in range(clf.n_features_out_)]
    frame = clf.set_output(transform="pandas").transform(X[:5])
    try:
        assert isinstance(frame, pd.DataFrame) and list(frame.columns) == names.tolist()
        np.testing.assert_allclose(frame.to_numpy(), clf.set_output(transform="default").transform(X[:5]))
    finally:
        clf.set_output(transform="default")
    with pytest.raises(ValueError, match="one text column"):
        clf.get_feature_names_out(["a", "b"])


def test_a_one_column_dataframe_sets_its_feature_name(tiny_bert, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = make_texts(10)
    clf = make_clf(tiny_bert, max_epochs=1).fit(pd.DataFrame({"review": X}), y)
    assert clf.n_features_in_ == 1 and clf.feature_names_in_.tolist() == ["review"]
    assert clf.get_feature_names_out(["review"]).shape == (clf.n_features_out_,)
    np.testing.assert_array_equal(clf.predict(pd.DataFrame({"review": X})), clf.predict(X))
    with pytest.raises(ValueError, match="the fit saw the text column 'review'"):
        clf.predict(pd.DataFrame({"body": X}))
    with pytest.raises(ValueError, match="one text column \\('review'\\)"):
        clf.get_feature_names_out(["body"])
    loaded = GLossTextClassifier.from_pretrained(clf.save_pretrained(tmp_path / "m"))
    assert loaded.n_features_in_ == 1 and loaded.feature_names_in_.tolist() == ["review"]
    assert not hasattr(make_clf(tiny_bert, max_epochs=1).fit(X, y), "feature_names_in_")  # a list has no columns


def test_sample_weight_zero_takes_rows_out_of_the_fit(tiny_bert):
    """Every text twice, once with its label and once with the other: only the weights say which to learn."""
    X, y = make_texts(12)
    swapped = np.where(y == "fruit", "vehicle", "fruit").astype(object)
    X2, y2 = X + X, np.concatenate([y, swapped])
    w = np.r_[np.ones(len(X)), np.zeros(len(X))]
    X_test, y_test = make_texts(20, seed=5)
    weighted = make_clf(tiny_bert, max_epochs=4).fit(X2, y2, sample_weight=w)
    assert weighted.score(X_test, y_test) >= 0.9
    flipped = make_clf(tiny_bert, max_epochs=4).fit(X2, y2, sample_weight=w[::-1].copy())
    assert flipped.score(X_test, y_test) <= 0.1  # the weights alone decide which labels it learns
    # weights of 1 are no weights
    a = make_clf(tiny_bert, max_epochs=1).fit(X, y, sample_weight=np.ones(len(X)))
    b = make_clf(tiny_bert, max_epochs=1).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X_test), b.predict_proba(X_test), atol=1e-6)


@pytest.mark.parametrize("weights, message", [
    ([1.0] * 3, r"sample_weight has shape \(3,\); it needs one weight per text, shape \(24,\)"),
    ([1.0] * 23 + [-1.0], r"sample_weight\[23\] is -1.0; weights must be finite and >= 0"),
    ([1.0] * 23 + [float("nan")], r"sample_weight\[23\] is nan"),
    ([0.0] * 24, "sample_weight is 0 on every labeled row"),
    ("heavy", "sample_weight must be an array of numbers"),
])
def test_bad_sample_weight_is_refused_before_training(tiny_bert, weights, message):
    X, y = make_texts(12)
    clf = make_clf(tiny_bert)
    with pytest.raises((ValueError, TypeError), match=message):
        clf.fit(X, y, sample_weight=weights)
    assert not hasattr(clf, "classes_")


def test_warm_start_goes_on_from_the_fitted_model(tiny_bert):
    X, y = make_texts(12)
    clf = make_clf(tiny_bert, max_epochs=2).fit(X, y)
    before = {k: v.clone() for k, v in clf.encoder_.state_dict().items()}
    fitted_encoder = clf.encoder_
    pretrained, _ = load_encoder(tiny_bert)
    # a learning rate too small to move anything: the encoder the fit returns is the one it started from
    clf.set_params(warm_start=True, learning_rate=1e-30, max_epochs=1).fit(X, y)
    assert clf.encoder_ is not fitted_encoder  # a copy was trained, the old model untouched until the fit ended
    for k, v in clf.encoder_.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert any(not torch.equal(v, pretrained.state_dict()[k]) for k, v in before.items())
    # without warm_start the same fit starts from the pre-trained encoder again
    cold = make_clf(tiny_bert, learning_rate=1e-30, max_epochs=1).fit(X, y)
    for k, v in cold.encoder_.state_dict().items():
        torch.testing.assert_close(v, pretrained.state_dict()[k])
    # other classes than the fitted head's: refused, and the fitted model is kept
    y3 = y.copy()
    y3[:3] = "boat"
    with pytest.raises(ValueError, match=r"warm_start=True goes on from a model fitted on the classes"):
        clf.fit(X, y3)
    assert list(clf.classes_) == ["fruit", "vehicle"]


def test_texts_longer_than_max_length_are_counted_in_one_warning_per_call(fitted):
    import warnings

    from skgloss.inputs import TruncationWarning

    clf, X, _ = fitted
    long = [" ".join([X[0]] * 12), " ".join([X[1]] * 9)]  # far more than max_length=16 tokens
    with pytest.warns(TruncationWarning, match="2 of 5 texts have more than max_length=16 tokens") as record:
        clf.predict(long + X[:3])
    assert len([w for w in record if w.category is TruncationWarning]) == 1
    assert record[0].filename == __file__  # it points at the caller's line, not into skgloss
    with pytest.warns(TruncationWarning, match="1 of 1 texts"):
        clf.transform(long[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncationWarning)
        clf.predict(X)  # short texts: no warning


def test_it_learns_the_toy_task(fitted):
    clf, _, _ = fitted
    X_test, y_test = make_texts(20, seed=5)
    assert clf.score(X_test, y_test) >= 0.9
    assert clf.history_[-1]["loss"] < clf.history_[0]["loss"]


def test_transform_is_order_independent(fitted):
    """Length-sorted inference batches must come back in input order."""
    clf, X, _ = fitted
    X = list(X)
    X[3] = "apple " * 12
    emb = clf.transform(X)
    rev = clf.transform(X[::-1])[::-1]
    atol = prediction_atol(clf, floor=1e-5)  # other batches, other padding: float noise
    np.testing.assert_allclose(emb, rev, atol=atol)
    single = clf.transform([X[3]])
    np.testing.assert_allclose(single[0], emb[3], atol=atol)


def test_score_ignores_unlabeled_rows(fitted):
    clf, X, y = fitted
    y_part = np.array(y, dtype=object)
    pred = clf.predict(X)
    y_part[:10] = -1
    keep = np.arange(40) >= 10
    assert clf.score(X, y_part) == pytest.approx(np.mean(pred[keep] == np.asarray(y)[keep]))
    with pytest.raises(ValueError, match="-1"):
        clf.score(X[:2], [-1, -1])


def test_gloss_only_step_changes_encoder_weights(tiny_bert):
    X, y = make_texts(8)
    # no weight decay: any change to the encoder comes from the gradient of L_G alone
    clf = make_clf(tiny_bert, lam=1.0, max_epochs=1, validation_fraction=0, weight_decay=0.0).fit(X, y)
    fresh, _ = load_encoder(tiny_bert)
    before = fresh.state_dict()
    after = clf.encoder_.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(changed) > len(before) // 2
    assert all(h["gloss"] > 0 for h in clf.history_)


def test_lam_one_gives_the_head_no_gradient():
    from skgloss.losses import GLoss

    logits = torch.randn(6, 2, requires_grad=True)
    h = torch.randn(6, 4, requires_grad=True)
    GLoss(lam=1.0, sigma=0.5, seed=0)(h, torch.tensor([0, 0, 0, 1, 1, 1]), logits).backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits)) and h.grad.abs().sum() > 0


def test_one_encoder_forward_per_training_step(tiny_bert, monkeypatch):
    counts = {"train": 0, "eval": 0}
    real_load = skgloss.classifier.load_encoder

    def counting_load(*a, **kw):
        model, tok = real_load(*a, **kw)
        model.register_forward_hook(lambda m, i, o: counts.__setitem__(
            "train" if m.training else "eval", counts["train" if m.training else "eval"] + 1))
        return model, tok

    monkeypatch.setattr(skgloss.classifier, "load_encoder", counting_load)
    X, y = make_texts(12)
    clf = make_clf(tiny_bert, max_epochs=2).fit(X, y)
    steps = sum(h["steps"] for h in clf.history_)
    assert steps > 0
    assert counts["train"] == steps


def _record_batches(monkeypatch, cls):
    seen = []
    real = cls.terms

    def spy(self, embeddings, labels, logits=None, **kw):
        seen.append(labels.clone())
        return real(self, embeddings, labels, logits, **kw)

    monkeypatch.setattr(cls, "terms", spy)
    return seen


def test_unlabeled_rows_enter_gloss_batches_but_not_ce(tiny_bert, monkeypatch):
    from skgloss.losses import GLoss

    X, y = make_texts(12)
    y = np.array(y, dtype=object)
    y[::3] = -1
    seen = _record_batches(monkeypatch, GLoss)
    clf = make_clf(tiny_bert, max_epochs=1, validation_fraction=0).fit(X, y)
    assert list(clf.classes_) == ["fruit", "vehicle"]
    labels = torch.cat(seen)
    assert (labels == -1).sum() == (y == -1).sum()  # every -1 row was a graph node once

    from skgloss.losses import CrossEntropyLoss

    seen_ce = _record_batches(monkeypatch, CrossEntropyLoss)
    # without the corpus graph, -1 rows are of no use to CE and are not batched at all
    make_clf(tiny_bert, loss="ce", max_epochs=1, validation_fraction=0, graph_refresh=None).fit(X, y)
    labels = torch.cat(seen_ce)
    assert (labels >= 0).all() and labels.numel() == (y != -1).sum()


@pytest.mark.parametrize("loss", ["ce", "supcon"])
def test_other_losses_fit(tiny_bert, loss):
    X, y = make_texts(10)
    clf = make_clf(tiny_bert, loss=loss, validation_fraction=0).fit(X, y)
    assert loss in clf.history_[0] or loss == "ce"
    assert "gloss" not in clf.history_[0]
    assert clf.sigma_ is None
    assert clf.predict_proba(X).shape == (20, 2)


def test_same_random_state_same_predictions_and_global_rng_untouched(tiny_bert):
    X, y = make_texts(10)
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    first = make_clf(tiny_bert).fit(X, y)
    p1 = first.predict_proba(X)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state)
    p2 = make_clf(tiny_bert).fit(X, y).predict_proba(X)
    # bit for bit on the CPU; GPU kernels (atomic adds in backward) are not deterministic
    np.testing.assert_allclose(p1, p2, rtol=0, atol=0 if first.device_.type == "cpu" else 5e-2)
    p3 = make_clf(tiny_bert, random_state=1).fit(X, y).predict_proba(X)
    assert not np.allclose(p1, p3)


def test_early_stopping_restores_best_epoch(tiny_bert):
    from skgloss.encoder import embed_texts
    from skgloss.inputs import TokenizedTexts
    from skgloss.training import TrainingConfig, train

    X, y = make_texts(12)
    Xv, yv = make_texts(6, seed=3)
    idx = {"fruit": 0, "vehicle": 1}
    y_i = np.array([idx[v] for v in y])
    yv_i = np.array([idx[v] for v in yv])
    enc, tok = load_encoder(tiny_bert)
    torch.manual_seed(0)
    head = torch.nn.Linear(32, 2)
    config = TrainingConfig(loss="ce", batch_size=8, max_epochs=5, learning_rate=5e-3, n_iter_no_change=None)
    corpus = TokenizedTexts(tok, list(X) + list(Xv), 16)
    val_rows = np.arange(len(X), len(X) + len(Xv))
    y_seen = np.r_[y_i, -np.ones(len(Xv), dtype=int)]
    result = train(enc, head, corpus, y_seen, config, torch.device("cpu"), train_rows=np.arange(len(X)),
                   val_rows=val_rows, val_y=yv_i)
    # epoch 0 (the starting point) competes; ties in accuracy go to the lower log-loss, then the earlier epoch
    keys = [(result.start_score, -result.start_log_loss)]
    keys += [(h["val_score"], -h["val_log_loss"]) for h in result.history]
    assert result.best_epoch == max(range(len(keys)), key=lambda e: (keys[e], -e))
    _, logits = embed_texts(enc, tok, Xv, pooling=config.pooling, max_length=16,
                            batch_size=config.batch_size, device=torch.device("cpu"), head=head)
    assert float(np.mean(logits.argmax(axis=1) == yv_i)) == max(keys)[0]


def test_n_iter_no_change_stops_early(tiny_bert):
    X, y = make_texts(15)
    clf = make_clf(tiny_bert, max_epochs=30, n_iter_no_change=1, learning_rate=1e-2, validation_fraction=0.2).fit(X, y)
    assert clf.n_iter_ < 30
    scores = [clf.start_score_] + [h["val_score"] for h in clf.history_]
    assert scores[-1] <= max(scores[:-1])
    assert scores[clf.best_epoch_] == max(scores)


def test_clone_and_params(tiny_bert):
    clf = make_clf(tiny_bert, lam=0.3, n_neighbors=4)
    c2 = clone(clf)
    assert c2.get_params() == clf.get_params()
    c2.set_params(lam=0.9)
    assert c2.lam == 0.9 and clf.lam == 0.3
    assert not hasattr(c2, "encoder_")


def test_pipeline_and_grid_search(tiny_bert):
    X, y = make_texts(12)
    pipe = make_pipeline(FunctionTransformer(lambda t: [s.upper().lower() for s in t]), make_clf(tiny_bert))
    pipe.fit(X, y)
    assert pipe.score(X, y) >= 0.5
    grid = GridSearchCV(make_clf(tiny_bert, validation_fraction=0),
                        {"lam": [0.2, 0.9], "n_neighbors": [None, 3]}, cv=2)
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert grid.best_params_["lam"] in (0.2, 0.9)
    assert grid.best_estimator_.lam == grid.best_params_["lam"]


def test_grid_values_change_the_fitted_model(tiny_bert):
    X, y = make_texts(10)
    a = make_clf(tiny_bert, lam=0.1, validation_fraction=0).fit(X, y).predict_proba(X)
    b = make_clf(tiny_bert, lam=0.9, validation_fraction=0).fit(X, y).predict_proba(X)
    c = make_clf(tiny_bert, lam=0.9, n_neighbors=2, validation_fraction=0).fit(X, y).predict_proba(X)
    assert not np.allclose(a, b) and not np.allclose(b, c)


def test_pickle_and_joblib_round_trip(fitted, tmp_path):
    clf, X, _ = fitted
    expected = clf.predict_proba(X)
    again = pickle.loads(pickle.dumps(clf))  # on the CPU now, wherever clf was
    atol = prediction_atol(clf)
    np.testing.assert_allclose(again.predict_proba(X), expected, rtol=0, atol=atol)
    joblib.dump(clf, tmp_path / "m.joblib")
    np.testing.assert_allclose(joblib.load(tmp_path / "m.joblib").predict_proba(X), expected, rtol=0, atol=atol)


def test_save_pretrained_round_trip(fitted, tmp_path):
    clf, X, _ = fitted
    folder = clf.save_pretrained(tmp_path / "model")
    files = {p.name for p in folder.rglob("*")}
    assert {"skgloss.json", "head.safetensors", "model.safetensors", "config.json"} <= files
    assert not [p for p in folder.rglob("*") if p.suffix in (".pkl", ".bin", ".pt", ".joblib")]
    loaded = GLossTextClassifier.from_pretrained(folder)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.get_params()["lam"] == clf.lam
    assert loaded.history_ == clf.history_ and loaded.n_iter_ == clf.n_iter_ and loaded.sigma_ == clf.sigma_


def test_save_pretrained_keeps_integer_classes_and_class_weight(tiny_bert, tmp_path):
    X, y = make_texts(6)
    y_int = np.where(np.asarray(y) == "fruit", 3, 7)
    clf = make_clf(tiny_bert, max_epochs=1, class_weight={3: 2.0, 7: 1.0}).fit(X, y_int)
    loaded = GLossTextClassifier.from_pretrained(clf.save_pretrained(tmp_path / "m"))
    assert loaded.classes_.dtype == clf.classes_.dtype and list(loaded.classes_) == [3, 7]
    assert loaded.class_weight == {3: 2.0, 7: 1.0}
    assert set(loaded.predict(X)) <= {3, 7}


def test_from_pretrained_rejects_other_folders(tmp_path):
    with pytest.raises(ValueError, match="skgloss.json"):
        GLossTextClassifier.from_pretrained(tmp_path)


def test_not_fitted():
    clf = GLossTextClassifier()
    for method in (clf.predict, clf.predict_proba, clf.transform):
        with pytest.raises(NotFittedError):
            method(["a text"])


def test_sklearn_tags_declare_string_input():
    tags = GLossTextClassifier().__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    assert tags.estimator_type == "classifier"


def test_pandas_input_and_verbose_output(tiny_bert, caplog):
    pd = pytest.importorskip("pandas")
    X, y = make_texts(6)
    with caplog.at_level("INFO", logger="skgloss"):
        clf = make_clf(tiny_bert, max_epochs=1, verbose=1).fit(pd.Series(X), pd.Series(y))
    assert clf.predict(pd.Series(X)).shape == (12,)
    assert "epoch 1:" in caplog.text  # verbose output goes through the skgloss logger (tests/test_logging.py)


def test_empty_strings_are_valid_texts(fitted):
    clf, _, _ = fitted
    assert clf.predict_proba(["", "apple"]).shape == (2, 2)


def test_class_weight_balanced(tiny_bert):
    X, y = make_texts(10)
    y = np.array(y, dtype=object)
    y[:5] = "fruit"
    clf = make_clf(tiny_bert, max_epochs=1, class_weight="balanced", validation_fraction=0)
    n = np.bincount(np.unique(y, return_inverse=True)[1])
    np.testing.assert_allclose(clf.fit(X, y)._class_weight_array(np.unique(y, return_inverse=True)[1], clf.classes_),
                               n.sum() / (2 * n))


def test_validation_split_with_rare_classes():
    """A class with one labeled row stays in training; the others still give validation rows."""
    y_idx = np.array([0] * 20 + [1] * 10 + [2] + [-1] * 5)
    clf = GLossTextClassifier(validation_fraction=0.2)
    train_rows, val_rows = clf._validation_split(y_idx, seed=0)
    assert np.intersect1d(train_rows, val_rows).size == 0
    assert len(train_rows) + len(val_rows) == len(y_idx)
    assert np.bincount(y_idx[val_rows], minlength=3).tolist() == [4, 2, 0]
    assert (y_idx[train_rows] == -1).sum() == 5 and 30 in train_rows
    with pytest.warns(UserWarning, match="without validation"):
        _, none = GLossTextClassifier(validation_fraction=0.1)._validation_split(np.array([0, 1, 2, 3]), 0)
    assert none.size == 0


@pytest.mark.parametrize("n_labeled, expected", [(16, 0), (290, 0), (300, 30), (1000, 100)])
def test_auto_validation_holds_out_only_a_useful_number_of_rows(n_labeled, expected):
    """'auto': 10 % of the labeled rows when that makes at least 30, else none; -1 rows never count.

    Without the corpus graph (``graph_refresh=None``) a fit with -1 rows has no label-spreading start to
    defend, so the fully labeled threshold applies (with it: tests/test_few_labels.py)."""
    y_idx = np.r_[np.arange(n_labeled) % 2, -np.ones(500, dtype=int)]
    train_rows, val_rows = GLossTextClassifier(graph_refresh=None)._validation_split(y_idx, seed=0)
    assert len(val_rows) == expected
    assert len(train_rows) + len(val_rows) == len(y_idx)
    assert (y_idx[val_rows] >= 0).all()
