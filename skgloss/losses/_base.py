"""What every skgloss loss shares: the mix with cross-entropy.

:doc:`method`, in-batch G-Loss step 7: ``L = (1 - λ)·CE(head(h), y) + λ·L_graph``, with CE over
the labeled rows only (rows labeled ``-1`` get no CE term) and one forward
pass of the encoder serving both terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import torch
import torch.nn.functional as F
from torch import nn


def zero_with_graph(t: torch.Tensor) -> torch.Tensor:
    """A scalar zero that still depends on ``t``, so ``backward`` works."""
    return t.sum() * 0.0


def as_class_weight(class_weight, device) -> torch.Tensor | None:
    """``class_weight`` (None or a 1-D sequence indexed by class id) as a float tensor on ``device``.

    Checked on the host; a float tensor already on ``device`` is taken as it
    is (objectives convert their weights once, see :meth:`MixedLoss.class_weight_on`).
    """
    if class_weight is None:
        return None
    if isinstance(class_weight, torch.Tensor) and class_weight.device == torch.device(device) \
            and class_weight.dtype == torch.float32:
        return class_weight
    w = torch.as_tensor(class_weight, dtype=torch.float32, device="cpu")
    if w.ndim != 1 or not torch.isfinite(w).all() or (w < 0).any():
        raise ValueError("class_weight must be a 1-D sequence of finite non-negative weights")
    return w.to(device)


def labeled_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, class_weight=None,
                          sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of ``logits`` over the rows whose label is not ``-1``.

    ``labels`` (B,) class ids, or (B, L) multi-label 0/1 rows
    (:func:`labeled_binary_cross_entropy`).

    The weighted mean over labeled rows, ``Σ s_i w_(y_i) CE_i / Σ s_i w_(y_i)``
    (``w`` the class weights, ``s`` the per-row ``sample_weight`` (B,); 1
    where not given), which is what ``F.cross_entropy`` computes with class
    weights alone; a zero that keeps the graph when no row is labeled (or
    every labeled row weighs 0). Computed with fixed shapes (a mask, no
    boolean indexing), so it never waits for the device.
    """
    if labels.ndim == 2:  # multi-label (B, L): per-label binary cross-entropy
        if class_weight is not None:
            raise ValueError("class_weight is not defined for multi-label targets")
        return labeled_binary_cross_entropy(logits, labels, sample_weight)
    labeled = labels >= 0
    weight = as_class_weight(class_weight, logits.device)
    per_row = F.cross_entropy(logits.float(), labels.clamp_min(0), reduction="none")
    row_weight = labeled.to(per_row.dtype)
    if weight is not None:
        row_weight = row_weight * weight[labels.clamp_min(0)]
    if sample_weight is not None:
        row_weight = row_weight * sample_weight.to(per_row.dtype)
    # 0/1 instead of 0/0 when nothing is labeled: the zero keeps the graph
    return (per_row * row_weight).sum() / row_weight.sum().clamp_min(torch.finfo(per_row.dtype).tiny)


