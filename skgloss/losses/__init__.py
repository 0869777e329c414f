"""Fine-tuning losses, one per file (as in sentence-transformers' ``losses/``).

- :mod:`skgloss.losses.gloss`: the in-batch G-Loss (METHOD.md §2),
  :func:`g_loss` and :class:`GLoss`;
- :mod:`skgloss.losses.supcon`: supervised contrastive loss,
  :func:`supcon_loss` and :class:`SupConLoss`;
- :mod:`skgloss.losses._base`: the ``(1 - λ)·CE + λ·term`` mix they share.
"""

from ._base import labeled_cross_entropy
from .gloss import GLoss, g_loss, stratified_mask
from .supcon import SupConLoss, supcon_loss

__all__ = ["g_loss", "GLoss", "supcon_loss", "SupConLoss", "labeled_cross_entropy", "stratified_mask"]
