"""Fine-tuning losses, one per file (as in sentence-transformers' ``losses/``).

- :mod:`skgloss.losses.gloss`: the in-batch G-Loss (:doc:`method`, in-batch G-Loss),
  :func:`g_loss` and :class:`GLoss`;
- :mod:`skgloss.losses.supcon`: supervised contrastive loss,
  :func:`supcon_loss` and :class:`SupConLoss`;
- :mod:`skgloss.losses.neighbour_kl`: the neighbour-consistency loss on the
  corpus graph (:doc:`method`, corpus graph), :func:`neighbour_kl_loss` and
  :class:`NeighbourKLLoss`;
- :mod:`skgloss.losses.ce`: cross-entropy alone, :class:`CrossEntropyLoss`;
- :mod:`skgloss.losses._base`: the ``(1 - λ)·CE + λ·term`` mix they share,
  and the interface the training loop uses (:class:`Objective` and the
  :class:`BatchContext` of one step).
"""

from ._base import BatchContext, Objective, labeled_cross_entropy, soft_cross_entropy
from .ce import CrossEntropyLoss
from .gloss import GLoss, g_loss, stratified_mask
from .neighbour_kl import NeighbourKLLoss, neighbour_kl_loss
from .supcon import SupConLoss, supcon_loss

__all__ = [
    "g_loss", "GLoss", "supcon_loss", "SupConLoss", "neighbour_kl_loss", "NeighbourKLLoss",
    "labeled_cross_entropy", "soft_cross_entropy", "stratified_mask", "CrossEntropyLoss", "Objective", "BatchContext",
]
