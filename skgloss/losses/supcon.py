"""Supervised contrastive loss (SupCon), the paper's strongest baseline.

Reference: Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020,
equation 2 ("L_out"). For L2-normalised embeddings ``z`` and temperature τ,
over the anchors i that have at least one positive:

``L_SC = mean_i  -1/|P(i)| Σ_(p ∈ P(i)) log( exp(z_i·z_p/τ) / Σ_(a ≠ i) exp(z_i·z_a/τ) )``

with ``P(i)`` the other rows of the batch with the same label. Input contract:
``embeddings`` (B, d) float; ``labels`` (B,) class ids, ``-1`` rows are
ignored (neither anchors, positives nor negatives). A batch with no anchor
that has a positive gives a zero that keeps the graph.
"""

from __future__ import annotations

import math
from numbers import Real

import torch
import torch.nn.functional as F

from ._base import MixedLoss

__all__ = ["supcon_loss", "SupConLoss"]


def supcon_loss(embeddings: torch.Tensor, labels: torch.Tensor, *, temperature: float = 0.1) -> torch.Tensor:
    """Supervised contrastive loss of one batch.

    Parameters
    ----------
    embeddings : torch.Tensor of shape (B, d)
        Pooled encoder outputs; normalised here.
    labels : torch.LongTensor of shape (B,)
        Class ids, ``-1`` for rows to ignore.
    temperature : float > 0, default=0.1
        τ.

    Returns
    -------
    loss : torch.Tensor, scalar
    """
    if (isinstance(temperature, bool) or not isinstance(temperature, Real) or not math.isfinite(temperature)
            or temperature <= 0):
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    # Fixed shapes (masks, no boolean indexing): nothing waits for the device.
    labeled = labels >= 0
    z = F.normalize(embeddings.float(), dim=1)
    n = z.shape[0]
    sim = z @ z.T / temperature
    pairs = labeled[:, None] & labeled[None, :] & ~torch.eye(n, dtype=torch.bool, device=z.device)
    # a finite stand-in for -inf keeps rows without any pair free of NaN (and of NaN gradients)
    sim = sim.masked_fill(~pairs, torch.finfo(sim.dtype).min / 4)
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & pairs
    n_pos = positives.sum(dim=1)
    anchors = n_pos > 0
    pos_log_prob = torch.where(positives, log_prob, torch.zeros_like(log_prob)).sum(dim=1)
    per_anchor = torch.where(anchors, -pos_log_prob / n_pos.clamp_min(1), torch.zeros_like(pos_log_prob))
    return per_anchor.sum() / anchors.sum().clamp_min(1)


class SupConLoss(MixedLoss):
    """Supervised contrastive loss as an ``nn.Module``, optionally mixed with CE.

    Parameters
    ----------
    lam : float in [0, 1], default=0.8
        Weight of the contrastive term: ``(1 - λ)·CE + λ·L_SC`` when logits
        are given.
    temperature : float > 0, default=0.1
        τ.
    class_weight : sequence of float or None
        Per-class weights for CE.
    """

    term_name = "supcon"

    def __init__(self, lam=0.8, *, temperature=0.1, class_weight=None):
        super().__init__(lam=lam, class_weight=class_weight)
        self.temperature = temperature

    def graph_term(self, embeddings, labels, sample_weight=None):
        """``L_SC``; not weighted per row (``sample_weight`` weighs CE only)."""
        return supcon_loss(embeddings, labels, temperature=self.temperature)
