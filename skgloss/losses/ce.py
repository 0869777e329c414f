"""Cross-entropy alone: the baseline every other objective is judged against.

``L = CE(head(h), y)`` over the rows whose label is not ``-1`` (class-weighted
mean, as ``torch.nn.functional.cross_entropy``). Input contract: the same
``(embeddings, labels, logits)`` as the other losses; the embeddings are not
used.
"""

from __future__ import annotations

import torch

from ._base import Objective, labeled_cross_entropy

__all__ = ["CrossEntropyLoss"]


class CrossEntropyLoss(Objective):
    """The ``loss="ce"`` objective, with the same interface as the graph losses.

    Parameters
    ----------
    class_weight : sequence of float or None
        Per-class weights, indexed by class id.
    """

    term_name = None

    def __init__(self, class_weight=None):
        super().__init__()
        self.class_weight = class_weight

    def terms(self, embeddings: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor,
              sample_weight: torch.Tensor | None = None) -> dict:
        """``{"ce", "loss"}`` for one batch (both the same tensor); ``sample_weight`` (B,) weighs the rows."""
        ce = labeled_cross_entropy(logits, labels, self.class_weight_on(logits.device), sample_weight)
        return {"ce": ce, "loss": ce}

    def forward(self, embeddings, labels, logits, sample_weight=None):
        return self.terms(embeddings, labels, logits, sample_weight=sample_weight)["loss"]
