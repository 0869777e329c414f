"""Seeded fuzzing: G-Loss on hostile batches, and the estimator on hostile inputs.

Every case is drawn from a seeded generator, so a failure names its seed and
reproduces exactly.
"""

import numpy as np
import pytest
import torch

from skgloss.losses.gloss import g_loss, g_loss_with_info

N_CASES = 1000


def hostile_batch(seed):
    """A batch from one of the shapes that break naive graph losses."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 33))
    d = int(rng.integers(1, 17))
    kind = rng.choice(["random", "single class", "all masked", "isolated", "duplicates", "scale"])
    h = rng.normal(size=(n, d))
    n_classes = int(rng.integers(1, 6))
    y = rng.integers(-1, n_classes, size=n)
    if kind == "single class":
        y[:] = 0
    elif kind == "all masked":
        y[:] = -1
    elif kind == "isolated":  # far-apart rows: with a small sigma every off-diagonal affinity underflows
        h = h * 1e3
    elif kind == "duplicates":
        h[:] = h[0]
    elif kind == "scale":
        h = h * 10.0 ** rng.uniform(-8, 8)
    sigma = float(10.0 ** rng.uniform(-6, 6))
    k = None if rng.random() < 0.5 else int(rng.integers(1, n + 2))
    gamma = float(rng.uniform(0.05, 0.95))
    dtype = torch.float64 if rng.random() < 0.3 else torch.float32
    return torch.tensor(h, dtype=dtype, requires_grad=True), torch.tensor(y), sigma, k, gamma, kind


@pytest.mark.parametrize("block", range(10))
def test_g_loss_is_finite_with_finite_gradients_on_hostile_batches(block):
    for seed in range(block * N_CASES // 10, (block + 1) * N_CASES // 10):
        h, y, sigma, k, gamma, kind = hostile_batch(seed)
        g = torch.Generator().manual_seed(seed)
        loss, info = g_loss_with_info(h, y, gamma=gamma, sigma=sigma, n_neighbors=k, generator=g)
        loss.backward()
        assert torch.isfinite(loss), (seed, kind, float(loss))
        assert loss.item() >= 0, (seed, kind)
        assert torch.isfinite(h.grad).all(), (seed, kind)
        if bool(info["degenerate"]):  # the placeholder: exactly zero, and no gradient at all
            assert float(loss) == 0.0 and not h.grad.any(), (seed, kind)


def test_g_loss_agrees_with_itself_across_dtypes():
    """float32 and float64 inputs give the same loss on ordinary batches (the solve runs in one dtype)."""
    for seed in range(50):
        h, y, sigma, k, gamma, _ = hostile_batch(seed)
        y = torch.arange(h.shape[0]) % 2  # two classes, everything labeled
        sigma = 1.0
        a = g_loss(h.detach().double(), y, gamma=gamma, sigma=sigma, n_neighbors=k,
                   generator=torch.Generator().manual_seed(seed))
        b = g_loss(h.detach().float(), y, gamma=gamma, sigma=sigma, n_neighbors=k,
                   generator=torch.Generator().manual_seed(seed))
        assert torch.isclose(a.float(), b, rtol=1e-3, atol=1e-4), seed


def hostile_inputs(seed, n=12):
    """Texts, labels and a parameter override drawn from what users get wrong."""
    rng = np.random.default_rng(seed)
    from conftest import make_texts

    X, y = make_texts(n // 2, seed=seed)
    X, y = list(X), list(y)
    i = int(rng.integers(n))
    # each axis is left alone half the time, so that fits also get deep enough to meet the hostile part
    x_kind = "ok" if rng.random() < 0.5 else rng.choice(["int", "none", "bytes", "nested", "empty", "surrogate",
                                                          "huge", "2d", "str"])
    if x_kind == "int":
        X[i] = 7
    elif x_kind == "none":
        X[i] = None
    elif x_kind == "bytes":
        X[i] = b"apple"
    elif x_kind == "nested":
        X[i] = ["apple", "pear"]
    elif x_kind == "empty":
        X[i] = ""
    elif x_kind == "surrogate":
        X[i] = "apple \udcff pear"
    elif x_kind == "huge":
        X[i] = "apple " * 20_000
    elif x_kind == "2d":
        X = np.array([X, X], dtype=object)
    elif x_kind == "str":
        X = "apple pear"
    y_kind = "ok" if rng.random() < 0.5 else rng.choice(["nan", "none", "mixed", "all -1", "one class", "bool",
                                                          "minus one str", "short", "list", "semi"])
    if y_kind == "nan":
        y = [float(v == "fruit") for v in y]
        y[i] = float("nan")
    elif y_kind == "none":
        y[i] = None
    elif y_kind == "mixed":
        y[i] = 3
    elif y_kind == "all -1":
        y = [-1] * len(y)
    elif y_kind == "one class":
        y = ["fruit"] * len(y)
    elif y_kind == "bool":
        y = [v == "fruit" for v in y]
    elif y_kind == "minus one str":
        y[i] = "-1"
    elif y_kind == "short":
        y = y[:-1]
    elif y_kind == "list":
        y = [[v] for v in y]
    elif y_kind == "semi":
        y = [v if j % 3 else -1 for j, v in enumerate(y)]
    name, value = [("max_length", int(rng.integers(-2, 80))), ("batch_size", int(rng.integers(-1, 5))),
                   ("lam", float(rng.uniform(-1, 2))), ("gamma", float(rng.uniform(-0.5, 1.5))),
                   ("n_neighbors", int(rng.integers(-1, 30))), ("sigma", float(rng.normal())),
                   ("validation_fraction", float(rng.uniform(-0.2, 1.2))), ("learning_rate", 0.0),
                   ("alpha", float(rng.uniform(-0.5, 1.5))), ("inference", str(rng.choice(["head", "graph", "x"])))
                   ][int(rng.integers(10))]
    params = {name: value} if rng.random() < 0.5 else {}
    return X, y, params, f"X {x_kind}, y {y_kind}, {params}"


@pytest.mark.parametrize("seed", range(60))
def test_hostile_inputs_give_a_result_or_a_clear_error(tiny_bert, seed):
    from skgloss import GLossTextClassifier

    X, y, params, what = hostile_inputs(seed)
    clf = GLossTextClassifier(tiny_bert, **{"max_length": 16, "batch_size": 4, "max_epochs": 1,
                                            "random_state": 0, **params})
    try:
        clf.fit(X, y)
    except (ValueError, TypeError) as exc:  # the documented errors, with a message that says what was wrong
        assert len(str(exc)) > 20 and "Traceback" not in str(exc), what
        assert not hasattr(clf, "head_"), what
        return
    proba = clf.predict_proba(["apple pear", "", "truck"])
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1), what
