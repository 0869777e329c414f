"""What every skgloss loss shares: the mix with cross-entropy.

METHOD.md §2 step 7: ``L = (1 - λ)·CE(head(h), y) + λ·L_graph``, with CE over
the labeled rows only (rows labeled ``-1`` get no CE term) and one forward
pass of the encoder serving both terms.
"""

from __future__ import annotations

import math
from numbers import Real

import torch
import torch.nn.functional as F
from torch import nn


def zero_with_graph(t: torch.Tensor) -> torch.Tensor:
    """A scalar zero that still depends on ``t``, so ``backward`` works."""
    return t.sum() * 0.0


def as_class_weight(class_weight, device) -> torch.Tensor | None:
    """``class_weight`` (None or a 1-D sequence indexed by class id) as a float tensor."""
    if class_weight is None:
        return None
    w = torch.as_tensor(class_weight, dtype=torch.float32, device=device)
    if w.ndim != 1 or not torch.isfinite(w).all() or (w < 0).any():
        raise ValueError("class_weight must be a 1-D sequence of finite non-negative weights")
    return w


def labeled_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, class_weight=None) -> torch.Tensor:
    """Cross-entropy of ``logits`` over the rows whose label is not ``-1``.

    Returns a zero that keeps the graph when no row is labeled.
    """
    labeled = labels >= 0
    if not bool(labeled.any()):
        return zero_with_graph(logits)
    weight = as_class_weight(class_weight, logits.device)
    return F.cross_entropy(logits[labeled].float(), labels[labeled], weight=weight)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``-Σ_c t_c log softmax(logits)_c`` for soft targets ``t``.

    Used for pseudo-labeled rows, whose targets are label-spreading
    distributions. A zero that keeps the graph when there are no rows.
    """
    if logits.shape[0] == 0:
        return zero_with_graph(logits)
    log_p = F.log_softmax(logits.float(), dim=1)
    return -(targets.to(log_p.dtype) * log_p).sum(dim=1).mean()


def check_lam(lam) -> float:
    if isinstance(lam, bool) or not isinstance(lam, Real) or not math.isfinite(lam) or not 0 <= lam <= 1:
        raise ValueError(f"lam must be a number in [0, 1], got {lam!r}")
    return float(lam)


class MixedLoss(nn.Module):
    """Base class: a graph or contrastive term on embeddings, mixed with CE.

    Subclasses set :attr:`term_name` and implement :meth:`graph_term`.

    Parameters
    ----------
    lam : float in [0, 1]
        Weight λ of the term: ``(1 - λ)·CE + λ·term`` when logits are given.
    class_weight : sequence of float or None
        Per-class weights, indexed by class id, used by CE (and by the term
        where it supports them).
    """

    term_name = "term"

    def __init__(self, lam: float = 0.8, class_weight=None):
        super().__init__()
        self.lam = check_lam(lam)
        self.class_weight = class_weight

    def graph_term(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def terms(self, embeddings: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor | None = None) -> dict:
        """Every term of the loss, as a dict of scalar tensors.

        Keys: ``"ce"`` (when ``logits`` is given), :attr:`term_name`, and
        ``"loss"``, the value that :meth:`forward` returns.
        """
        term = self.graph_term(embeddings, labels)
        if logits is None:
            return {self.term_name: term, "loss": term}
        ce = labeled_cross_entropy(logits, labels, self.class_weight)
        return {"ce": ce, self.term_name: term, "loss": (1.0 - self.lam) * ce + self.lam * term}

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor,
                logits: torch.Tensor | None = None) -> torch.Tensor:
        """The loss.

        Parameters
        ----------
        embeddings : torch.Tensor of shape (B, d)
            Pooled encoder outputs of the batch (not detached).
        labels : torch.LongTensor of shape (B,)
            Class ids, ``-1`` for unlabeled rows.
        logits : torch.Tensor of shape (B, C), optional
            Outputs of a classification head on the same embeddings. When
            given, the result is ``(1 - λ)·CE + λ·term``; otherwise the term
            alone.
        """
        return self.terms(embeddings, labels, logits)["loss"]
