"""skgloss: graph-guided fine-tuning (G-Loss) of text encoders, the scikit-learn way.

Public names:

- :class:`GLossTextClassifier`, the estimator;
- :func:`g_loss` / :class:`GLoss`, the in-batch G-Loss for your own loop;
- :func:`supcon_loss` / :class:`SupConLoss`, the supervised contrastive baseline;
- :func:`batch_affinity`, :func:`harmonic_propagation`, the graph and the
  propagation underneath.
"""

__version__ = "0.1.0"

from .classifier import GLossTextClassifier
from .graph import batch_affinity, sqrt_sigma_heuristic
from .losses import GLoss, SupConLoss, g_loss, supcon_loss
from .propagation import harmonic_propagation

__all__ = [
    "GLossTextClassifier",
    "GLoss",
    "g_loss",
    "SupConLoss",
    "supcon_loss",
    "batch_affinity",
    "harmonic_propagation",
    "sqrt_sigma_heuristic",
    "__version__",
]
