"""Similarity graphs over document embeddings.

This module builds the graphs that skgloss propagates labels over
(:doc:`method`, in-batch G-Loss step 2 for one mini-batch). It knows nothing of texts,
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

import contextlib
import math
from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["batch_affinity", "sqrt_sigma_heuristic", "knn_graph", "edge_weights", "NeighborIndex"]


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

    Implements :doc:`method`, in-batch G-Loss steps 1-2: ``W_ij = exp(-||z_i - z_j||² / (2σ²))``
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
    embeddings (:doc:`method`, in-batch G-Loss, "σ").

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


# --------------------------------------------------------------------------
# The corpus graph (docs/method.md, corpus graph step 2)
# --------------------------------------------------------------------------

#: Below this many rows, ``backend="auto"`` uses the exact blocked search.
#: Measured on 2 cores at d = 384 (benchmarks/exact_search.py,
#: benchmarks/corpus_graph_speed.py): exact search took 1.8 s at n = 20,000
#: and grows as n²; PyNNDescent (lists of 3k) took 1.6 s, and its first call
#: in a process adds 25-50 s of numba compilation. At 30,000 rows (about 4 s
#: a refresh) several exact refreshes cost one compilation, and they find
#: every neighbour.
EXACT_MAX_ROWS = 30_000

_BLOCK_BYTES = 64 * 2**20


def _unit_rows(X, name="X"):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    X = X.astype(np.float32, copy=False)
    if not np.isfinite(X).all():
        bad = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise ValueError(f"{name}[{bad}] contains NaN or infinite values")
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if (norms == 0).any():
        bad = int(np.flatnonzero(norms[:, 0] == 0)[0])
        raise ValueError(f"{name}[{bad}] has zero norm: cosine similarity is undefined for it")
    return X / norms


def _exact_search(Q, R, k, *, exclude=None):
    """k most cosine-similar rows of R for each row of Q (unit rows), in memory-bounded blocks.

    With ``exclude`` (an int array, one row of R per row of Q), row i of Q
    never finds row ``exclude[i]`` of R. Returns (indices, similarities),
    each (m, k), most similar first.
    """
    m, n = Q.shape[0], R.shape[0]
    block = max(1, min(m, _BLOCK_BYTES // (4 * n)))
    Qt, Rt = torch.from_numpy(Q), torch.from_numpy(R)
    idx = np.empty((m, k), dtype=np.int64)
    sim = np.empty((m, k), dtype=np.float32)
    for start in range(0, m, block):
        stop = min(m, start + block)
        S = Qt[start:stop] @ Rt.T
        if exclude is not None:
            S[torch.arange(stop - start), torch.from_numpy(exclude[start:stop])] = -np.inf
        values, where = torch.topk(S, k, dim=1)
        idx[start:stop], sim[start:stop] = where.numpy(), values.numpy()
    return idx, sim


#: Rows per block of the exact self-search (a 2,048² float32 block is 16 MiB).
_SELF_BLOCK = 2048


def _selection_kernels():
    """numba kernels that fold a block of similarities into running top-k lists (cached on disk).

    Each list ``best_v[g], best_i[g]`` (k entries, unordered) takes an entry
    of the block only when it beats the list's current minimum, so after the
    first blocks almost every entry costs one comparison. ``rows``: each row
    of ``S`` (document ``row0 + r``) against its list, skipping the entry
    ``col0 + c == row0 + r``; ``columns``: each column of ``S`` (document
    ``col0 + c``) against its list. Threads own disjoint lists, so the result
    does not depend on their number. Imported on first use, so that
    ``import skgloss`` does not import numba.
    """
    from . import _graph_kernels

    return _graph_kernels.select_rows, _graph_kernels.select_columns


def _exact_self_search(Z, k):
    """k most cosine-similar other rows of each row of Z (unit rows), each pair's similarity computed once.

    Z is cut into blocks of ``_SELF_BLOCK`` rows. For each pair of blocks
    a ≤ c, ``S = Z_a Z_cᵀ`` is computed once and serves both sides: its rows
    are candidates for the documents of a, its columns for those of c, each
    folded into a running top k (:func:`_selection_kernels`). This halves the
    matrix products of a plain blocked search, which dominate its time.
    Returns (indices, similarities), each (n, k), most similar first.
    """
    n = Z.shape[0]
    Zt = torch.from_numpy(Z)
    best_v = np.full((n, k), -np.inf, dtype=np.float32)
    best_i = np.full((n, k), -1, dtype=np.int64)
    select_rows, select_columns = _selection_kernels()
    with numba_threads():
        for a in range(0, n, _SELF_BLOCK):
            for c in range(a, n, _SELF_BLOCK):
                S = (Zt[a:a + _SELF_BLOCK] @ Zt[c:c + _SELF_BLOCK].T).numpy()
                select_rows(S, a, c, best_v, best_i)
                if c != a:  # a diagonal block's rows already cover its columns
                    select_columns(S, a, c, best_v, best_i)
    order = np.argsort(-best_v, axis=1, kind="stable")
    return np.take_along_axis(best_i, order, axis=1), np.take_along_axis(best_v, order, axis=1)


@contextlib.contextmanager
def numba_threads(n_jobs=None):
    """Run numba-parallel code on ``n_jobs`` threads (None: numba's current count; -1: all of numba's threads).

    Restores numba's and torch's thread counts afterwards: numba's OpenMP
    threading layer shares the OpenMP runtime with torch, so setting numba's
    count (as PyNNDescent does from its ``n_jobs``) would otherwise change
    torch's for the rest of the process. Torch's count is read first: the
    process's first ``numba.get_num_threads()`` starts numba's threading
    layer, which sets the shared runtime to numba's count.
    """
    import numba

    torch_before = torch.get_num_threads()
    numba_before = numba.get_num_threads()
    if n_jobs is not None and n_jobs > 0:
        numba.set_num_threads(min(int(n_jobs), numba.config.NUMBA_NUM_THREADS))
    elif n_jobs == -1:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    try:
        yield
    finally:
        numba.set_num_threads(numba_before)
        if torch.get_num_threads() != torch_before:
            torch.set_num_threads(torch_before)


def _nndescent(Z, k, random_state, n_jobs, **options):
    try:
        from pynndescent import NNDescent
    except ImportError as exc:  # pragma: no cover - a dependency
        raise ImportError("backend='pynndescent' needs the pynndescent package") from exc
    with numba_threads():  # NNDescent sets numba's thread count from n_jobs itself
        return NNDescent(Z, n_neighbors=k, metric="cosine", random_state=random_state, n_jobs=n_jobs,
                         compressed=True, **options)


#: NN-descent builds lists of ``_BUILD_FACTOR · k`` neighbours and keeps the first k.
#: On 1M real embeddings (all-MiniLM-L6-v2, benchmarks/knn_real.py, k = 10)
#: recall@10 was 0.941 with lists of 2k, 0.973 with 3k (1.6x the time of 2k)
#: and 0.986 with 4k (2.2x); at 100k rows 0.951, 0.981 and 0.992.
_BUILD_FACTOR = 3


def _cosine_from_nndescent(Q, R, idx, dist):
    """Cosine similarities ``1 - dist`` of PyNNDescent's results, re-sorted, most similar first.

    Its cosine distance is capped at 1, so every neighbour with a cosine
    of 0 or less reads as 0 and their order is arbitrary; those entries
    (rare: they are the farthest of a row's list) are computed exactly
    from the embeddings and their rows sorted again.
    """
    sim = 1.0 - np.asarray(dist, dtype=np.float32)
    capped = (sim <= 1e-6) & (idx >= 0)
    if capped.any():
        rows = np.flatnonzero(capped.any(axis=1))
        r, c = np.nonzero(capped[rows])
        sim[rows[r], c] = np.einsum("md,md->m", Q[rows[r]], R[idx[rows[r], c]])
        order = np.argsort(-sim[rows], axis=1, kind="stable")
        idx = idx.copy()
        idx[rows] = np.take_along_axis(idx[rows], order, axis=1)
        sim[rows] = np.take_along_axis(sim[rows], order, axis=1)
    return idx, sim


def _pynndescent_neighbors(Z, k, random_state, n_jobs, *, build_k=None, **options):
    """k nearest other rows of each row of Z by NN-descent: (indices, cosine similarities), nearest first.

    NN-descent finds a longer list much more reliably than a short one, so
    it builds lists of ``_BUILD_FACTOR · k`` (3k: recall@10 0.973 on 1M real
    embeddings, where 2k gave 0.941; benchmarks/knn_real.py). ``build_k`` and
    ``options`` (keyword arguments of ``pynndescent.NNDescent``) override the
    defaults, for benchmarks/knn_real.py.
    """
    build_k = min(Z.shape[0] - 1, max(k + 1, build_k or _BUILD_FACTOR * k))
    idx, dist = _nndescent(Z, build_k, random_state, n_jobs, **options).neighbor_graph
    # Drop each row's own entry (usually first), keeping the k nearest others in order.
    order = np.argsort(idx == np.arange(idx.shape[0])[:, None], axis=1, kind="stable")[:, :k]
    return _cosine_from_nndescent(Z, Z, np.take_along_axis(idx, order, axis=1), np.take_along_axis(dist, order, axis=1))


def edge_weights(cosine, sigma=None, *, relative=False):
    """Edge weights from cosine similarities: the kernel of :doc:`method`, in-batch G-Loss or clipped cosine.

    ``w = exp(-(2 - 2·cos) / (2σ²))`` when ``sigma`` is given (for unit
    vectors ``||z_i - z_j||² = 2 - 2·cos``), else ``max(cos, 0)``. With
    ``relative=True`` each row of a 2-D ``cosine`` is divided by its largest
    kernel weight, computed as ``exp((cos - cos_max) / σ²)``: the same
    ratios, but a small σ cannot underflow every weight of a row to 0 (for
    a weighted average, such as graph inference, only the ratios matter).
    """
    cosine = np.clip(np.asarray(cosine, dtype=np.float64), -1.0, 1.0)
    if sigma is None:
        return np.maximum(cosine, 0.0)
    if relative:
        return np.exp((cosine - cosine.max(axis=-1, keepdims=True)) / (sigma * sigma))
    return np.exp(-(2.0 - 2.0 * cosine) / (2.0 * sigma * sigma))


def _resolve_backend(backend, n):
    if backend not in ("auto", "exact", "pynndescent"):
        raise ValueError(f"backend must be 'auto', 'exact' or 'pynndescent', got {backend!r}")
    if backend == "auto":
        return "exact" if n < EXACT_MAX_ROWS else "pynndescent"
    return backend


class NeighborIndex:
    """Nearest training documents of new embeddings, by cosine similarity.

    The search behind inductive graph inference: exact blocked search, or a
    PyNNDescent index built on first use, chosen as in :func:`knn_graph`.

    Parameters
    ----------
    reference : array-like of shape (n, d)
        Embeddings of the indexed documents.
    backend : {"auto", "exact", "pynndescent"}
    random_state, n_jobs
        For PyNNDescent.
    """

    def __init__(self, reference, *, backend="auto", random_state=None, n_jobs=None):
        self.reference = _unit_rows(reference, "reference")
        self.backend = _resolve_backend(backend, self.reference.shape[0])
        self.random_state = random_state
        self.n_jobs = n_jobs
        self._index = None

    def serves(self, backend):
        """Whether this index is what ``backend`` (``"auto"``, ``"exact"``, ``"pynndescent"``) resolves to."""
        return self.backend == _resolve_backend(backend, self.reference.shape[0])

    def query(self, queries, n_neighbors, *, exclude=None):
        """Indices (m, k) and cosine similarities (m, k) of the k nearest reference rows.

        Parameters
        ----------
        queries : array-like of shape (m, d)
        n_neighbors : int >= 1
        exclude : int array of shape (m,), optional
            A reference row that query i must not find: its own row, when the
            queries are indexed documents (validation rows scored as if they
            were new).
        """
        Q = _unit_rows(queries, "queries")
        n_ref = self.reference.shape[0]
        k = min(_check_n_neighbors(n_neighbors), n_ref - (exclude is not None))
        if exclude is not None:
            exclude = np.asarray(exclude, dtype=np.int64)
        if self.backend == "exact":
            return _exact_search(Q, self.reference, k, exclude=exclude)
        if self._index is None:
            self._index = _nndescent(self.reference, max(k + 1, 10), self.random_state, self.n_jobs)
        extra = exclude is not None
        with numba_threads():
            idx, dist = self._index.query(Q, k=k + extra)
        if extra:  # drop the excluded row where it was found, else the last
            order = np.argsort(idx == exclude[:, None], axis=1, kind="stable")[:, :k]
            idx, dist = np.take_along_axis(idx, order, axis=1), np.take_along_axis(dist, order, axis=1)
        return _cosine_from_nndescent(Q, self.reference, idx, dist)


def knn_graph(X, n_neighbors, *, sigma=None, backend="auto", random_state=None, n_jobs=None):
    """Symmetric weighted k-nearest-neighbour graph under cosine similarity.

    :doc:`method`, corpus graph step 2. Each row keeps its k most cosine-similar other rows;
    the edge weight is the kernel of :doc:`method`, in-batch G-Loss,
    ``w_ij = exp(-(2 - 2·cos_ij) / (2σ²))``, when ``sigma`` is given, else the
    cosine similarity clipped at 0; the graph is symmetrised with the
    elementwise maximum, ``W ← max(W, Wᵀ)``, and has a zero diagonal.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Embeddings. Rows must be finite and of non-zero norm.
    n_neighbors : int >= 1
        k. ``k >= n`` is clamped to ``n - 1`` with a warning.
    sigma : float > 0, optional
        Kernel width σ.
    backend : {"auto", "exact", "pynndescent"}, default="auto"
        ``"exact"``: blocked brute force (no n×n matrix is held);
        ``"pynndescent"``: approximate search with PyNNDescent (its "not
        found" entries are dropped; numba's thread count is restored);
        ``"auto"``: exact below ``EXACT_MAX_ROWS`` rows.
    random_state : int or None
        Seed of PyNNDescent.
    n_jobs : int or None
        Threads for PyNNDescent.

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n, n), float64

    Notes
    -----
    Identical rows are valid: their similarity is 1 and each keeps k of them
    as neighbours (which ones is arbitrary).
    """
    from scipy import sparse

    _resolve_backend(backend, 0)  # validate early
    k = _check_n_neighbors(n_neighbors)
    if k is None:
        raise TypeError("n_neighbors must be an int >= 1, got None")
    if sigma is not None:
        sigma = _check_sigma(sigma)
    Z = _unit_rows(X)
    n = Z.shape[0]
    if k >= n:
        import warnings

        warnings.warn(f"n_neighbors={k} >= n_samples={n}: using n_neighbors={n - 1}", UserWarning, stacklevel=2)
        k = n - 1
    if k == 0:
        return sparse.csr_matrix((n, n), dtype=np.float64)
    if _resolve_backend(backend, n) == "exact":
        idx, sim = _exact_self_search(Z, k)
    else:
        idx, sim = _pynndescent_neighbors(Z, k, random_state, n_jobs)
    return _symmetric_graph(idx, sim, sigma)


def _symmetric_graph(idx, sim, sigma=None):
    """The graph of :func:`knn_graph` from each row's neighbour list (indices and cosine similarities, (n, k))."""
    from scipy import sparse

    n = idx.shape[0]
    rows = np.repeat(np.arange(n), idx.shape[1])
    cols = idx.ravel()
    sim = sim.ravel()
    keep = (cols >= 0) & (cols != rows)
    W = sparse.csr_matrix((edge_weights(sim[keep], sigma), (rows[keep], cols[keep])), shape=(n, n))
    W = W.maximum(W.T).tocsr()
    W.eliminate_zeros()
    W.sort_indices()
    return W
