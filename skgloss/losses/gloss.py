"""G-Loss: the in-batch graph-guided loss of Sharma, Agarwal & Kumar.

Reference: "G-Loss: Graph-Guided Fine-Tuning of Language Models", LoG 2025,
arXiv 2604.25853; METHOD.md §2.

For a batch of pooled embeddings ``h_1..h_B`` with labels ``y`` (``-1`` =
unknown):

1. ``z_i = h_i / ||h_i||`` and the Gaussian kernel
   ``W_ij = exp(-||z_i - z_j||² / (2σ²))`` (:func:`skgloss.graph.batch_affinity`,
   optionally kept to the k largest entries per row);
2. the labeled rows are split at random, stratified by class: a fraction γ
   keeps its label (set L), the rest is masked (set M); every class present
   among the labeled rows keeps at least one node in L. Unknown rows join the
   unlabeled set, ``U = M ∪ {y = -1}``;
3. harmonic propagation ``F_U = (I - T_UU)^-1 T_UL Y_L``
   (:func:`skgloss.propagation.harmonic_solve`);
4. ``L_G = -(1/|M|) Σ_(m ∈ M) w_(y_m) · log F_U[m, y_m]``.

Input contract: ``embeddings`` (B, d) float, not detached; ``labels`` (B,)
integer class ids in ``[0, C)`` or ``-1``. Differences from the authors' code,
on purpose: one encoder pass serves CE and L_G; the propagated probabilities
are not passed through a second softmax; the split is stratified.

Degenerate batches (fewer than two labeled rows, nothing masked, or no
masked row with a path to a labeled row) give a zero loss that keeps the
autograd graph, never NaN; :class:`GLoss` counts them.
"""

from __future__ import annotations

import math
from numbers import Real

import torch

from ..graph import batch_affinity
from ..propagation import harmonic_solve
from ._base import MixedLoss, as_class_weight, zero_with_graph

__all__ = ["g_loss", "GLoss", "stratified_mask"]

_EPS = 1e-12


def _check_gamma(gamma) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, Real) or not math.isfinite(gamma) or not 0 < gamma < 1:
        raise ValueError(f"gamma must be a number in the open interval (0, 1), got {gamma!r}")
    return float(gamma)


