"""Label propagation over a similarity graph.

The differentiable closed form used inside the in-batch G-Loss
(:doc:`method`, in-batch G-Loss steps 3 and 5, Zhu & Ghahramani 2002).

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
    One-hot labels of L, shape ``(|L|, C)``.
F_U
    Harmonic solution ``F_U = (I - T_UU)^-1 T_UL Y_L``, shape ``(|U|, C)``, found
    with a linear solve in float64 (the inverse is never formed).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["transition_matrix", "harmonic_solve", "harmonic_solve_dense", "harmonic_propagation", "label_spreading",
           "neighbour_average"]

# Added to the diagonal of (I - T_UU). It leaves every node that can reach a
# labeled node unchanged to ~1e-12 and makes the system non-singular when a
# group of unknown nodes has no edge path to any labeled node (possible with
# kNN sparsification); those nodes then receive exactly zero labeled mass.
_RIDGE = 1e-12


def transition_matrix(W: torch.Tensor) -> torch.Tensor:
    """Row-stochastic transition matrix T of :doc:`method`, in-batch G-Loss step 3.

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
    # A degree (or column, or row sum) at or below ``floor`` counts as zero: its node is isolated. The
    # "double where" keeps the excluded branch's gradient exactly zero, where 1/sqrt of a denormal would
    # give inf, and inf times a zero upstream gradient NaN (found by tests/test_fuzz.py).
    floor = torch.finfo(W.dtype).tiny ** 0.5

    def divided(S, x):  # S / x where x > floor, else 0
        ok = x > floor
        return torch.where(ok, S / torch.where(ok, x, torch.ones_like(x)), torch.zeros_like(S))

    d = W.sum(dim=1)
    ok = d > floor
    d_inv_sqrt = torch.where(ok, torch.where(ok, d, torch.ones_like(d)).rsqrt(), torch.zeros_like(d))
    S = d_inv_sqrt[:, None] * W * d_inv_sqrt[None, :]
    S = divided(S, S.sum(dim=0, keepdim=True))
    return divided(S, S.sum(dim=1, keepdim=True))


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


def harmonic_solve_dense(T: torch.Tensor, Y: torch.Tensor, unknown: torch.Tensor) -> torch.Tensor:
    """The harmonic solve with fixed shapes: every node a row, no host sync.

    Solves ``(I - T_UU) F_U = T_UL Y_L`` as one (n, n) system over all nodes,
    with the rows and columns of known nodes cut out of the coupling:
    ``A = I - T ⊙ (u uᵀ)``, ``R = diag(u)·T·Y``, ``u`` the indicator of U.
    For an unknown node i the row reads ``F_i - Σ_(j∈U) T_ij F_j = Σ_(j∈L) T_ij Y_j``
    (the harmonic equations, since Y is zero off L); for a known node it
    reads ``F_i = 0``. Because the shapes never depend on which nodes are
    known, the device never has to tell the host a size: the whole G-Loss
    step can be queued without waiting (the issue of :func:`harmonic_solve`,
    whose ``T[~known]`` indexing must). ``torch.linalg.solve_ex`` skips the
    error check that would wait for the device; the ridge keeps A
    non-singular.

    Parameters
    ----------
    T : torch.Tensor of shape (n, n)
        Row-stochastic transition matrix (:func:`transition_matrix`).
    Y : torch.Tensor of shape (n, C)
        One-hot labels on the rows of known nodes, zeros elsewhere.
    unknown : torch.BoolTensor of shape (n,)
        U, the nodes to solve for.

    Returns
    -------
    F : torch.Tensor of shape (n, C), dtype of T
        ``F_U`` on the rows of U (unnormalised, as :func:`harmonic_solve`),
        zeros on the rows of known nodes.
    """
    u = unknown.to(T.dtype)
    n = T.shape[0]
    eye = torch.eye(n, dtype=T.dtype, device=T.device)
    A = eye * (1.0 + _RIDGE) - T * (u[:, None] * u[None, :])
    R = (T * u[:, None]) @ Y.to(T.dtype)
    return torch.linalg.solve_ex(A, R, check_errors=False).result


