"""Multi-label y: indicator matrices and label sets, the per-label G-Loss, the sigmoid head."""

import numpy as np
import pytest
import torch
from conftest import FILLER, FRUIT, VEHICLE

from skgloss import GLossTextClassifier
from skgloss._validation import encode_multilabel, is_multilabel
from skgloss.graph import batch_affinity
from skgloss.head import fit_linear_head
from skgloss.losses import g_loss, labeled_cross_entropy, stratified_mask
from skgloss.propagation import harmonic_propagation, transition_matrix

FAST = dict(max_length=16, batch_size=8, max_epochs=3, learning_rate=2e-3, random_state=0)


def two_topics(n=60, seed=0):
    """Texts about fruit, vehicles, both or neither; y = [fruit?, vehicle?]."""
    rng = np.random.default_rng(seed)
    X, Y = [], []
    for _ in range(n):
        f, v = rng.random() < 0.5, rng.random() < 0.5
        words = (list(rng.choice(FILLER, 3)) + (list(rng.choice(FRUIT, 2)) if f else [])
                 + (list(rng.choice(VEHICLE, 2)) if v else []))
        rng.shuffle(words)
        X.append(" ".join(words))
        Y.append([int(f), int(v)])
    return X, np.array(Y)


def test_indicator_and_label_sets_encode_alike():
    Y = np.array([[1, 0, 1], [0, 0, 0], [-1, -1, -1], [0, 1, 0]])
    classes, enc = encode_multilabel(Y, 4)
    assert classes.tolist() == [0, 1, 2] and enc.dtype == np.int8
    np.testing.assert_array_equal(enc, Y)
    sets = [{"b", "a"}, [], -1, ("c",)]
    classes, enc = encode_multilabel(sets, 4)
    assert classes.tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(enc, [[1, 1, 0], [0, 0, 0], [-1, -1, -1], [0, 0, 1]])
    # nested lists of numbers are an indicator (scikit-learn's type_of_target), ragged ones label sets
    assert encode_multilabel([[0, 1], [1, 1]], 2)[0].tolist() == [0, 1]
    assert encode_multilabel([[3], [3, 5]], 2)[0].tolist() == [3, 5]
    assert is_multilabel(Y) and is_multilabel(sets) and not is_multilabel(np.array(["a", "b"]))
    assert not is_multilabel(np.array([[1], [0]]))  # one column: a 1-D y


@pytest.mark.parametrize("y, match", [
    (np.array([[1, 2], [0, 1]]), r"y\[0, 1\] is 2"),
    (np.array([[-1, -1], [-1, -1]]), "every row of y is unlabeled"),
    ([{"a"}, "b"], r"y\[1\] is 'b'"),
    ([{"a"}, {"a"}], "at least two"),
    (np.array([[1, 0]]), "different lengths"),
])
def test_bad_multilabel_y_is_a_clear_error(y, match):
    with pytest.raises((ValueError, TypeError), match=match):
        encode_multilabel(y, 2)


def test_multilabel_g_loss_matches_a_dense_reference_and_single_label_propagation():
    torch.manual_seed(0)
    h = torch.randn(10, 6, dtype=torch.float64, requires_grad=True)
    onehot = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, -1, -1])
    Y = torch.where(onehot[:, None] >= 0, torch.nn.functional.one_hot(onehot.clamp_min(0), 3), -1)
    loss = g_loss(h, Y, sigma=0.7, gamma=0.5, generator=torch.Generator().manual_seed(3))
    loss.backward()
    assert torch.isfinite(h.grad).all() and h.grad.abs().sum() > 0
    # the same split, by hand: every labeled row one "class" of stratified_mask
    masked = stratified_mask(torch.where(onehot >= 0, 0, -1), 0.5, torch.Generator().manual_seed(3))
    kept = (onehot >= 0) & ~masked
    W = batch_affinity(h.detach(), 0.7)
    T = transition_matrix(W).numpy()
    U, K = (~kept).numpy(), kept.numpy()
    YL = np.c_[Y.numpy()[K], np.ones(K.sum())]
    F = np.linalg.solve(np.eye(U.sum()) - T[np.ix_(U, U)], T[np.ix_(U, K)] @ YL)
    p = np.clip(F[:, :3] / F[:, 3:], 1e-12, 1 - 1e-7)
    rows = masked.numpy()[U]
    t = Y.numpy()[U][rows]
    present = (YL[:, :3].sum(0) > 0) & (YL[:, :3].sum(0) < K.sum())
    bce = -(t * np.log(p[rows]) + (1 - t) * np.log1p(-p[rows]))
    assert loss.item() == pytest.approx((bce[:, present].sum(1) / present.sum()).mean(), rel=1e-6)
    # one label per row: the propagated probabilities are single-label harmonic propagation
    single = harmonic_propagation(W, torch.where(kept, onehot, -1), 3).numpy()
    np.testing.assert_allclose(p, single, atol=1e-6)


