import math

import numpy as np
import pytest
import torch

from skgloss.graph import batch_affinity, sqrt_sigma_heuristic


def test_batch_affinity_matches_kernel_formula():
    torch.manual_seed(0)
    z = torch.randn(7, 5, dtype=torch.float64)
    W = batch_affinity(z, sigma=0.8)
    zn = (z / z.norm(dim=1, keepdim=True)).numpy()
    expected = np.exp(-((zn[:, None] - zn[None]) ** 2).sum(-1) / (2 * 0.8**2))
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(W.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert torch.equal(W, W.T)


def test_batch_affinity_topk_keeps_k_largest_then_symmetrises():
    torch.manual_seed(1)
    z = torch.randn(10, 4, dtype=torch.float64)
    dense = batch_affinity(z, sigma=0.5)
    W = batch_affinity(z, sigma=0.5, n_neighbors=3)
    assert torch.equal(W, W.T)
    assert (W.diagonal() == 0).all()
    for i in range(10):
        top = set(torch.topk(dense[i], 3).indices.tolist())
        kept = set(torch.nonzero(W[i]).flatten().tolist())
        assert top <= kept  # own neighbours kept
        for j in kept - top:  # extra edges come only from symmetrisation
            assert i in set(torch.topk(dense[j], 3).indices.tolist())
        for j in kept:
            assert W[i, j] == dense[i, j]


def test_batch_affinity_k_at_least_n_minus_1_is_dense():
    z = torch.randn(5, 3, dtype=torch.float64)
    assert torch.equal(batch_affinity(z, 0.5, n_neighbors=4), batch_affinity(z, 0.5))
    assert torch.equal(batch_affinity(z, 0.5, n_neighbors=50), batch_affinity(z, 0.5))


def test_batch_affinity_gradient_reaches_inputs():
    z = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    batch_affinity(z, 0.7, n_neighbors=2).sum().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


@pytest.mark.parametrize("sigma", [0, -1.0, float("nan"), float("inf"), "wide", True])
def test_batch_affinity_rejects_bad_sigma(sigma):
    with pytest.raises((ValueError, TypeError), match="sigma"):
        batch_affinity(torch.randn(4, 3), sigma)


@pytest.mark.parametrize("k", [0, -2, 1.5])
def test_batch_affinity_rejects_bad_n_neighbors(k):
    with pytest.raises((ValueError, TypeError), match="n_neighbors"):
        batch_affinity(torch.randn(4, 3), 0.5, n_neighbors=k)


def test_sqrt_sigma_heuristic_is_sqrt_of_median_distance_over_3():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    # pairwise distances of unit vectors: sqrt(2), 2, sqrt(2) -> median sqrt(2)
    assert sqrt_sigma_heuristic(X) == pytest.approx(math.sqrt(math.sqrt(2) / 3))
    # scale does not matter: rows are normalised first
    assert sqrt_sigma_heuristic(5 * X) == pytest.approx(sqrt_sigma_heuristic(X))


def test_sqrt_sigma_heuristic_rejects_degenerate_embeddings():
    with pytest.raises(ValueError, match="identical"):
        sqrt_sigma_heuristic(np.ones((4, 3)))
    with pytest.raises(ValueError, match="zero norm"):
        sqrt_sigma_heuristic(np.array([[0.0, 0.0], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="NaN"):
        sqrt_sigma_heuristic(np.array([[np.nan, 0.0], [1.0, 0.0]]))


@pytest.mark.parametrize("backend", ["exact", pytest.param("pynndescent", marks=pytest.mark.pynndescent)])
def test_neighbor_query_can_exclude_each_querys_own_row(backend):
    from skgloss.graph import NeighborIndex

    rng = np.random.default_rng(0)
    R = rng.normal(size=(60, 8))
    index = NeighborIndex(R, backend=backend, random_state=0)
    rows = np.array([3, 10, 42])
    idx, sim = index.query(R[rows], 5, exclude=rows)
    assert idx.shape == (3, 5) and not (idx == rows[:, None]).any()
    # the same as searching the reference without that row
    Z = R / np.linalg.norm(R, axis=1, keepdims=True)
    for q, row in enumerate(rows):
        s = Z @ Z[row]
        s[row] = -np.inf
        assert set(idx[q]) == set(np.argsort(-s)[:5])
    plain, _ = index.query(R[rows], 5)
    assert (plain[:, 0] == rows).all()  # without exclude a row finds itself first
