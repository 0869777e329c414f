"""G-Loss: the in-batch graph-guided loss of Sharma, Agarwal & Kumar.

Reference: "G-Loss: Graph-Guided Fine-Tuning of Language Models", LoG 2025,
arXiv 2604.25853; :doc:`method`, in-batch G-Loss.

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
   (:func:`skgloss.propagation.harmonic_solve_dense`, in float64);
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

from ..devices import DeviceCounts, solve_dtype
from ..graph import batch_affinity
from ..propagation import harmonic_solve_dense, transition_matrix
from ._base import MixedLoss, as_class_weight

__all__ = ["g_loss", "GLoss", "stratified_mask"]

_EPS = 1e-12


def _check_gamma(gamma) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, Real) or not math.isfinite(gamma) or not 0 < gamma < 1:
        raise ValueError(f"gamma must be a number in the open interval (0, 1), got {gamma!r}")
    return float(gamma)


def _uniform_keys(n: int, generator, device) -> torch.Tensor:
    """n uniform random numbers on ``device``, drawn from ``generator`` where given."""
    if generator is None:
        return torch.rand(n, device=device)
    if generator.device == torch.device(device):
        return torch.rand(n, generator=generator, device=device)
    return torch.rand(n, generator=generator, device=generator.device).to(device)


def stratified_mask(labels: torch.Tensor, gamma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Choose the masked set M of :doc:`method`, in-batch G-Loss step 4, stratified by class.

    Within every class c present among the labeled rows (``n_c`` of them),
    ``max(1, round(γ·n_c))`` rows keep their label and the others are masked,
    so no class present in the batch loses all its labeled nodes.

    Computed on the device of ``labels`` with fixed shapes: each row draws a
    random key, and a row is masked when its rank among its class's keys is
    at least the class's keep count. Nothing waits for the device.

    Parameters
    ----------
    labels : torch.LongTensor of shape (B,)
        Class ids, ``-1`` for unknown rows (never masked).
    gamma : float in (0, 1)
        Fraction of each class's labeled rows that keeps its label.
    generator : torch.Generator, optional
        For reproducible splits; best on the device of ``labels`` (a
        generator elsewhere works, at the cost of a copy).

    Returns
    -------
    masked : torch.BoolTensor of shape (B,), on the device of ``labels``.
    """
    gamma = _check_gamma(gamma)
    n = labels.shape[0]
    labeled = labels >= 0
    keys = _uniform_keys(n, generator, labels.device)
    same = (labels[:, None] == labels[None, :]) & labeled[:, None] & labeled[None, :]
    position = torch.arange(n, device=labels.device)
    tie = (keys[None, :] == keys[:, None]) & (position[None, :] < position[:, None])
    before = (keys[None, :] < keys[:, None]) | tie  # before[i, j]: row j comes before row i
    rank = (same & before).sum(dim=1)  # place of the row in its class's random order
    n_c = same.sum(dim=1)
    half_up = torch.floor(n_c.to(solve_dtype(labels.device)) * gamma + 0.5)
    n_keep = torch.minimum(half_up.to(n_c.dtype).clamp_min(1), n_c)
    return labeled & (rank >= n_keep)