def labeled_binary_cross_entropy(logits: torch.Tensor, labels: torch.Tensor,
                                 sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Multi-label cross-entropy: binary cross-entropy of every label, over the rows that are labeled.

    ``labels`` (B, L) holds 0/1 for labeled rows and ``-1`` on every column
    of an unlabeled row. Per row, the mean over labels of
    ``BCE(sigmoid(z_il), y_il)``; then the (``sample_weight``-weighted) mean
    over labeled rows, as :func:`labeled_cross_entropy`. Fixed shapes, no host sync.
    """
    labeled = labels[:, 0] >= 0
    per_row = F.binary_cross_entropy_with_logits(logits.float(), labels.clamp_min(0).to(torch.float32),
                                                 reduction="none").mean(dim=1)
    row_weight = labeled.to(per_row.dtype)
    if sample_weight is not None:
        row_weight = row_weight * sample_weight.to(per_row.dtype)
    return (per_row * row_weight).sum() / row_weight.sum().clamp_min(torch.finfo(per_row.dtype).tiny)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None,
                       sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over rows of ``-Σ_c t_c log softmax(logits)_c`` for soft targets ``t``.

    Used for pseudo-labeled rows, whose targets are label-spreading
    distributions. With ``mask`` (B,) bool, the mean runs over the masked
    rows only (fixed shapes, no host sync); with ``sample_weight`` (B,), it
    is the weighted mean. A zero that keeps the graph when there are no rows
    (or they weigh 0).
    """
    if logits.shape[0] == 0:
        return zero_with_graph(logits)
    log_p = F.log_softmax(logits.float(), dim=1)
    per_row = -(targets.to(log_p.dtype) * log_p).sum(dim=1)
    if mask is None and sample_weight is None:
        return per_row.mean()
    w = torch.ones_like(per_row) if mask is None else mask.to(per_row.dtype)
    if sample_weight is not None:
        w = w * sample_weight.to(per_row.dtype)
    return (per_row * w).sum() / w.sum().clamp_min(torch.finfo(per_row.dtype).tiny)


@dataclass
class BatchContext:
    """Everything an objective may use for one training step.

    One forward pass fills it (:doc:`method`, in-batch G-Loss step 7); each objective reads
    what its terms need.

    Attributes
    ----------
    embeddings : torch.Tensor (B, d)
        Pooled encoder outputs ``h``, not detached.
    logits : torch.Tensor (B, C)
        The head's outputs on ``embeddings``.
    labels : torch.LongTensor (B,)
        Class ids; ``-1`` for rows whose label is unknown or hidden.
    soft_targets, soft_mask : torch.Tensor (B, C) and (B,) bool, optional
        Pseudo-label targets from the corpus graph and the rows that have one.
    sample_weight : torch.Tensor (B,), optional
        Per-row weights (``fit(..., sample_weight=...)``).
    neighbour_dist, neighbour_weight : torch.Tensor (B, K, C) and (B, K), optional
        Label distributions and edge weights of each row's corpus neighbours.
    """

    embeddings: torch.Tensor
    logits: torch.Tensor
    labels: torch.Tensor
    soft_targets: torch.Tensor | None = None
    soft_mask: torch.Tensor | None = None
    sample_weight: torch.Tensor | None = None
    neighbour_dist: torch.Tensor | None = None
    neighbour_weight: torch.Tensor | None = None


class Objective(nn.Module):
    """What the training loop asks of a loss: the terms of one batch.

    Subclasses implement ``terms(embeddings, labels, logits)`` (or override
    :meth:`terms_of` when they read more of the batch context) and set :attr:`ce_weight`, the
    weight their loss gives cross-entropy (``1 - λ`` for a mix, 1 otherwise);
    pseudo-labeled rows train with that same weight. ``needs_neighbours``
    says whether the batch context must carry corpus neighbours.
    """

    needs_neighbours = False
    ce_weight = 1.0
    class_weight = None

    def class_weight_on(self, device) -> torch.Tensor | None:
        """:attr:`class_weight` as a tensor on ``device``, converted once per device."""
        if self.class_weight is None:
            return None
        cache = self.__dict__.setdefault("_class_weight_cache", {})
        key = str(torch.device(device))
        if key not in cache:
            cache[key] = as_class_weight(self.class_weight, device)
        return cache[key]

    def terms_of(self, ctx: BatchContext) -> dict:
        """The objective's own terms (without ``"pseudo"``); by default ``self.terms(h, labels, logits)``."""
        # sample weights only when there are some: an objective written before them needs no new argument
        kw = {} if ctx.sample_weight is None else {"sample_weight": ctx.sample_weight}
        return self.terms(ctx.embeddings, ctx.labels, ctx.logits, **kw)

    def batch_terms(self, ctx: BatchContext) -> dict:
        """Every term of one batch as a dict of scalar tensors; ``"loss"`` is the one to minimise.

        With pseudo-labeled rows in ``ctx``, adds ``"pseudo"`` (their soft
        cross-entropy) to ``"loss"`` with weight :attr:`ce_weight`.
        """
        terms = self.terms_of(ctx)
        if ctx.soft_mask is not None:
            terms["pseudo"] = soft_cross_entropy(ctx.logits, ctx.soft_targets, ctx.soft_mask, ctx.sample_weight)
            terms["loss"] = terms["loss"] + self.ce_weight * terms["pseudo"]
        return terms

    def counters(self) -> dict:
        """Running counts the objective keeps (e.g. degenerate batches), as ints."""
        return {}

    def rng_state(self) -> dict:
        """The states of the objective's own random generators, by device (for checkpoints)."""
        return {}

    def set_rng_state(self, state: dict) -> None:
        """Put back what :meth:`rng_state` returned."""


def check_lam(lam) -> float:
    if isinstance(lam, bool) or not isinstance(lam, Real) or not math.isfinite(lam) or not 0 <= lam <= 1:
        raise ValueError(f"lam must be a number in [0, 1], got {lam!r}")
    return float(lam)


class MixedLoss(Objective):
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

    @property
    def ce_weight(self):
        return 1.0 - self.lam


    def graph_term(self, embeddings: torch.Tensor, labels: torch.Tensor, sample_weight=None) -> torch.Tensor:
        """The term on embeddings; ``sample_weight`` (B,) weighs its rows where the term supports it."""
        raise NotImplementedError

    def terms(self, embeddings: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor | None = None,
              sample_weight: torch.Tensor | None = None) -> dict:
        """Every term of the loss, as a dict of scalar tensors.

        Keys: ``"ce"`` (when ``logits`` is given), :attr:`term_name`, and
        ``"loss"``, the value that :meth:`forward` returns. ``sample_weight``
        (B,) weighs the rows of CE, and of the term where it supports it.
        """
        term = (self.graph_term(embeddings, labels) if sample_weight is None
                else self.graph_term(embeddings, labels, sample_weight=sample_weight))
        if logits is None:
            return {self.term_name: term, "loss": term}
        ce = labeled_cross_entropy(logits, labels, self.class_weight_on(logits.device), sample_weight)
        return {"ce": ce, self.term_name: term, "loss": (1.0 - self.lam) * ce + self.lam * term}

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor,
                logits: torch.Tensor | None = None, sample_weight: torch.Tensor | None = None) -> torch.Tensor:
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
        sample_weight : torch.Tensor of shape (B,), optional
            Non-negative per-row weights of CE (a weighted mean) and, for
            G-Loss, of ``L_G``'s masked rows.
        """
        return self.terms(embeddings, labels, logits, sample_weight=sample_weight)["loss"]
