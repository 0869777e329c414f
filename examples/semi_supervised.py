"""Semi-supervised fit: most rows unlabeled (-1), cross-validated the right way.

Shows: fitting with -1 rows (the corpus graph spreads labels to them and
confident ones become training targets), ``transduction_`` for every row,
graph inference, and ``GridSearchCV`` with ``SemiSupervisedKFold`` (unlabeled
rows stay in every training fold, never in a test fold) and
``labeled_scorer``.
Prints: how many rows were labeled, the transductive accuracy on the
unlabeled rows, held-out accuracy per inference mode, and the grid's best
parameters.

    python examples/semi_supervised.py                 # all-MiniLM-L6-v2 (skgloss[offline])
    python examples/semi_supervised.py --model PATH    # any local encoder folder
"""

import argparse

import numpy as np
from sklearn.model_selection import GridSearchCV

from skgloss import GLossTextClassifier
from skgloss.datasets import load_support_tickets
from skgloss.model_selection import SemiSupervisedKFold, labeled_scorer

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--max-length", type=int, default=64)
parser.add_argument("--label-fraction", type=float, default=0.1)
args = parser.parse_args()

X, y = load_support_tickets("train")
X_test, y_test = load_support_tickets("test")
y = np.array(y, dtype=object)
rng = np.random.default_rng(0)
y_part = np.where(rng.random(len(y)) < args.label_fraction, y, -1)
unlabeled = y_part == -1
print(f"{(~unlabeled).sum()} of {len(y)} training rows labeled")

clf = GLossTextClassifier(args.model, max_length=args.max_length, max_epochs=args.epochs, random_state=0)
clf.fit(X, y_part)
print(f"transductive accuracy on the unlabeled rows: {np.mean(clf.transduction_[unlabeled] == y[unlabeled]):.3f}")
if not hasattr(clf, "graph_"):  # the encoder did not separate the labeled classes: -1 rows set aside
    print(f"{clf.cv_results_['unlabeled_set_aside']} -1 rows set aside (class separation "
          f"{clf.cv_results_['class_separation']:.2f}): no corpus graph, head inference only")
for mode in ("head", "graph", "blend") if hasattr(clf, "graph_") else ("head",):
    clf.set_params(inference=mode)
    print(f"held-out accuracy, inference={mode}: {clf.score(X_test, y_test):.3f}")

grid = GridSearchCV(
    GLossTextClassifier(args.model, max_length=args.max_length, max_epochs=1, validation_fraction=0,
                        random_state=0),
    {"lam": [0.5, 0.8], "n_neighbors": [5, 10]},
    cv=SemiSupervisedKFold(n_splits=2, random_state=0),
    scoring=labeled_scorer(),
)
grid.fit(X, y_part)
print("best parameters:", grid.best_params_)