def g_loss_with_info(embeddings, labels, *, gamma=0.7, sigma, n_neighbors=None, class_weight=None, generator=None,
                     sample_weight=None):
    """:func:`g_loss`, plus a dict that says how much of the batch was used.

    The dict holds 0-d tensors (reading them waits for the device):
    ``n_masked`` (|M| after the split), ``n_used`` (masked rows that reached
    a labeled node and entered the loss) and ``degenerate`` (True when the
    loss is the zero placeholder).

    Every shape is fixed by the batch size: the classes present are not
    counted on the host but given columns by their first row in the batch,
    and the solve covers every node (:func:`skgloss.propagation.harmonic_solve_dense`).
    """
    if not isinstance(embeddings, torch.Tensor) or embeddings.ndim != 2:
        shape = getattr(embeddings, "shape", type(embeddings))
        raise ValueError(f"embeddings must be a 2-D tensor (B, d), got {shape}")
    if isinstance(labels, torch.Tensor) and labels.ndim == 2 and labels.shape[0] == embeddings.shape[0]:
        return _multilabel_g_loss(embeddings, labels, gamma=gamma, sigma=sigma, n_neighbors=n_neighbors,
                                  class_weight=class_weight, generator=generator, sample_weight=sample_weight)
    if not isinstance(labels, torch.Tensor) or labels.shape != embeddings.shape[:1]:
        raise ValueError("labels must be a 1-D tensor with one entry per row of embeddings "
                         "(or, multi-label, a 2-D tensor with one row per row of embeddings)")
    labels = labels.to(embeddings.device).long()
    out_dtype = torch.promote_types(embeddings.dtype, torch.float32)
    dtype = solve_dtype(embeddings.device)
    n = labels.shape[0]
    masked = stratified_mask(labels, gamma, generator)
    kept = (labels >= 0) & ~masked
    # Column of each class: the first row of the batch with that label.
    position = torch.arange(n, device=labels.device)
    column = torch.where(labels[:, None] == labels[None, :], position[None, :], n).amin(dim=1)
    Y = torch.zeros(n, n, dtype=dtype, device=labels.device).scatter_(1, column[:, None], 1.0) * kept[:, None]

    W = batch_affinity(embeddings.to(dtype), sigma, n_neighbors)
    F = harmonic_solve_dense(transition_matrix(W), Y, ~kept)
    mass = F.sum(dim=1)
    used = masked & (mass > _EPS)
    safe_mass = torch.where(used, mass, torch.ones_like(mass))
    p = F.gather(1, column[:, None]).squeeze(1) / safe_mass
    nll = -torch.log(p.clamp_min(_EPS))
    weight = as_class_weight(class_weight, embeddings.device)
    if weight is not None:
        nll = nll * weight.to(dtype)[labels.clamp_min(0)]
    if sample_weight is not None:
        nll = nll * sample_weight.to(device=nll.device, dtype=dtype)
    n_used = used.sum()
    loss = torch.where(used, nll, torch.zeros_like(nll)).sum() / n_used.clamp_min(1)
    info = {"n_masked": masked.sum(), "n_used": n_used, "degenerate": n_used == 0}
    return loss.to(out_dtype), info


def _multilabel_g_loss(embeddings, labels, *, gamma, sigma, n_neighbors, class_weight, generator, sample_weight):
    """The multi-label G-Loss: every label a column of ``Y_L``, a binary cross-entropy per label.

    ``labels`` (B, L): 0/1 rows for labeled texts, ``-1`` rows for unknown
    ones. A fraction γ of the labeled rows (at least one) keeps its labels
    (L), the rest is masked (M); ``Y_L`` is their multi-hot rows, with one
    more column of ones. The harmonic solve is linear in ``Y_L``, so column l
    of ``F_U`` is the share of a node's random walk absorbed by kept nodes
    that carry label l, and the last column is the share absorbed by any
    kept node: their ratio ``p_ml`` is the propagated probability of label
    l. ``L_G`` is the mean over masked rows that reached a kept node of the
    mean over the labels that some but not every kept row carries of
    ``BCE(p_ml, y_ml)``: a label no kept row carries, or every kept row
    carries, propagates as 0 or 1 to every masked row whatever the
    embeddings, so it has no gradient to give and is left out.
    """
    if class_weight is not None:
        raise ValueError("class_weight is not defined for multi-label targets")
    labels = labels.to(embeddings.device).long()
    out_dtype = torch.promote_types(embeddings.dtype, torch.float32)
    dtype = solve_dtype(embeddings.device)
    labeled = labels[:, 0] >= 0
    masked = stratified_mask(torch.where(labeled, 0, -1), gamma, generator)  # one "class": the labeled rows
    kept = labeled & ~masked
    Y = labels.clamp_min(0).to(dtype) * kept[:, None]
    Y = torch.cat([Y, kept[:, None].to(dtype)], dim=1)
    W = batch_affinity(embeddings.to(dtype), sigma, n_neighbors)
    F = harmonic_solve_dense(transition_matrix(W), Y, ~kept)
    mass = F[:, -1]
    used = masked & (mass > _EPS)
    p = (F[:, :-1] / torch.where(used, mass, torch.ones_like(mass))[:, None]).clamp(_EPS, 1.0 - 1e-7)
    target = labels.clamp_min(0).to(dtype)
    bce = -(target * torch.log(p) + (1.0 - target) * torch.log1p(-p))
    carried = Y[:, :-1].sum(dim=0)
    present = ((carried > 0) & (carried < kept.sum())).to(dtype)  # labels some, not all, kept rows carry
    per_row = (bce * present).sum(dim=1) / present.sum().clamp_min(1)
    if sample_weight is not None:
        per_row = per_row * sample_weight.to(device=per_row.device, dtype=dtype)
    used = used & (present.sum() > 0)
    n_used = used.sum()
    loss = torch.where(used, per_row, torch.zeros_like(per_row)).sum() / n_used.clamp_min(1)
    return loss.to(out_dtype), {"n_masked": masked.sum(), "n_used": n_used, "degenerate": n_used == 0}