def harmonic_propagation(W: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Closed-form harmonic label propagation (differentiable).

    :doc:`method`, in-batch G-Loss steps 3 and 5: normalise W into the row-stochastic T, then
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


# --------------------------------------------------------------------------
# Label spreading on the corpus graph (docs/method.md, corpus graph step 3)
# --------------------------------------------------------------------------


_KERNELS = None


def _spreading_kernels():
    """numba kernels of label spreading, compiled on first use (cached on disk).

    ``scale``: the CSR data of ``αS = α·D^-1/2 W D^-1/2`` (diagonal dropped).
    ``step``: ``out = αS·F + (1 - α)·Y`` row by row, and
    ``rowdiff_i = Σ_c |out_ic - F_ic|`` for the stopping rule, in one pass.
    """
    global _KERNELS
    if _KERNELS is None:
        import numba

        @numba.njit(parallel=True, cache=True)
        def scale(indptr, indices, data, alpha, out):  # pragma: no cover - compiled
            n = indptr.shape[0] - 1
            dinv = np.empty(n)
            for i in numba.prange(n):
                s = 0.0
                for p in range(indptr[i], indptr[i + 1]):
                    if indices[p] != i:
                        s += data[p]
                dinv[i] = 1.0 / np.sqrt(s) if s > 0 else 0.0
            for i in numba.prange(n):
                for p in range(indptr[i], indptr[i + 1]):
                    j = indices[p]
                    out[p] = 0.0 if j == i else alpha * dinv[i] * data[p] * dinv[j]

        @numba.njit(parallel=True, fastmath=True, cache=True)
        def step(indptr, indices, data, F, y_static, out, rowdiff):  # pragma: no cover - compiled
            n, C = out.shape
            for i in numba.prange(n):
                for c in range(C):
                    out[i, c] = y_static[i, c]
                for p in range(indptr[i], indptr[i + 1]):
                    j = indices[p]
                    w = data[p]
                    for c in range(C):
                        out[i, c] += w * F[j, c]
                s = 0.0
                for c in range(C):
                    s += abs(out[i, c] - F[i, c])
                rowdiff[i] = s

        _KERNELS = scale, step
    return _KERNELS


def label_spreading(graph, y, *, alpha=0.2, max_iter=30, tol=1e-3, n_classes=None, n_jobs=None):
    """Label spreading (Zhou et al. 2004) on a sparse graph.

    Iterates ``F ← α·S·F + (1 - α)·Y`` with ``S = D^-1/2 W D^-1/2`` (W the
    graph without its diagonal, D its row sums), from ``F = Y``, until
    ``Σ|F_t - F_(t-1)| < tol`` or ``max_iter`` iterations, then normalises the
    rows of F to sum to 1. The same iteration, stopping rule and result (to
    about 1e-7) as scikit-learn's ``LabelSpreading`` given the same graph.

    Each iteration is one fused, multi-threaded pass over the CSR arrays
    (compiled by numba; the first call in a process compiles it, about 1 s,
    or loads it from numba's disk cache), in float32: every term is
    non-negative, so rounding stays relative, about 1e-7. The final
    normalisation is in float64.

    Parameters
    ----------
    graph : scipy.sparse matrix of shape (n, n)
        Symmetric non-negative affinities, e.g. from :func:`skgloss.graph.knn_graph`.
    y : array-like of int, shape (n,)
        Class ids in ``[0, n_classes)``; ``-1`` for unlabeled rows.
    alpha : float in (0, 1), default=0.2
        α, the share of a node's distribution that comes from its neighbours.
    max_iter : int >= 1, default=30
    tol : float >= 0, default=1e-3
    n_classes : int, optional
        Columns of the result; default ``max(y) + 1``.
    n_jobs : int or None, default=None
        Threads: None keeps numba's thread count (all cores unless
        ``NUMBA_NUM_THREADS`` says otherwise); a positive int caps it for this
        call; -1 means all of numba's threads. numba's setting is restored
        afterwards.

    Returns
    -------
    F : ndarray of shape (n, n_classes), float64
        Rows sum to 1, except rows that no label reached, which are all zero.

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` is reached first.
    """
    import warnings

    from scipy import sparse
    from sklearn.exceptions import ConvergenceWarning

    from .graph import numba_threads

    if not sparse.issparse(graph):
        raise TypeError(f"graph must be a scipy sparse matrix, got {type(graph).__name__}")
    if graph.ndim != 2 or graph.shape[0] != graph.shape[1]:
        raise ValueError(f"graph must be square, got shape {graph.shape}")
    n = graph.shape[0]
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y must be 1-D with one entry per graph row ({n}), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer class ids (-1 for unlabeled), got dtype {y.dtype}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in the open interval (0, 1), got {alpha!r}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter!r}")
    if n and y.min() < -1:
        raise ValueError("y must hold class ids >= 0, or -1 for unlabeled rows")
    n_classes = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if n and y.max() >= n_classes:
        raise ValueError(f"y holds class {int(y.max())} but n_classes={n_classes}")

    W = graph.tocsr()
    if W.data.size and W.data.min() < 0:
        raise ValueError("graph has negative weights")
    scale, step = _spreading_kernels()
    F = np.zeros((n, n_classes), dtype=np.float32)
    labeled = y >= 0
    F[np.flatnonzero(labeled), y[labeled]] = 1.0
    y_static = (1.0 - alpha) * F
    out = np.empty_like(F)
    rowdiff = np.empty(n)
    with numba_threads(n_jobs):
        alpha_S = np.empty(W.data.shape[0], dtype=np.float32)
        scale(W.indptr, W.indices, W.data.astype(np.float64, copy=False), float(alpha), alpha_S)
        diff = float(F.sum(dtype=np.float64))  # Σ|F_0 - 0|
        iteration = 0
        while iteration < max_iter:
            if diff < tol:
                break
            step(W.indptr, W.indices, alpha_S, F, y_static, out, rowdiff)
            F, out = out, F
            diff = float(rowdiff.sum())
            iteration += 1
        else:
            warnings.warn(f"label_spreading: max_iter={max_iter} was reached without convergence "
                          f"(tol={tol})", ConvergenceWarning, stacklevel=2)
    F = F.astype(np.float64)
    norm = F.sum(axis=1, keepdims=True)
    norm[norm == 0] = 1.0
    F /= norm
    return F


