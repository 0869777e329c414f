"""skgloss: graph-guided fine-tuning (G-Loss) of text encoders, the scikit-learn way.

Public names:

- :class:`GLossTextClassifier`, the estimator;
- :func:`g_loss` / :class:`GLoss`, the in-batch G-Loss for your own loop;
- :func:`supcon_loss` / :class:`SupConLoss`, the supervised contrastive baseline;
- :class:`NeighbourKLLoss`, the summary's neighbour-consistency loss;
- :func:`batch_affinity`, :func:`harmonic_propagation`, the in-batch graph
  and propagation; :func:`knn_graph`, :func:`label_spreading`, the corpus
  graph and propagation;
- :class:`SemiSupervisedKFold`, cross-validation with ``-1`` rows.
"""

__version__ = "0.1.0"

from .classifier import GLossTextClassifier
from .graph import batch_affinity, knn_graph, sqrt_sigma_heuristic
from .losses import GLoss, NeighbourKLLoss, SupConLoss, g_loss, supcon_loss
from .model_selection import SemiSupervisedKFold
from .propagation import harmonic_propagation, label_spreading

__all__ = [
    "GLossTextClassifier",
    "GLoss",
    "g_loss",
    "SupConLoss",
    "supcon_loss",
    "NeighbourKLLoss",
    "batch_affinity",
    "harmonic_propagation",
    "knn_graph",
    "label_spreading",
    "sqrt_sigma_heuristic",
    "SemiSupervisedKFold",
    "__version__",
]
