"""From embeddings and head outputs to class probabilities: the one inference path.

``predict_proba`` and the validation score of every epoch both call
:func:`class_probabilities`, so early stopping judges the predictor that
ships (:doc:`method`, corpus graph, "inductive graph inference"):

- ``"head"``: ``softmax`` of the linear head;
- ``"graph"``: the label distributions ``F_j`` of the k nearest training
  documents, averaged by edge weight (:func:`skgloss.propagation.neighbour_average`);
  a text whose neighbours carry no labeled mass falls back to the head;
- ``"blend"``: ``(1 - β)·head + β·graph``.

Validation rows are themselves nodes of the corpus graph; they are scored
as new documents would be, with their own node left out of their neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import NeighborIndex, edge_weights
from .propagation import neighbour_average

__all__ = ["INFERENCE", "GraphInference", "sigmoid", "softmax", "graph_probabilities", "combine_probabilities",
           "class_probabilities"]

INFERENCE = ("head", "graph", "blend")


def sigmoid(logits):
    """Element-wise logistic function in float64 (multi-label probabilities)."""
    z = np.asarray(logits, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


def softmax(logits):
    """Row-wise softmax in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


@dataclass
class GraphInference:
    """What graph inference searches: indexed training documents and their label distributions.

    Attributes
    ----------
    index : skgloss.graph.NeighborIndex
        Search over the memory bank (the training documents' embeddings).
    label_distributions : ndarray (n, C)
        ``F`` of every indexed document.
    n_neighbors : int
        k.
    sigma : float or None
        Kernel width of the edge weights.
    """

    index: NeighborIndex
    label_distributions: np.ndarray
    n_neighbors: int
    sigma: float | None

    @classmethod
    def build(cls, embeddings, label_distributions, n_neighbors, sigma, backend="auto"):
        return cls(NeighborIndex(embeddings, backend=backend, random_state=0), label_distributions,
                   n_neighbors, sigma)


def graph_probabilities(head_proba, embeddings, graph: GraphInference, *, exclude=None):
    """Graph inference for new documents, with the head as fallback.

    The k nearest indexed documents of each embedding, weighted by
    :func:`skgloss.graph.edge_weights` (relative to the nearest one's
    weight, which leaves the average unchanged), average their label
    distributions. A
    document whose neighbours carry no labeled mass gets the head's
    probabilities. ``exclude``: one indexed row per query that it must not
    use (its own node).
    """
    idx, sim = graph.index.query(embeddings, graph.n_neighbors, exclude=exclude)
    sim = np.where(idx >= 0, sim, -1.0)  # an entry not found never sets a row's scale
    weights = edge_weights(sim, graph.sigma, relative=True)  # only ratios matter: no underflow with a small σ
    Q, reached = neighbour_average(idx, weights, graph.label_distributions)
    Q[~reached] = head_proba[~reached]
    return Q


def combine_probabilities(head_proba, graph_proba, inference, blend_weight):
    """``"head"``, ``"graph"``, or ``"blend"``: ``(1 - β)·head + β·graph``."""
    if inference == "head":
        return head_proba
    if inference == "graph":
        return graph_proba
    return (1.0 - blend_weight) * head_proba + blend_weight * graph_proba


def class_probabilities(logits, embeddings, *, inference="head", blend_weight=0.5, graph=None, exclude=None,
                        multilabel=False):
    """Class probabilities from the head's logits and, for graph inference, the embeddings.

    Parameters
    ----------
    logits : ndarray (m, C)
    embeddings : ndarray (m, d)
    inference : {"head", "graph", "blend"}
    blend_weight : float in [0, 1]
    graph : GraphInference, optional
        Needed unless ``inference="head"``.
    exclude : int array (m,), optional
        For queries that are indexed documents: their own rows.
    multilabel : bool, default=False
        Per-label probabilities (sigmoid of the logits, head only) instead
        of a distribution over classes.

    Returns
    -------
    proba : ndarray (m, C), rows sum to 1 (multi-label: each entry in [0, 1])
    """
    if multilabel:
        if inference != "head":
            raise ValueError(f"inference={inference!r} is not available for multi-label models; use 'head'")
        return sigmoid(logits)
    head_proba = softmax(logits)
    if inference == "head":
        return head_proba
    if graph is None:
        raise ValueError(f"inference={inference!r} needs the corpus graph, which this fit did not build "
                         "(graph_refresh=None, or 'auto' with nothing that used it)")
    graph_proba = graph_probabilities(head_proba, embeddings, graph, exclude=exclude)
    return combine_probabilities(head_proba, graph_proba, inference, blend_weight)