def neighbour_average(neighbour_idx, neighbour_weight, label_distributions):
    """Inductive label distributions: the weighted mean of the neighbours' rows of F.

    :doc:`method`, corpus graph, "inductive graph inference": ``q_c = Σ_j w_j F_jc / Σ_j w_j Σ_c' F_jc'``
    over the k nearest training documents j of a new document.

    Parameters
    ----------
    neighbour_idx : int array of shape (m, k)
        Rows of ``label_distributions``; negative entries are ignored.
    neighbour_weight : array of shape (m, k)
        Non-negative edge weights.
    label_distributions : array of shape (n, C)

    Returns
    -------
    Q : ndarray of shape (m, C)
        Rows sum to 1 where some labeled mass was reached, else are all zero.
    reached : bool ndarray of shape (m,)
        Which rows reached labeled mass; never divides by zero (unlike
        scikit-learn's ``LabelSpreading.predict_proba`` for such queries).
    """
    idx = np.asarray(neighbour_idx)
    w = np.where(idx >= 0, np.asarray(neighbour_weight, dtype=np.float64), 0.0)
    F = np.asarray(label_distributions, dtype=np.float64)
    Q = np.einsum("mk,mkc->mc", w, F[np.maximum(idx, 0)])
    mass = Q.sum(axis=1)
    reached = mass > 1e-12
    Q[reached] /= mass[reached, None]
    Q[~reached] = 0.0
    return Q, reached
