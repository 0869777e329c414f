"""The head fitted in closed form (skgloss.head) and the starting point that competes in model selection."""

import numpy as np
import pytest
import torch
from conftest import make_texts
from sklearn.linear_model import LogisticRegression

from skgloss import GLossTextClassifier
from skgloss.encoder import embed_texts, load_encoder
from skgloss.head import fit_linear_head
from skgloss.training import TrainingConfig, _heads_judged, better_beyond_noise, start_point_wins

# validation_fraction=0: what "auto" meant for these few rows before it cross-validated the epoch count
# (tests/test_few_labels.py tests that)
FAST = dict(max_length=16, batch_size=8, max_epochs=2, learning_rate=2e-3, random_state=0, validation_fraction=0)


def blobs(n=240, d=12, n_classes=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    X = rng.normal(size=(n, d))
    X[np.arange(n), y] += 1.5
    return X, y


@pytest.mark.parametrize("C", [0.05, 1.0, 20.0])
def test_matches_scikit_learn_logistic_regression(C):
    X, y = blobs()
    ref = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
    head = torch.nn.Linear(X.shape[1], 4)
    fit_linear_head(head, X, y, C=C, max_iter=1000, tol=1e-10)
    np.testing.assert_allclose(head.weight.detach().numpy(), ref.coef_, atol=1e-4)
    # the multinomial bias is defined up to a shared constant
    b = head.bias.detach().numpy()
    np.testing.assert_allclose(b - b.mean(), ref.intercept_ - ref.intercept_.mean(), atol=1e-4)


def test_class_weights_match_scikit_learn():
    X, y = blobs(seed=1)
    cw = np.array([1.0, 3.0, 0.5, 1.0])
    ref = LogisticRegression(tol=1e-10, max_iter=10_000, class_weight=dict(enumerate(cw))).fit(X, y)
    head = torch.nn.Linear(X.shape[1], 4)
    fit_linear_head(head, X, y, class_weight=cw, max_iter=1000, tol=1e-10)
    np.testing.assert_allclose(head.weight.detach().numpy(), ref.coef_, atol=1e-4)


def test_solution_does_not_depend_on_the_starting_head():
    X, y = blobs(seed=2)
    heads = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        h = torch.nn.Linear(X.shape[1], 4)
        with torch.no_grad():
            h.weight.mul_(50.0)  # far from the optimum
        heads.append(fit_linear_head(h, X, y, max_iter=1000, tol=1e-10).weight.detach().numpy())
    np.testing.assert_allclose(heads[0], heads[1], atol=1e-4)


def test_soft_targets_weigh_like_repeated_rows():
    """A row with target (0.3, 0.7) is the same problem as two copies of it, weighted 0.3 and 0.7."""
    X, y = blobs(n=60, n_classes=2, seed=3)
    soft = np.eye(2)[y]
    soft[:10] = [0.3, 0.7]
    a = fit_linear_head(torch.nn.Linear(X.shape[1], 2), X, soft, max_iter=1000, tol=1e-10)
    Xr = np.vstack([X, X[:10]])
    yr = np.r_[y[:10] * 0, y[10:], np.ones(10, dtype=int)]
    w = np.r_[np.full(10, 0.3), np.ones(50), np.full(10, 0.7)]
    b = fit_linear_head(torch.nn.Linear(X.shape[1], 2), Xr, yr, sample_weight=w, max_iter=1000, tol=1e-10)
    np.testing.assert_allclose(a.weight.detach().numpy(), b.weight.detach().numpy(), atol=1e-5)


def test_bad_input_is_refused():
    head = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="do not match"):
        fit_linear_head(head, np.zeros((4, 5)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="labeled rows only"):
        fit_linear_head(head, np.zeros((2, 3)), np.array([0, -1]))
    with pytest.raises(ValueError, match="soft targets"):
        fit_linear_head(head, np.zeros((2, 3)), np.array([[0.5, np.nan], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="head_C"):
        GLossTextClassifier(head_C=0).fit(["a", "b"], [0, 1])
    with pytest.raises(ValueError, match="refit_head"):
        GLossTextClassifier(refit_head="yes").fit(["a", "b"], [0, 1])


def test_fitted_head_is_the_logistic_regression_on_the_final_embeddings(tiny_bert):
    X, y = make_texts(15)
    clf = GLossTextClassifier(tiny_bert, **{**FAST, "validation_fraction": 0}).fit(X, y)
    emb = clf.transform(X)
    ref = torch.nn.Linear(emb.shape[1], 2)
    fit_linear_head(ref, emb, (np.asarray(y) == "vehicle").astype(int))
    np.testing.assert_allclose(clf.head_.weight.detach().cpu().numpy(), ref.weight.detach().numpy(), atol=1e-4)


def test_without_refit_the_head_is_left_to_its_gradient_steps(tiny_bert):
    X, y = make_texts(15)
    a = GLossTextClassifier(tiny_bert, **{**FAST, "validation_fraction": 0}).fit(X, y)
    b = GLossTextClassifier(tiny_bert, **{**FAST, "validation_fraction": 0, "refit_head": False}).fit(X, y)
    assert not np.allclose(a.head_.weight.detach().cpu().numpy(), b.head_.weight.detach().cpu().numpy(), atol=1e-3)


def test_a_fit_that_only_hurts_ends_where_it_began(tiny_bert):
    """A learning rate that wrecks the encoder: the starting point wins validation clearly and is what ships."""
    X, y = make_texts(40)
    # precision="fp32": these are fp32 comparisons; "auto" computes in bf16 on a CPU with native bf16 (AMX, AVX512-BF16)
    clf = GLossTextClassifier(tiny_bert, **{**FAST, "loss": "ce", "learning_rate": 5.0, "max_epochs": 2,
                                            "max_grad_norm": None, "n_iter_no_change": None,
                                            "validation_fraction": 0.2, "precision": "fp32"}).fit(X, y)
    assert clf.best_epoch_ == 0
    assert clf.start_score_ >= max(h["val_score"] for h in clf.history_)
    # the shipped encoder is the pre-trained one, the head a logistic regression on its embeddings
    enc, tok = load_encoder(tiny_bert)
    frozen = embed_texts(enc, tok, X, pooling="mean", max_length=16, batch_size=8, device=torch.device("cpu"))
    np.testing.assert_allclose(clf.transform(X), frozen, atol=1e-5)


def test_semi_supervised_refit_adds_the_pseudo_labeled_rows(tiny_bert):
    """With -1 rows, the refit solves the head's own objective: labeled rows plus confident rows with F as target."""
    X, y = make_texts(15)
    y_part = np.array(y, dtype=object)
    y_part[np.arange(len(y)) % 3 != 0] = -1
    clf = GLossTextClassifier(tiny_bert, **{**FAST, "validation_fraction": 0, "pseudo_label_threshold": 0.55})
    clf.fit(X, y_part)
    labeled = np.flatnonzero(y_part != -1)
    pseudo = np.flatnonzero((y_part == -1) & (clf.label_distributions_.max(axis=1) >= 0.55))
    assert len(pseudo) > 0
    rows = np.r_[labeled, pseudo]
    targets = np.r_[np.eye(2)[(y_part[labeled] == "vehicle").astype(int)], clf.label_distributions_[pseudo]]
    weights = np.r_[np.ones(len(labeled)), np.full(len(pseudo), len(labeled) / len(pseudo))]
    ref = fit_linear_head(torch.nn.Linear(32, 2), clf.transform([X[i] for i in rows]), targets,
                          sample_weight=weights)
    np.testing.assert_allclose(clf.head_.weight.detach().cpu().numpy(), ref.weight.detach().numpy(), atol=1e-4)


@pytest.mark.parametrize("inference", ["head", "blend"])
def test_each_epoch_keeps_the_refit_head_only_when_it_is_better_beyond_noise(tiny_bert, inference):
    X, y = make_texts(20)
    clf = GLossTextClassifier(tiny_bert, **{**FAST, "max_epochs": 3, "validation_fraction": 0.25,
                                            "n_iter_no_change": None, "inference": inference}).fit(X, y)
    for h in clf.history_:
        b, c = h["val_only_refit_correct"], h["val_only_trained_correct"]
        n_val = round(0.25 * len(y))
        if inference == "head":  # b and c count the shipped predictor's rows (blend: each head's own rows)
            assert h["val_score_refit"] - h["val_score_trained"] == pytest.approx((b - c) / n_val)
        assert 0 <= b + c <= n_val
        assert h["head"] == ("refit" if b - c > 1.645 * np.sqrt(b + c) else "trained")
        assert h["val_score"] == h[f"val_score_{h['head']}"]


@pytest.mark.parametrize("inference", ["graph", "blend"])
def test_under_graph_inference_the_heads_are_judged_on_their_own_predictions(inference):
    # the shared graph vote gets every validation row right with either head; alone, the refit head is right
    # everywhere and the trained head (always class 0) on half the rows: the refit head must win
    val_y = np.tile([0, 1], 10)
    refit_logits = np.eye(2)[val_y] * 3.0
    trained_logits = np.tile([2.0, -2.0], (20, 1))
    shared = np.ones(20, dtype=bool)
    refit, trained = _heads_judged(refit_logits, trained_logits, shared, shared, val_y,
                                   TrainingConfig(inference=inference))
    np.testing.assert_array_equal(refit, np.ones(20, dtype=bool))
    np.testing.assert_array_equal(trained, val_y == 0)
    assert better_beyond_noise(refit, trained)
    # inference="head" (and multi-label models): the shipped predictor's rows, as given
    for config in (TrainingConfig(inference="head"), TrainingConfig(inference=inference, multilabel=True)):
        refit, trained = _heads_judged(refit_logits, trained_logits, shared, shared, val_y, config)
        assert refit is shared and trained is shared
        assert not better_beyond_noise(refit, trained)


def test_better_beyond_noise_is_a_one_sided_paired_test():
    trained = np.array([True] * 60 + [False] * 40)
    # refit fixes 6 rows the trained head got wrong: b=6, c=0 -> 6 > 1.645*sqrt(6)=4.03
    assert better_beyond_noise(np.r_[[True] * 66, [False] * 34], trained)
    # the same accuracy gain over many disagreements is noise: b=16, c=10 -> 6 < 1.645*sqrt(26)=8.4
    refit = trained.copy()
    refit[:10] = False
    refit[60:76] = True
    assert refit.mean() - trained.mean() == pytest.approx(0.06)
    assert not better_beyond_noise(refit, trained)
    assert not better_beyond_noise(trained, trained)  # identical: the incumbent stays
    assert not better_beyond_noise(trained, refit)  # never when the challenger is worse
    assert better_beyond_noise(refit, trained, z=1.0)  # 6 > 5.1


def test_start_point_wins_as_challenger_or_incumbent():
    best = np.array([True] * 60 + [False] * 40)
    close = best.copy()
    close[:10] = False
    close[60:76] = True  # 6 more right, over 26 disagreements: noise
    clear = np.r_[[True] * 66, [False] * 34]  # 6 more right, no row lost: beyond noise
    # the challenger (a fully labeled fit's start) needs a clear win
    assert not start_point_wins(close, best) and start_point_wins(clear, best)
    assert not start_point_wins(best, best)
    # the incumbent (a semi-supervised fit's start) stays unless the best epoch beats it clearly
    assert start_point_wins(best, best, incumbent=True)
    assert start_point_wins(best, close, incumbent=True)  # the epoch is ahead, but within noise
    assert not start_point_wins(best, clear, incumbent=True)
    # with no margin (cross-validation over every labeled row) raw accuracy decides, ties to the incumbent
    assert not start_point_wins(best, close, incumbent=True, z=0.0)  # 6 more right: the epoch wins
    assert start_point_wins(close, best, incumbent=True, z=0.0)
    assert start_point_wins(best, best, incumbent=True, z=0.0)  # a tie keeps the start
    assert not start_point_wins(best, best, z=0.0)  # ...and the trained epoch, when the start challenges
    # a candidate that was not scored
    assert not start_point_wins(None, best, incumbent=True)
    assert start_point_wins(best, None) and start_point_wins(best, None, incumbent=True)


@pytest.mark.parametrize("semi", [False, True])
def test_epochs_that_change_nothing_keep_the_start_only_in_a_semi_supervised_fit(tiny_bert, semi):
    """Epochs that score exactly as the start: a fully labeled fit ships the epoch, a fit with -1 rows the start."""
    X, y = make_texts(40)
    y_fit = np.array(y, dtype=object)
    if semi:
        y_fit[np.arange(len(y)) % 4 == 3] = -1
    clf = GLossTextClassifier(tiny_bert, **{**FAST, "learning_rate": 1e-12, "validation_fraction": 0.25,
                                            "n_iter_no_change": None}).fit(X, y_fit)
    assert [h["val_score"] for h in clf.history_] == [clf.start_score_] * 2
    assert clf.best_epoch_ == (0 if semi else 1)
    assert clf.inference_ == ("blend" if semi else "head")


def test_the_head_refuses_weights_that_are_all_zero_and_non_finite_embeddings():
    """All-zero weights made the penalty 1/(2·C·0) overflow (NaN head for C < 0.5); NaN embeddings a NaN head."""
    rng = np.random.default_rng(0)
    H, y = rng.normal(size=(10, 4)), np.arange(10) % 2
    for kwargs in ({"class_weight": np.zeros(2)}, {"sample_weight": np.zeros(10)}):
        head = torch.nn.Linear(4, 2)
        before = head.weight.detach().clone()
        with pytest.raises(ValueError, match="not all 0"):
            fit_linear_head(head, H, y, C=0.1, **kwargs)
        assert torch.equal(head.weight, before)  # untouched
    H[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        fit_linear_head(torch.nn.Linear(4, 2), H, y)


def test_a_fit_whose_weights_are_all_zero_is_refused(tiny_bert):
    X, y = make_texts(6)
    with pytest.raises(ValueError, match="weight 0"):
        GLossTextClassifier(tiny_bert, max_length=16, batch_size=8, max_epochs=1, validation_fraction=0, loss="ce",
                            head_C=0.1, class_weight={"fruit": 0, "vehicle": 0}).fit(X, y)


def test_a_cross_validation_fold_whose_training_rows_all_weigh_0_still_fits(tiny_bert):
    """Weight on one text of each class: some fold's training rows all weigh 0. That fold's closed-form head
    is skipped (it keeps the trained head), not an error the user cannot avoid (folds are drawn inside fit)."""
    X, y = make_texts(6)
    w = np.zeros(len(y))
    w[np.flatnonzero(y == "fruit")[0]] = w[np.flatnonzero(y == "vehicle")[0]] = 1.0
    clf = GLossTextClassifier(tiny_bert, max_length=16, batch_size=8, max_epochs=2, learning_rate=2e-3,
                              random_state=0).fit(X, y, sample_weight=w)
    assert clf.cv_results_["n_folds"] >= 2 and np.isfinite(clf.predict_proba(X)).all()


def test_weights_turned_nan_by_an_epochs_last_step_end_in_the_divergence_rule(tiny_bert, monkeypatch):
    """The epoch's own loss is still finite; its closed-form head must not fail on the NaN embeddings: the next
    epoch's NaN loss stops the fit, which keeps its best epoch (the starting point here)."""
    import warnings

    import skgloss.training as training

    real, steps = training.training_step, {"n": 0}

    def step(forward, head, *args, **kwargs):
        out = real(forward, head, *args, **kwargs)
        steps["n"] += 1
        if steps["n"] == 4:  # the last step of epoch 1 (32 training rows, batches of 8)
            with torch.no_grad():
                for p in forward.parameters():
                    p.fill_(float("nan"))
        return out

    monkeypatch.setattr(training, "training_step", step)
    X, y = make_texts(20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = GLossTextClassifier(tiny_bert, max_length=16, batch_size=8, max_epochs=3, learning_rate=2e-3,
                                  random_state=0, validation_fraction=0.2).fit(X, y)
    assert any("diverged" in str(w.message) for w in caught)
    assert clf.best_epoch_ == 0 and np.isfinite(clf.predict_proba(X)).all()