def g_loss(embeddings, labels, *, gamma=0.7, sigma, n_neighbors=None, class_weight=None, generator=None,
           sample_weight=None):
    """The in-batch G-Loss ``L_G`` of one mini-batch (:doc:`method`, in-batch G-Loss steps 1-6).

    Parameters
    ----------
    embeddings : torch.Tensor of shape (B, d)
        Pooled encoder outputs ``h``; normalised here. Not detached: gradients
        flow through the kernel, the normalisation and the solve.
    labels : torch.LongTensor of shape (B,) or (B, L)
        Class ids; ``-1`` for rows whose label is unknown (they are unlabeled
        nodes of the graph and never enter the loss themselves). Multi-label:
        0/1 rows, ``-1`` rows for unknown texts (:func:`_multilabel_g_loss`:
        every label a column of ``Y_L``, a binary cross-entropy per label).
    gamma : float in (0, 1), default=0.7
        γ, the fraction of each class's labeled rows that keeps its label.
    sigma : float
        σ, the kernel width.
    n_neighbors : int or None, default=None
        k; keep the k largest affinities per row (None: dense kernel).
    class_weight : sequence of float or None
        ``w``, indexed by class id.
    generator : torch.Generator, optional
        Generator of the labeled/masked split (best on the device of ``embeddings``).
    sample_weight : torch.Tensor of shape (B,), optional
        ``s``, non-negative per-row weights: each masked row's term is
        multiplied by ``s_m`` (as by its class weight).

    Returns
    -------
    loss : torch.Tensor, scalar
        ``-(1/|M|) Σ_(m ∈ M) s_m w_(y_m) log F_U[m, y_m]``; a zero that keeps the
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
        class_weight=class_weight, generator=generator, sample_weight=sample_weight,
    )[0]


class GLoss(MixedLoss):
    """G-Loss as an ``nn.Module``, for your own PyTorch or ``Trainer`` loop.

    ``GLoss(...)(embeddings, labels)`` returns ``L_G``;
    ``GLoss(...)(embeddings, labels, logits)`` returns
    ``(1 - λ)·CE(logits, labels) + λ·L_G`` (:doc:`method`, in-batch G-Loss step 7), CE over rows
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
    n_masked, n_used : int
        Masked rows over those batches, and how many of them entered ``L_G``
        (reached a labeled node).

    Notes
    -----
    The counts are summed on the device and read only when an attribute is
    read, so a training step never waits for the device. The masks are
    drawn from :attr:`generator` on the CPU and from a generator seeded with
    the same seed on any other device.
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
        self._seed = self.generator.initial_seed()
        self._device_generators = {}
        self.n_batches = 0
        self._counts = DeviceCounts("degenerate", "masked", "used")

    @property
    def n_degenerate(self) -> int:
        return self._counts.get("degenerate")

    @property
    def n_masked(self) -> int:
        return self._counts.get("masked")

    @property
    def n_used(self) -> int:
        return self._counts.get("used")

    def counters(self) -> dict:
        return {"degenerate_batches": self.n_degenerate, "masked_rows": self.n_masked,
                "masked_rows_used": self.n_used}

    def generator_for(self, device) -> torch.Generator:
        """The split generator for ``device``: :attr:`generator` on the CPU, a seeded twin elsewhere."""
        device = torch.device(device)
        if device.type == "cpu":
            return self.generator
        key = str(device)
        if key not in self._device_generators:
            self._device_generators[key] = torch.Generator(device=device).manual_seed(self._seed)
        return self._device_generators[key]

    def rng_state(self) -> dict:
        return {"cpu": self.generator.get_state(),
                **{key: g.get_state() for key, g in self._device_generators.items()}}

    def set_rng_state(self, state):
        for key, value in state.items():
            self.generator_for(key).set_state(value)

    def graph_term(self, embeddings, labels, sample_weight=None):
        loss, info = g_loss_with_info(
            embeddings, labels, gamma=self.gamma, sigma=self.sigma, n_neighbors=self.n_neighbors,
            class_weight=self.class_weight_on(embeddings.device), generator=self.generator_for(embeddings.device),
            sample_weight=sample_weight,
        )
        self.n_batches += 1
        self._counts.add(degenerate=info["degenerate"], masked=info["n_masked"], used=info["n_used"])
        return loss
