"""The corpus graph during training: memory bank, refresh, and what it feeds.

:doc:`method`, corpus graph. A memory bank holds one embedding per training document. It
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
import scipy.sparse as sp
import torch

from . import distributed
from ._logging import logger
from .devices import DeviceCounts
from .graph import knn_graph
from .propagation import label_spreading

__all__ = ["CorpusGraph", "NoCorpusGraph", "snapshot_to_tensors", "snapshot_from_tensors"]


class NoCorpusGraph:
    """The training loop's corpus-graph hook when a fit has no corpus graph: it does nothing.

    :class:`CorpusGraph` has the same methods; the loop calls them without
    asking which one it holds.
    """

    F = None  # no label distributions

    def attach(self, device):
        return self

    def update(self, rows, embeddings):
        pass

    def has_targets(self, rows):
        return np.zeros(np.asarray(rows).shape[0], dtype=bool)

    def batch_extras(self, rows, *, neighbours=False):
        if neighbours:
            raise ValueError("this objective needs the corpus graph (its neighbour targets), which is off")
        return {}

    def on_epoch_end(self, epoch, record, refresh_every):
        pass

    def snapshot(self):
        return None

    def restore(self, snap):
        pass


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
    bank_dtype : {"float32", "float16"}, default="float32"
        Float format the bank is stored in (host and device); the kNN search
        of a refresh computes in float32 either way.

    Attributes
    ----------
    bank : ndarray (n, d), float32 or float16
        The host copy of the memory bank, current after each refresh. During
        an epoch the bank lives on the training device (:meth:`attach`) and
        :meth:`update` writes there without waiting for the device.
    graph : scipy.sparse.csr_matrix (n, n)
    F : ndarray (n, C)
        Label distributions after the last refresh.
    n_refreshes : int
    refresh_seconds : list of float
    """

    def __init__(self, embeddings, y, n_classes, *, n_neighbors=10, sigma=None, alpha=0.2, threshold=0.9,
                 backend="auto", random_state=None, bank_dtype="float32"):
        self.bank = np.array(embeddings, dtype=np.dtype(bank_dtype), copy=True)
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
        self._pseudo_count, self._pseudo_reported = DeviceCounts("rows"), 0
        self.attach(torch.device("cpu"))

    def attach(self, device):
        """Keep the bank and the training targets on ``device`` from now on.

        On the CPU the device bank shares memory with :attr:`bank`.
        """
        self.device = torch.device(device)
        self._bank_device = (torch.from_numpy(self.bank) if self.device.type == "cpu"
                             else torch.from_numpy(self.bank).to(self.device))
        self._upload_targets()
        return self

    def update(self, rows, embeddings):
        """Store fresh embeddings of ``rows`` (from a forward pass already done).

        ``rows`` and ``embeddings`` may be tensors on the device (a training
        step: nothing waits) or host arrays.
        """
        rows = torch.as_tensor(rows, dtype=torch.long).to(self.device)
        values = torch.as_tensor(embeddings).detach().to(self.device, self._bank_device.dtype)
        self._bank_device.index_copy_(0, rows, values)

    def _sync_bank(self):
        if self.device.type != "cpu":
            self.bank = self._bank_device.cpu().numpy()

    def _upload_targets(self):
        """Device copies of what training batches read: F, the pseudo-label rows, the neighbour lists."""
        self._targets = None
        if self.F is None:
            return
        F = torch.from_numpy(self.F.astype(np.float32)).to(self.device)
        pseudo = self.pseudo_rows()
        idx, weight = self.neighbour_arrays()
        self._targets = {"F": F, "pseudo": torch.from_numpy(pseudo).to(self.device),
                         "neighbour_idx": torch.from_numpy(idx).to(self.device),
                         "neighbour_weight": torch.from_numpy(weight.astype(np.float32)).to(self.device)}
        self._pseudo_host = pseudo

    def refresh(self):
        """Rebuild the kNN graph from the bank and propagate the labels over it."""
        start = time.perf_counter()
        self._sync_bank()
        n = self.bank.shape[0]
        dp = distributed.current()
        if dp is None or dp.is_main:
            if n == 1:  # a single document: nothing to link
                from scipy import sparse

                self.graph = sparse.csr_matrix((1, 1))
            else:
                self.graph = knn_graph(self.bank, min(self.n_neighbors, n - 1), sigma=self.sigma,
                                       backend=self.backend, random_state=self.random_state)
            self.F = label_spreading(self.graph, self.y, alpha=self.alpha, n_classes=self.n_classes)
        if dp is not None:  # an approximate search need not give the same graph twice: rank 0's for all
            self.graph, self.F = dp.broadcast((self.graph, self.F))
        self._upload_targets()
        self.n_refreshes += 1
        self.refresh_seconds.append(time.perf_counter() - start)
        logger.debug("corpus graph refresh %d: %d nodes, %d edges, %s confident unlabeled rows, %.2f s",
                     self.n_refreshes, n, self.graph.nnz,
                     "-" if self.threshold is None else int(self._pseudo_host.sum()),
                     self.refresh_seconds[-1])
        return self

    def pseudo_rows(self):
        """Which rows train on a pseudo-label: ``y == -1`` and ``max_c F_ic >= threshold``.

        Returns
        -------
        mask : bool ndarray (n,)
        """
        if self.threshold is None or self.F is None:
            return np.zeros(self.y.shape[0], dtype=bool)
        return (self.y < 0) & (self.F.max(axis=1) >= self.threshold)

    def has_targets(self, rows):
        """Which of ``rows`` (host indices) have a pseudo-label target."""
        if self._targets is None:
            return np.zeros(np.asarray(rows).shape[0], dtype=bool)
        return self._pseudo_host[np.asarray(rows)]

    def neighbour_arrays(self):
        """Every row's corpus neighbours as padded arrays.

        Returns
        -------
        idx : int64 ndarray (n, K)
            Neighbour rows (0 for padding); K is the largest degree.
        weight : ndarray (n, K)
            Edge weights ``w_ij`` (0 for padding).
        """
        G = self.graph
        degree = np.diff(G.indptr)
        n = G.shape[0]
        K = max(int(degree.max(initial=0)), 1)
        idx = np.zeros((n, K), dtype=np.int64)
        weight = np.zeros((n, K))
        pos = np.arange(G.nnz) - np.repeat(G.indptr[:-1], degree)
        row_of = np.repeat(np.arange(n), degree)
        idx[row_of, pos] = G.indices
        weight[row_of, pos] = G.data
        return idx, weight

    def neighbour_targets(self, rows):
        """Corpus neighbours of ``rows`` for the KL loss, as host arrays.

        Returns
        -------
        dist : ndarray (B, K, C)
            ``F_j`` of each row's neighbours (zeros for padding).
        weight : ndarray (B, K)
            Edge weights ``w_ij`` (0 for padding); K is the largest degree of the graph.
        """
        idx, weight = self.neighbour_arrays()
        rows = np.asarray(rows)
        idx, weight = idx[rows], weight[rows]
        return self.F[idx] * (weight > 0)[..., None], weight

    def batch_extras(self, rows, *, neighbours=False):
        """What a training batch reads from the graph, as tensors on the device.

        Parameters
        ----------
        rows : torch.LongTensor (B,), on the device
        neighbours : bool
            Also return the neighbours' distributions and weights.

        Returns
        -------
        dict with ``soft_targets`` (B, C) and ``soft_mask`` (B,) when
        pseudo-labels are on, and ``neighbour_dist`` (B, K, C),
        ``neighbour_weight`` (B, K) when asked. Gathers on the device only.
        """
        t = self._targets
        out = {}
        if self.threshold is not None:
            out["soft_mask"] = t["pseudo"][rows]
            out["soft_targets"] = t["F"][rows]
            self._pseudo_count.add(rows=out["soft_mask"].sum())
        if neighbours:
            w = t["neighbour_weight"][rows]
            out["neighbour_weight"] = w
            out["neighbour_dist"] = t["F"][t["neighbour_idx"][rows]] * (w > 0)[..., None]
        return out

    def on_epoch_end(self, epoch, record, refresh_every):
        """Refresh every ``refresh_every`` epochs, and say so in the epoch's ``record``.

        The record also gets ``pseudo_labeled``: the rows that trained on a
        pseudo-label target during the epoch.
        """
        record["pseudo_labeled"] = self._pseudo_count.get("rows") - self._pseudo_reported
        self._pseudo_reported += record["pseudo_labeled"]
        if refresh_every and epoch % refresh_every == 0:
            self.refresh()
            record["graph_seconds"] = self.refresh_seconds[-1]

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
        self._sync_bank()
        return (self.bank.copy(), None if self.graph is None else self.graph.copy(),
                None if self.F is None else self.F.copy())

    def restore(self, snap):
        self.bank, self.graph, self.F = snap
        self.attach(self.device)


