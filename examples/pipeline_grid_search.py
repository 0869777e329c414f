"""A scikit-learn Pipeline with GridSearchCV over λ (``lam``) and k (``n_neighbors``).

Shows: ``GLossTextClassifier`` as the last step of a ``Pipeline`` after a text
clean-up step, cross-validated over the G-Loss weight λ and the in-batch
neighbour count k with ``GridSearchCV`` (each candidate is a fresh clone, so
the encoder is reloaded per fit), then scored on held-out texts.
Prints: one line per candidate (mean CV accuracy), the best parameters, and
the refitted pipeline's held-out accuracy.

    python examples/pipeline_grid_search.py                 # all-MiniLM-L6-v2 (skgloss[offline])
    python examples/pipeline_grid_search.py --model PATH    # any local encoder folder
"""

import argparse
import re

from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skgloss import GLossTextClassifier
from skgloss.datasets import load_support_tickets

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--max-length", type=int, default=64)
parser.add_argument("--n-train", type=int, default=300, help="training texts used (fewer: faster)")
args = parser.parse_args()


def clean(texts):
    """Lower-case and squeeze whitespace: any text step can precede the classifier."""
    return [re.sub(r"\s+", " ", t).strip().lower() for t in texts]


X_train, y_train = load_support_tickets("train")
X_test, y_test = load_support_tickets("test")
X_train, y_train = X_train[:args.n_train], y_train[:args.n_train]

pipe = Pipeline([
    ("clean", FunctionTransformer(clean)),
    ("clf", GLossTextClassifier(args.model, max_length=args.max_length, max_epochs=args.epochs, random_state=0)),
])
grid = GridSearchCV(pipe, {"clf__lam": [0.5, 0.8], "clf__n_neighbors": [None, 8]}, cv=2)
grid.fit(X_train, y_train)

for params, score in zip(grid.cv_results_["params"], grid.cv_results_["mean_test_score"]):
    print(f"lam={params['clf__lam']}, n_neighbors={params['clf__n_neighbors']}: CV accuracy {score:.3f}")
print("best parameters:", grid.best_params_)
print(f"held-out accuracy of the refitted pipeline: {grid.score(X_test, y_test):.3f}")
