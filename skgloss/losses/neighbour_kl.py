"""Neighbour-consistency loss on the corpus graph (the popular summary of G-Loss).

Reference: the summary's objective ``CE + λ·Σ_(i,j)∈E w_ij·KL(p_i ‖ p_j)``, in
the form skgloss uses (:doc:`method`, corpus graph): a document's predicted distribution
``p_i`` is pulled towards the label-spreading distributions ``F_j`` of its
corpus neighbours, which are fixed targets (detached):

``L_KL = (1/B) Σ_i Σ_(j ∈ N(i)) ŵ_ij · KL(F_j ‖ p_i)``,  ``ŵ_ij = w_ij / Σ_j w_ij``

Weights are normalised per row so that λ has the same scale whatever k is.

Input contract: ``logits`` (B, C) of the classification head;
``neighbour_dist`` (B, K, C), the distributions ``F_j`` of up to K neighbours
of each row (rows of zeros for padding); ``neighbour_weight`` (B, K), the edge
weights ``w_ij`` (0 for padding). A row without neighbours contributes 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import Objective, check_lam, labeled_cross_entropy, zero_with_graph

__all__ = ["neighbour_kl_loss", "NeighbourKLLoss"]


def neighbour_kl_loss(logits: torch.Tensor, neighbour_dist: torch.Tensor,
                      neighbour_weight: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``Σ_j ŵ_ij KL(F_j ‖ p_i)``, ``p_i = softmax(logits_i)``.

    Parameters
    ----------
    logits : torch.Tensor of shape (B, C)
    neighbour_dist : torch.Tensor of shape (B, K, C)
        Target distributions of the neighbours (rows sum to 1, or 0 for padding).
    neighbour_weight : torch.Tensor of shape (B, K)
        Non-negative edge weights.

    Returns
    -------
    loss : torch.Tensor, scalar, >= 0
    """
    if logits.ndim != 2 or neighbour_dist.ndim != 3 or neighbour_weight.ndim != 2:
        raise ValueError("expected logits (B, C), neighbour_dist (B, K, C) and neighbour_weight (B, K)")
    if neighbour_dist.shape[0] != logits.shape[0] or neighbour_dist.shape[2] != logits.shape[1] \
            or neighbour_weight.shape != neighbour_dist.shape[:2]:
        raise ValueError(
            f"shapes do not match: logits {tuple(logits.shape)}, neighbour_dist {tuple(neighbour_dist.shape)}, "
            f"neighbour_weight {tuple(neighbour_weight.shape)}"
        )
    if logits.shape[0] == 0:
        return zero_with_graph(logits)
    target = neighbour_dist.detach().to(torch.float32)
    w = neighbour_weight.detach().to(torch.float32)
    w = w / w.sum(dim=1, keepdim=True).clamp_min(1e-12)
    log_p = F.log_softmax(logits.float(), dim=1)  # (B, C)
    # KL(F_j || p_i) = Σ_c F_jc (log F_jc - log p_ic), with 0·log 0 = 0
    ent = torch.where(target > 0, target * torch.log(target.clamp_min(1e-30)), torch.zeros_like(target)).sum(-1)
    cross = (target * log_p[:, None, :]).sum(-1)  # (B, K)
    return ((ent - cross) * w).sum(dim=1).mean()


class NeighbourKLLoss(Objective):
    """``CE + λ·L_KL``, the summary's objective (note: not ``(1 - λ)·CE``).

    Parameters
    ----------
    lam : float in [0, 1], default=0.8
        λ, the weight of the neighbour term.
    class_weight : sequence of float or None
        Per-class weights for CE.
    """

    term_name = "kl"
    needs_neighbours = True

    def __init__(self, lam=0.8, class_weight=None):
        super().__init__()
        self.lam = check_lam(lam)
        self.class_weight = class_weight

    def terms(self, logits, labels, neighbour_dist, neighbour_weight, sample_weight=None) -> dict:
        """``{"ce", "kl", "loss"}`` for one batch; CE over rows with label >= 0, weighted by ``sample_weight``.

        The neighbour term is not weighted per row.
        """
        ce = labeled_cross_entropy(logits, labels, self.class_weight_on(logits.device), sample_weight)
        kl = neighbour_kl_loss(logits, neighbour_dist, neighbour_weight)
        return {"ce": ce, "kl": kl, "loss": ce + self.lam * kl}

    def terms_of(self, ctx):
        kw = {} if ctx.sample_weight is None else {"sample_weight": ctx.sample_weight}
        return self.terms(ctx.logits, ctx.labels, ctx.neighbour_dist, ctx.neighbour_weight, **kw)

    def forward(self, logits, labels, neighbour_dist, neighbour_weight, sample_weight=None):
        return self.terms(logits, labels, neighbour_dist, neighbour_weight, sample_weight=sample_weight)["loss"]
