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

Each is imported on first use (so that ``skgloss --help`` does not wait for
torch and transformers): ``import skgloss`` alone imports neither.
"""

import importlib

__version__ = "0.1.0"

#: public name -> the submodule that defines it
_EXPORTS = {
    "GLossTextClassifier": "classifier",
    "GLoss": "losses",
    "g_loss": "losses",
    "SupConLoss": "losses",
    "supcon_loss": "losses",
    "NeighbourKLLoss": "losses",
    "batch_affinity": "graph",
    "harmonic_propagation": "propagation",
    "knn_graph": "graph",
    "label_spreading": "propagation",
    "sqrt_sigma_heuristic": "graph",
    "SemiSupervisedKFold": "model_selection",
}

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


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # the next lookup is an ordinary one
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