def stratified_mask(labels: torch.Tensor, gamma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Choose the masked set M of METHOD.md §2 step 4, stratified by class.

    Within every class c present among the labeled rows (``n_c`` of them),
    ``max(1, round(γ·n_c))`` rows keep their label and the others are masked,
    so no class present in the batch loses all its labeled nodes.

    Parameters
    ----------
    labels : torch.LongTensor of shape (B,)
        Class ids, ``-1`` for unknown rows (never masked).
    gamma : float in (0, 1)
        Fraction of each class's labeled rows that keeps its label.
    generator : torch.Generator, optional
        A CPU generator, for reproducible splits.

    Returns
    -------
    masked : torch.BoolTensor of shape (B,), on the device of ``labels``.
    """
    gamma = _check_gamma(gamma)
    cpu_labels = labels.detach().cpu()
    masked = torch.zeros(cpu_labels.shape[0], dtype=torch.bool)
    for c in torch.unique(cpu_labels[cpu_labels >= 0]).tolist():
        idx = torch.nonzero(cpu_labels == c).flatten()
        n_c = idx.numel()
        n_keep = min(n_c, max(1, math.floor(gamma * n_c + 0.5)))
        perm = idx[torch.randperm(n_c, generator=generator)]
        masked[perm[n_keep:]] = True
    return masked.to(labels.device)


def g_loss_with_info(embeddings, labels, *, gamma=0.7, sigma, n_neighbors=None, class_weight=None, generator=None):
    """:func:`g_loss`, plus a dict that says how much of the batch was used.

    The dict has ``n_masked`` (|M| after the split), ``n_used`` (masked rows
    that reached a labeled node and entered the loss) and ``degenerate``
    (True when the loss is the zero placeholder).
    """
    if not isinstance(embeddings, torch.Tensor) or embeddings.ndim != 2:
        shape = getattr(embeddings, "shape", type(embeddings))
        raise ValueError(f"embeddings must be a 2-D tensor (B, d), got {shape}")
    if not isinstance(labels, torch.Tensor) or labels.shape != embeddings.shape[:1]:
        raise ValueError("labels must be a 1-D tensor with one entry per row of embeddings")
    labels = labels.to(embeddings.device).long()
    out_dtype = torch.promote_types(embeddings.dtype, torch.float32)
    masked = stratified_mask(labels, gamma, generator)
    n_masked = int(masked.sum())
    info = {"n_masked": n_masked, "n_used": 0, "degenerate": True}
    if n_masked == 0:
        return zero_with_graph(embeddings).to(out_dtype), info

    kept = (labels >= 0) & ~masked
    present, compact = torch.unique(labels[kept], return_inverse=True)
    prop_labels = torch.full_like(labels, -1)
    prop_labels[kept] = compact
    # Masked rows' classes all appear among the kept rows (stratified split).
    target = torch.searchsorted(present, labels[masked])

    W = batch_affinity(embeddings.to(torch.float64), sigma, n_neighbors)
    F_U = harmonic_solve(W, prop_labels, int(present.numel()))
    position_in_U = torch.cumsum(prop_labels < 0, dim=0) - 1
    F_M = F_U[position_in_U[masked]]
    mass = F_M.sum(dim=1)
    used = mass > _EPS
    n_used = int(used.sum())
    info["n_used"] = n_used
    if n_used == 0:
        return zero_with_graph(embeddings).to(out_dtype), info
    p = F_M[used].gather(1, target[used, None]).squeeze(1) / mass[used]
    nll = -torch.log(p.clamp_min(_EPS))
    weight = as_class_weight(class_weight, embeddings.device)
    if weight is not None:
        nll = nll * weight.to(torch.float64)[labels[masked][used]]
    info["degenerate"] = False
    return (nll.sum() / n_used).to(out_dtype), info


def g_loss(embeddings, labels, *, gamma=0.7, sigma, n_neighbors=None, class_weight=None, generator=None):
    """The in-batch G-Loss ``L_G`` of one mini-batch (METHOD.md §2 steps 1-6).

    Parameters
    ----------
    embeddings : torch.Tensor of shape (B, d)
        Pooled encoder outputs ``h``; normalised here. Not detached: gradients
        flow through the kernel, the normalisation and the solve.
    labels : torch.LongTensor of shape (B,)
        Class ids; ``-1`` for rows whose label is unknown (they are unlabeled
        nodes of the graph and never enter the loss themselves).
    gamma : float in (0, 1), default=0.7
        γ, the fraction of each class's labeled rows that keeps its label.
    sigma : float
        σ, the kernel width.
    n_neighbors : int or None, default=None
        k; keep the k largest affinities per row (None: dense kernel).
    class_weight : sequence of float or None
        ``w``, indexed by class id.
    generator : torch.Generator, optional
        CPU generator for the labeled/masked split.

    Returns
    -------
    loss : torch.Tensor, scalar
        ``-(1/|M|) Σ_(m ∈ M) w_(y_m) log F_U[m, y_m]``; a zero that keeps the
        graph for a degenerate batch.

    Examples
    --------
    >>> import torch
    >>> from skgloss.losses import g_loss
    >>> h = torch.randn(8, 16, requires_grad=True)
    >>> y = torch.tensor([0, 0, 0, 1, 1, 1, -1, -1])
    >>> loss = g_loss(h, y, sigma=0.5, generator=torch.Generator().manual_seed(0))
    >>> loss.backward()
    >>> bool(torch.isfinite(h.grad).all())
    True
    """
    return g_loss_with_info(
        embeddings, labels, gamma=gamma, sigma=sigma, n_neighbors=n_neighbors,
        class_weight=class_weight, generator=generator,
    )[0]


class GLoss(MixedLoss):
    """G-Loss as an ``nn.Module``, for your own PyTorch or ``Trainer`` loop.

    ``GLoss(...)(embeddings, labels)`` returns ``L_G``;
    ``GLoss(...)(embeddings, labels, logits)`` returns
    ``(1 - λ)·CE(logits, labels) + λ·L_G`` (METHOD.md §2 step 7), CE over rows
    whose label is not ``-1``.

    Parameters
    ----------
    lam : float in [0, 1], default=0.8
        λ, the weight of ``L_G`` against CE.
    gamma : float in (0, 1), default=0.7
        γ, the fraction of each class's labeled rows that keeps its label.
    sigma : float, default=0.5
        σ, the kernel width (the estimator can choose it by the "sqrt"
        heuristic, :func:`skgloss.graph.sqrt_sigma_heuristic`).
    n_neighbors : int or None, default=None
        k, optional sparsification of the batch graph.
    class_weight : sequence of float or None
        Per-class weights for CE and ``L_G``.
    seed : int or None
        Seed of the generator of the labeled/masked splits.

    Attributes
    ----------
    n_batches : int
        Batches seen by :meth:`forward`.
    n_degenerate : int
        Of those, batches where ``L_G`` was the zero placeholder.
    """

    term_name = "gloss"

    def __init__(self, lam=0.8, *, gamma=0.7, sigma=0.5, n_neighbors=None, class_weight=None, seed=None):
        super().__init__(lam=lam, class_weight=class_weight)
        self.gamma = _check_gamma(gamma)
        self.sigma = sigma
        self.n_neighbors = n_neighbors
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(int(seed))
        else:
            self.generator.seed()
        self.n_batches = 0
        self.n_degenerate = 0

    def graph_term(self, embeddings, labels):
        loss, info = g_loss_with_info(
            embeddings, labels, gamma=self.gamma, sigma=self.sigma, n_neighbors=self.n_neighbors,
            class_weight=self.class_weight, generator=self.generator,
        )
        self.n_batches += 1
        self.n_degenerate += int(info["degenerate"])
        return loss
