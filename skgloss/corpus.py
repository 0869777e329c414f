"""The corpus graph during training: memory bank, refresh, and what it feeds.

METHOD.md §3. A memory bank holds one embedding per training document. It
is filled once, before the first epoch, by embedding every document with the
pre-trained encoder, and then updated from the forward passes that training
already does (training batches, and the validation pass for held-out rows):
a refresh never runs the encoder. Embeddings from training batches are taken
in training mode (dropout on), as they come. Each refresh builds the kNN graph of the
bank (:func:`skgloss.graph.knn_graph`) and spreads the known labels over it
(:func:`skgloss.propagation.label_spreading`), giving ``F``, one label
distribution per document. ``F`` then serves:

- **pseudo-labels**: an unlabeled row (``-1``) whose distribution is
  confident, ``max_c F_ic >= threshold``, takes ``F_i`` as a soft training
  target (a soft cross-entropy term). Less confident rows get none;
- **the neighbour-consistency loss**: each batch row's corpus neighbours
  ``j`` with their edge weights ``w_ij`` and distributions ``F_j``;
- **graph-aware batches**: batches made of small groups of corpus neighbours;
- **inductive inference** after training, through the final bank and ``F``.
"""

from __future__ import annotations

import time

import numpy as np

from ._logging import logger
from .graph import knn_graph
from .propagation import label_spreading

__all__ = ["CorpusGraph"]


class CorpusGraph:
    """Memory bank and corpus graph of one fit.

    Parameters
    ----------
    embeddings : ndarray of shape (n, d)
        Initial bank: every document embedded by the pre-trained encoder.
    y : int ndarray of shape (n,)
        Class ids; ``-1`` for rows whose label propagation must not see
        (unlabeled rows, and held-out validation rows).
    n_classes : int
    n_neighbors : int
        k of the kNN graph.
    sigma : float or None
        Kernel width for the edge weights (None: clipped cosine).
    alpha : float in (0, 1)
        Label-spreading clamping factor α.
    threshold : float in (0, 1] or None
        Confidence a ``-1`` row needs to become a pseudo-labeled target.
    backend, random_state
        For :func:`skgloss.graph.knn_graph`.

    Attributes
    ----------
    bank : ndarray (n, d), float32
    graph : scipy.sparse.csr_matrix (n, n)
    F : ndarray (n, C)
        Label distributions after the last refresh.
    n_refreshes : int
    refresh_seconds : list of float
    """

    def __init__(self, embeddings, y, n_classes, *, n_neighbors=10, sigma=None, alpha=0.2, threshold=0.9,
                 backend="auto", random_state=None):
        self.bank = np.array(embeddings, dtype=np.float32, copy=True)
        self.y = np.asarray(y)
        self.n_classes = n_classes
        self.n_neighbors = n_neighbors
        self.sigma = sigma
        self.alpha = alpha
        self.threshold = threshold
        self.backend = backend
        self.random_state = random_state
        self.graph = None
        self.F = None
        self.n_refreshes = 0
        self.refresh_seconds = []

    def update(self, rows, embeddings):
        """Store fresh embeddings of ``rows`` (from a forward pass already done)."""
        self.bank[np.asarray(rows)] = np.asarray(embeddings, dtype=np.float32)

    def refresh(self):
        """Rebuild the kNN graph from the bank and propagate the labels over it."""
        start = time.perf_counter()
        n = self.bank.shape[0]
        if n == 1:  # a single document: nothing to link
            from scipy import sparse

            self.graph = sparse.csr_matrix((1, 1))
        else:
            self.graph = knn_graph(self.bank, min(self.n_neighbors, n - 1), sigma=self.sigma,
                                   backend=self.backend, random_state=self.random_state)
        self.F = label_spreading(self.graph, self.y, alpha=self.alpha, n_classes=self.n_classes)
        self.n_refreshes += 1
        self.refresh_seconds.append(time.perf_counter() - start)
        confident = (self.y < 0) & (self.F.max(axis=1) >= self.threshold) if self.threshold is not None else None
        logger.debug("corpus graph refresh %d: %d nodes, %d edges, %s confident unlabeled rows, %.2f s",
                     self.n_refreshes, n, self.graph.nnz, "-" if confident is None else int(confident.sum()),
                     self.refresh_seconds[-1])
        return self

    def pseudo_targets(self, rows):
        """Soft targets for the confident unlabeled rows among ``rows``.

        Returns
        -------
        mask : bool ndarray (len(rows),)
            Rows with ``y == -1`` and ``max_c F_ic >= threshold``.
        targets : ndarray (mask.sum(), C)
        """
        rows = np.asarray(rows)
        if self.threshold is None or self.F is None:
            return np.zeros(rows.shape[0], dtype=bool), np.zeros((0, self.n_classes))
        F = self.F[rows]
        mask = (self.y[rows] < 0) & (F.max(axis=1) >= self.threshold)
        return mask, F[mask]

    def neighbour_targets(self, rows):
        """Corpus neighbours of ``rows`` as padded arrays for the KL loss.

        Returns
        -------
        dist : ndarray (B, K, C)
            ``F_j`` of each row's neighbours (zeros for padding).
        weight : ndarray (B, K)
            Edge weights ``w_ij`` (0 for padding); K is the largest degree.
        """
        sub = self.graph[np.asarray(rows)]
        degree = np.diff(sub.indptr)
        K = max(int(degree.max(initial=0)), 1)
        B = sub.shape[0]
        idx = np.zeros((B, K), dtype=np.int64)
        weight = np.zeros((B, K))
        pos = np.arange(sub.nnz) - np.repeat(sub.indptr[:-1], degree)
        row_of = np.repeat(np.arange(B), degree)
        idx[row_of, pos] = sub.indices
        weight[row_of, pos] = sub.data
        dist = self.F[idx] * (weight > 0)[..., None]
        return dist, weight

    def graph_batches(self, rows, batch_size, rng, group_size=None):
        """Batches of ``rows`` built from small groups of corpus neighbours.

        Seeds are taken in random order; each seed brings up to
        ``group_size - 1`` of its not yet used neighbours among ``rows``
        (strongest edges first), so that each batch's in-batch graph has real
        edges even when classes are many. ``group_size`` defaults to
        ``max(2, batch_size // 4)``.
        """
        rows = np.asarray(rows)
        group_size = max(2, batch_size // 4) if group_size is None else group_size
        available = np.zeros(self.bank.shape[0], dtype=bool)
        available[rows] = True
        G = self.graph
        ordered = []
        for seed in rng.permutation(rows):
            if not available[seed]:
                continue
            available[seed] = False
            ordered.append(seed)
            lo, hi = G.indptr[seed], G.indptr[seed + 1]
            nbrs = G.indices[lo:hi][np.argsort(-G.data[lo:hi], kind="stable")]
            taken = nbrs[available[nbrs]][:group_size - 1]
            available[taken] = False
            ordered.extend(taken.tolist())
        ordered = np.asarray(ordered, dtype=np.int64)
        return [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]

    def snapshot(self):
        """A copy of the bank, graph and F (for restoring the best epoch)."""
        return (self.bank.copy(), None if self.graph is None else self.graph.copy(),
                None if self.F is None else self.F.copy())

    def restore(self, snap):
        self.bank, self.graph, self.F = snap
