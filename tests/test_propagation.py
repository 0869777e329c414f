import numpy as np
import pytest
import torch

from skgloss.graph import batch_affinity
from skgloss.propagation import harmonic_propagation, transition_matrix


def numpy_harmonic(W, labels, n_classes):
    """Independent float64 implementation of docs/method.md, in-batch G-Loss steps 3 and 5."""
    W = np.asarray(W, dtype=np.float64)
    d = W.sum(1)
    S = W / np.sqrt(np.outer(d, d))
    S = S / S.sum(0, keepdims=True)
    T = S / S.sum(1, keepdims=True)
    U = labels < 0
    L = ~U
    Y = np.eye(n_classes)[labels[L]]
    F = np.linalg.solve(np.eye(U.sum()) - T[np.ix_(U, U)], T[np.ix_(U, L)] @ Y)
    return F / F.sum(1, keepdims=True)


def random_problem(seed, n=12, C=3):
    """A random symmetric W with a zero diagonal, and labels with 5 unknown rows and every class present."""
    rng = np.random.default_rng(seed)
    A = rng.random((n, n))
    W = (A + A.T) / 2
    np.fill_diagonal(W, 0)
    labels = rng.integers(0, C, n)
    labels[rng.choice(n, 5, replace=False)] = -1
    labels[:C] = np.arange(C)  # every class labeled at least once
    return W, labels


@pytest.mark.parametrize("seed", range(5))
def test_harmonic_propagation_matches_numpy(seed):
    C = 3
    W, labels = random_problem(seed, C=C)
    F = harmonic_propagation(torch.tensor(W), torch.tensor(labels), C)
    assert F.dtype == torch.float64
    assert F.shape == ((labels < 0).sum(), C)
    np.testing.assert_allclose(F.numpy(), numpy_harmonic(W, labels, C), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(F.sum(1).numpy(), 1.0, atol=1e-12)


def test_transition_matrix_is_row_stochastic():
    W = batch_affinity(torch.randn(9, 4, dtype=torch.float64), 0.6)
    T = transition_matrix(W)
    torch.testing.assert_close(T.sum(1), torch.ones(9, dtype=torch.float64))
    assert (T >= 0).all()


def test_harmonic_propagation_gradcheck():
    torch.manual_seed(0)
    A = torch.rand(7, 7, dtype=torch.float64)
    W = ((A + A.T) / 2).fill_diagonal_(0).requires_grad_(True)
    labels = torch.tensor([0, 1, 2, -1, -1, 0, -1])
    assert torch.autograd.gradcheck(lambda w: harmonic_propagation(w, labels, 3), (W,))


def test_harmonic_propagation_follows_clusters():
    z = torch.tensor([[1.0, 0.0], [0.95, 0.05], [0.0, 1.0], [0.05, 0.95]], dtype=torch.float64)
    F = harmonic_propagation(batch_affinity(z, 0.3), torch.tensor([0, -1, 1, -1]), 2)
    assert F.argmax(1).tolist() == [0, 1]
    assert F[0, 0] > 0.9 and F[1, 1] > 0.9


def test_unreachable_nodes_get_uniform_not_nan():
    # nodes 2 and 3 form a component with no labeled node
    W = torch.zeros(4, 4, dtype=torch.float64)
    W[0, 1] = W[1, 0] = 1.0
    W[2, 3] = W[3, 2] = 1.0
    W[0, 1] = W[1, 0] = 1.0
    F = harmonic_propagation(W, torch.tensor([0, -1, -1, -1]), 2)
    assert torch.isfinite(F).all()
    torch.testing.assert_close(F[0], torch.tensor([1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(F[1:], torch.full((2, 2), 0.5, dtype=torch.float64))


def test_harmonic_propagation_bad_input():
    W = torch.rand(4, 4)
    with pytest.raises(ValueError, match="square"):
        harmonic_propagation(torch.rand(4, 3), torch.tensor([0, 1, -1, -1]), 2)
    with pytest.raises(ValueError, match="labels"):
        harmonic_propagation(W, torch.tensor([0, 1, -1]), 2)
    with pytest.raises(ValueError, match="n_classes"):
        harmonic_propagation(W, torch.tensor([0, 2, -1, -1]), 2)
    with pytest.raises(TypeError, match="integer"):
        harmonic_propagation(W, torch.tensor([0.0, 1.0, -1.0, -1.0]), 2)


@pytest.mark.parametrize("seed", range(5))
def test_dense_solve_matches_numpy_on_unknown_rows_and_is_zero_elsewhere(seed):
    from skgloss.propagation import harmonic_solve_dense

    n, C = 12, 3
    W, labels = random_problem(seed, n, C)
    known = labels >= 0
    Y = np.zeros((n, C))
    Y[known, labels[known]] = 1.0
    F = harmonic_solve_dense(transition_matrix(torch.tensor(W)), torch.tensor(Y), torch.tensor(~known))
    assert F.shape == (n, C) and F.dtype == torch.float64
    F = F.numpy()
    np.testing.assert_allclose(F[~known] / F[~known].sum(1, keepdims=True), numpy_harmonic(W, labels, C),
                               rtol=1e-9, atol=1e-10)
    assert np.all(F[known] == 0)


def test_dense_solve_gradcheck():
    from skgloss.propagation import harmonic_solve_dense

    torch.manual_seed(0)
    A = torch.rand(7, 7, dtype=torch.float64)
    W = ((A + A.T) / 2).fill_diagonal_(0).requires_grad_(True)
    labels = torch.tensor([0, 1, 2, -1, -1, 0, -1])
    Y = torch.nn.functional.one_hot(labels.clamp_min(0), 3).double() * (labels >= 0)[:, None]
    assert torch.autograd.gradcheck(lambda w: harmonic_solve_dense(transition_matrix(w), Y, labels < 0), (W,))