def test_a_label_every_kept_row_carries_is_left_out_of_the_multilabel_g_loss():
    """Propagated from kept rows that all carry it, a label reaches every masked row with probability 1 whatever the
    embeddings: like a label no kept row carries, it has nothing to teach, and counting it would add a constant
    -log(1e-7) per masked row without it and shrink the other labels' share of the gradient."""
    h = torch.randn(8, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    Y = torch.tensor([[1, 1], [1, 0], [1, 1], [1, 0], [1, 1], [1, 0], [1, 1], [0, 1]])  # label 0: all rows but 7
    for seed in range(50):
        masked = stratified_mask(torch.zeros(8, dtype=torch.long), 0.7, torch.Generator().manual_seed(seed))
        if masked[7] and (Y[~masked, 0] == 1).all():
            break
    else:
        pytest.fail("no split keeps only rows with label 0")
    both = g_loss(h, Y, sigma=0.5, gamma=0.7, generator=torch.Generator().manual_seed(seed))
    second = g_loss(h, Y[:, 1:], sigma=0.5, gamma=0.7, generator=torch.Generator().manual_seed(seed))
    assert both.item() == pytest.approx(second.item(), rel=1e-12)


def test_multilabel_g_loss_of_a_batch_without_labels_is_a_zero_that_keeps_the_graph():
    h = torch.randn(4, 3, requires_grad=True)
    loss = g_loss(h, torch.full((4, 2), -1), sigma=0.5)
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(h.grad, torch.zeros_like(h))


def test_labeled_binary_cross_entropy_skips_unlabeled_rows():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5], [9.0, 9.0]])
    labels = torch.tensor([[1, 0], [0, 1], [-1, -1]])
    ref = torch.nn.functional.binary_cross_entropy_with_logits(logits[:2], labels[:2].float())
    assert labeled_cross_entropy(logits, labels).item() == pytest.approx(ref.item())
    with pytest.raises(ValueError, match="class_weight"):
        labeled_cross_entropy(logits, labels, class_weight=[1.0, 2.0])


def test_the_closed_form_multilabel_head_is_one_logistic_regression_per_label():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6))
    Y = (X[:, :3] + rng.normal(size=(200, 3)) > 0).astype(int)
    head = fit_linear_head(torch.nn.Linear(6, 3), X, Y, C=0.5, multilabel=True, tol=1e-10, max_iter=500)
    for label in range(3):
        ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(X, Y[:, label])
        np.testing.assert_allclose(head.weight[label].detach().numpy(), ref.coef_[0], atol=1e-5)
        assert head.bias[label].item() == pytest.approx(ref.intercept_[0], abs=1e-5)


@pytest.mark.parametrize("loss", ["gloss", "ce"])
def test_a_multilabel_fit_predicts_an_indicator_matrix(tiny_bert, loss):
    X, Y = two_topics()
    clf = GLossTextClassifier(tiny_bert, **FAST, loss=loss, validation_fraction=0.25).fit(X, Y)
    assert clf.multilabel_ and clf.classes_.tolist() == [0, 1] and clf.inference_ == "head"
    pred = clf.predict(X)
    assert pred.shape == (60, 2) and set(np.unique(pred)) <= {0, 1}
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(pred, (proba >= 0.5).astype(int))
    assert not np.allclose(proba.sum(axis=1), 1.0)  # per-label probabilities, not a distribution
    np.testing.assert_array_equal(clf.decision_function(X) > 0, pred == 1)
    # the two topics are learnable: most texts get both labels right (subset accuracy; all-zeros scores ~0.25)
    assert clf.score(X, Y) >= 0.75
    assert np.mean(pred == Y) > 0.85
    if loss == "gloss":
        assert sum(h["masked_rows_used"] for h in clf.history_) > 0  # L_G did propagate labels


def test_label_sets_with_unlabeled_texts(tiny_bert, tmp_path):
    X, Y = two_topics()
    sets = [[name for name, on in zip(("fruit", "vehicle"), row) if on] for row in Y]
    for i in range(0, 60, 4):
        sets[i] = -1
    clf = GLossTextClassifier(tiny_bert, **FAST, validation_fraction=0).fit(X, sets)
    assert clf.classes_.tolist() == ["fruit", "vehicle"] and clf.n_labeled_fit_ == 45
    assert not hasattr(clf, "graph_")  # no corpus graph: -1 rows are unlabeled nodes of the batch graphs only
    keep = [i for i in range(60) if i % 4]
    assert clf.score(X, sets) == pytest.approx(clf.score([X[i] for i in keep], Y[keep]))
    with pytest.raises(ValueError, match="not one of the model's classes"):
        clf.score(X[:1], [["boat"]])
    loaded = GLossTextClassifier.from_pretrained(clf.save_pretrained(tmp_path / "m"))
    assert loaded.multilabel_ and loaded.classes_.tolist() == ["fruit", "vehicle"]
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


@pytest.mark.parametrize("params, match", [
    ({"loss": "supcon"}, "loss='supcon'"),
    ({"class_weight": "balanced"}, "class_weight"),
    ({"inference": "graph"}, "inference='graph'"),
    ({"batching": "class"}, "batching='class'"),
    ({"graph_refresh": 1}, "graph_refresh=1"),
])
def test_what_a_multilabel_fit_cannot_do_is_a_clear_error(tiny_bert, params, match):
    X, Y = two_topics(8)
    with pytest.raises(ValueError, match=match):
        GLossTextClassifier(tiny_bert, **{**FAST, **params}).fit(X, Y)
