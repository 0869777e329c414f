"""Similarity graphs over document embeddings.

This module builds the graphs that skgloss propagates labels over
(METHOD.md §2 step 2 for one mini-batch). It knows nothing of texts,
tokenizers or estimators: it takes tensors and returns tensors, so it can be
called from any PyTorch training loop.

Symbols
-------
z_i
    The L2-normalised embedding of document i, ``z_i = h_i / ||h_i||``.
sigma (σ)
    Width of the Gaussian kernel.
W
    The affinity matrix, ``W_ij = exp(-||z_i - z_j||² / (2σ²))`` for i ≠ j and
    ``W_ii = 0``. For unit vectors ``||z_i - z_j||² = 2 - 2·cos(h_i, h_j)``.
k
    ``n_neighbors``: optional sparsification that keeps the k largest entries
    of each row of W and symmetrises with the elementwise maximum.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["batch_affinity", "sqrt_sigma_heuristic"]


def _check_sigma(sigma) -> float:
    if isinstance(sigma, bool) or not isinstance(sigma, Real):
        raise TypeError(f"sigma must be a positive number, got {sigma!r}")
    sigma = float(sigma)
    if not math.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
    return sigma


def _check_n_neighbors(n_neighbors):
    if n_neighbors is None:
        return None
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, (int, np.integer)):
        raise TypeError(f"n_neighbors must be None or an int >= 1, got {n_neighbors!r}")
    if n_neighbors < 1:
        raise ValueError(f"n_neighbors must be None or an int >= 1, got {n_neighbors!r}")
    return int(n_neighbors)


def batch_affinity(z: torch.Tensor, sigma: float, n_neighbors: int | None = None) -> torch.Tensor:
    """Gaussian-kernel affinity matrix of one batch of embeddings.

    Implements METHOD.md §2 steps 1-2: ``W_ij = exp(-||z_i - z_j||² / (2σ²))``
    on the L2-normalised rows ``z_i`` of ``z``, with a zero diagonal.

    Parameters
    ----------
    z : torch.Tensor of shape (n, d)
        Embeddings, one row per document. Rows are L2-normalised here (a no-op
        for rows that already are), so raw pooled encoder outputs may be passed.
    sigma : float
        Kernel width σ > 0.
    n_neighbors : int or None, default=None
        If given (k), keep only the k largest entries of each row (the diagonal
        never counts), then symmetrise with the elementwise maximum
        ``W ← max(W, Wᵀ)``. ``k >= n - 1`` keeps every entry.

    Returns
    -------
    W : torch.Tensor of shape (n, n)
        Symmetric, non-negative, zero diagonal, same dtype and device as ``z``.
        Differentiable with respect to ``z`` (the choice of the k neighbours is
        not, as usual for top-k).

    Notes
    -----
    Compute in float64 when σ is small: in float32, ``exp(-2/σ²)`` underflows
    to zero for σ below about 0.15, which disconnects the graph.
    """
    if not isinstance(z, torch.Tensor) or z.ndim != 2:
        raise ValueError(f"z must be a 2-D tensor (n, d), got {getattr(z, 'shape', type(z))}")
    sigma = _check_sigma(sigma)
    n_neighbors = _check_n_neighbors(n_neighbors)
    n = z.shape[0]
    zn = F.normalize(z, p=2, dim=1)
    gram = zn @ zn.T
    gram = (gram + gram.T) / 2  # exactly symmetric; a matmul's (i, j) and (j, i) can differ in the last bit
    sq_dist = (2.0 - 2.0 * gram).clamp_min(0.0)
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=z.device)
    W = torch.exp(-sq_dist / (2.0 * sigma * sigma)) * off_diagonal
    if n_neighbors is not None and n_neighbors < n - 1:
        # The diagonal is 0 and every off-diagonal entry is > 0 unless it
        # underflowed, so the top-k never picks the diagonal over a neighbour.
        scores = W.detach().masked_fill(~off_diagonal, -1.0)
        idx = scores.topk(n_neighbors, dim=1).indices
        keep = torch.zeros_like(off_diagonal).scatter_(1, idx, True)
        W = W * keep
        W = torch.maximum(W, W.T)
    return W


def sqrt_sigma_heuristic(embeddings, *, max_samples: int = 2000, random_state=None) -> float:
    """The paper's "SQRT" kernel-width heuristic, ``σ = sqrt(d / 3)``.

    ``d`` is the median pairwise Euclidean distance between the L2-normalised
    embeddings (METHOD.md §2, "σ").

    Parameters
    ----------
    embeddings : array-like of shape (n, d)
        Embeddings of (a sample of) the training texts by the pre-trained
        encoder, before any fine-tuning.
    max_samples : int, default=2000
        Rows beyond this are subsampled at random.
    random_state : int, numpy Generator or None
        Seed of that subsample.

    Returns
    -------
    sigma : float
    """
    from scipy.spatial.distance import pdist

    X = np.asarray(embeddings, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError("sqrt_sigma_heuristic needs at least 2 embeddings in a 2-D array")
    if not np.isfinite(X).all():
        raise ValueError("embeddings contain NaN or infinite values")
    if X.shape[0] > max_samples:
        rng = np.random.default_rng(random_state)
        X = X[rng.choice(X.shape[0], size=max_samples, replace=False)]
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("embeddings contain a row of zero norm; it has no direction")
    d = float(np.median(pdist(X / norms)))
    if d == 0.0:
        raise ValueError(
            "all embeddings are identical (median pairwise distance 0): "
            "the 'sqrt' heuristic cannot choose sigma; pass a number instead"
        )
    return math.sqrt(d / 3.0)
