"""Label propagation over a similarity graph.

The differentiable closed form used inside the in-batch G-Loss
(METHOD.md §2 steps 3 and 5, Zhu & Ghahramani 2002).

Symbols
-------
W
    Affinity matrix (n, n), symmetric, non-negative, zero diagonal.
D
    Row sums of W.
S
    ``D^-1/2 W D^-1/2``.
T
    S normalised by columns, then by rows: a row-stochastic transition matrix
    (the normalisation of the authors' code).
L, U
    Nodes whose label is known, and nodes whose label is unknown or masked.
Y_L
    One-hot labels of L, shape (|L|, C).
F_U
    Harmonic solution ``F_U = (I - T_UU)^-1 T_UL Y_L``, shape (|U|, C), found
    with a linear solve in float64 (the inverse is never formed).
"""

from __future__ import annotations

import torch

__all__ = ["transition_matrix", "harmonic_solve", "harmonic_propagation"]

# Added to the diagonal of (I - T_UU). It leaves every node that can reach a
# labeled node unchanged to ~1e-12 and makes the system non-singular when a
# group of unknown nodes has no edge path to any labeled node (possible with
# kNN sparsification); those nodes then receive exactly zero labeled mass.
_RIDGE = 1e-12
_TINY = 1e-300


def transition_matrix(W: torch.Tensor) -> torch.Tensor:
    """Row-stochastic transition matrix T of METHOD.md §2 step 3.

    ``S = D^-1/2 W D^-1/2``, then S is normalised by columns, then by rows.

    Parameters
    ----------
    W : torch.Tensor of shape (n, n)
        Non-negative affinities.

    Returns
    -------
    T : torch.Tensor of shape (n, n)
        Same dtype as ``W``. Rows of isolated nodes (all-zero rows) stay zero.
    """
    d = W.sum(dim=1)
    d_inv_sqrt = torch.where(d > 0, d.clamp_min(_TINY).rsqrt(), torch.zeros_like(d))
    S = d_inv_sqrt[:, None] * W * d_inv_sqrt[None, :]
    col = S.sum(dim=0, keepdim=True)
    S = S / torch.where(col > 0, col, torch.ones_like(col))
    row = S.sum(dim=1, keepdim=True)
    return S / torch.where(row > 0, row, torch.ones_like(row))


def _check_inputs(W, labels, n_classes):
    if not isinstance(W, torch.Tensor) or W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square 2-D tensor, got shape {tuple(getattr(W, 'shape', ()))}")
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.shape[0] != W.shape[0]:
        raise ValueError(
            f"labels must be a 1-D tensor with one entry per row of W ({W.shape[0]}), "
            f"got shape {tuple(getattr(labels, 'shape', ()))}"
        )
    if labels.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"labels must be an integer tensor, got {labels.dtype}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
        raise ValueError(f"n_classes must be an int >= 1, got {n_classes!r}")
    if labels.numel() and (labels.min() < -1 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in [-1, n_classes - 1] = [-1, {n_classes - 1}]")


def harmonic_solve(W: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Unnormalised harmonic solution for the unknown nodes.

    Like :func:`harmonic_propagation` but returns ``F_U`` before the final
    row normalisation: a row sums to the share of the node's random-walk mass
    that reaches a labeled node (1 in a connected graph, 0 for a node with no
    path to any labeled node). Computed in float64.
    """
    _check_inputs(W, labels, n_classes)
    W = W.to(torch.float64)
    labels = labels.to(W.device).long()
    known = labels >= 0
    T = transition_matrix(W)
    T_UU = T[~known][:, ~known]
    T_UL = T[~known][:, known]
    Y_L = torch.nn.functional.one_hot(labels[known], n_classes).to(torch.float64)
    n_u = T_UU.shape[0]
    if n_u == 0:
        return W.new_zeros((0, n_classes))
    eye = torch.eye(n_u, dtype=torch.float64, device=W.device)
    A = eye * (1.0 + _RIDGE) - T_UU
    return torch.linalg.solve(A, T_UL @ Y_L)


def harmonic_propagation(W: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Closed-form harmonic label propagation (differentiable).

    METHOD.md §2 steps 3 and 5: normalise W into the row-stochastic T, then
    solve ``(I - T_UU) F_U = T_UL Y_L`` in float64.

    Parameters
    ----------
    W : torch.Tensor of shape (n, n)
        Non-negative symmetric affinities with a zero diagonal, for example
        from :func:`skgloss.graph.batch_affinity`.
    labels : torch.LongTensor of shape (n,)
        Class index in ``[0, n_classes)`` for every node whose label is known,
        ``-1`` for every node whose label is unknown or masked.
    n_classes : int
        Number of classes C (columns of the result).

    Returns
    -------
    F_U : torch.Tensor of shape (n_unknown, n_classes), float64
        Class distributions of the nodes with ``labels == -1``, in their order.
        Each row sums to 1. A node with no edge path to any labeled node gets
        the uniform distribution. Gradients flow to ``W``.

    Examples
    --------
    >>> import torch
    >>> from skgloss.graph import batch_affinity
    >>> from skgloss.propagation import harmonic_propagation
    >>> z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> W = batch_affinity(z, sigma=0.5)
    >>> F = harmonic_propagation(W, torch.tensor([0, -1, 1, -1]), n_classes=2)
    >>> F.argmax(dim=1).tolist()
    [0, 1]
    """
    F_U = harmonic_solve(W, labels, n_classes)
    mass = F_U.sum(dim=1, keepdim=True)
    reached = mass > 1e-12
    uniform = torch.full_like(F_U, 1.0 / n_classes)
    return torch.where(reached, F_U / torch.where(reached, mass, torch.ones_like(mass)), uniform)