def snapshot_to_tensors(snap):
    """A :meth:`CorpusGraph.snapshot` as a dict of tensors (None stays None), for a checkpoint file."""
    if snap is None:
        return None
    bank, graph, F = snap
    out = {"bank": torch.from_numpy(np.ascontiguousarray(bank))}
    if graph is not None:
        graph = graph.tocsr()
        out.update(graph_indptr=torch.from_numpy(graph.indptr.astype(np.int64)),
                   graph_indices=torch.from_numpy(graph.indices.astype(np.int64)),
                   graph_data=torch.from_numpy(graph.data.astype(np.float64)),
                   graph_shape=torch.tensor(graph.shape, dtype=torch.int64))
    if F is not None:
        out["F"] = torch.from_numpy(np.ascontiguousarray(F))
    return out


def snapshot_from_tensors(tensors):
    """The snapshot that :func:`snapshot_to_tensors` was given."""
    if tensors is None:
        return None
    graph = None
    if "graph_indptr" in tensors:
        graph = sp.csr_matrix((tensors["graph_data"].numpy(), tensors["graph_indices"].numpy(),
                               tensors["graph_indptr"].numpy()), shape=tuple(tensors["graph_shape"].tolist()))
    F = tensors["F"].numpy() if "F" in tensors else None
    return tensors["bank"].numpy().copy(), graph, None if F is None else F.copy()
