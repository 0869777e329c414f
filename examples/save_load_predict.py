"""Save, load, predict: a fitted model as a folder, in Python and on the command line.

Shows: ``save_pretrained`` (the encoder in Hugging Face's own format,
safetensors for the head, JSON for the parameters: no pickle),
``from_pretrained``, and that the reloaded model predicts exactly as the
original; then the same folder with the ``skgloss predict`` command.
Prints: the folder's files, whether predictions and probabilities match, and
the command-line equivalent.

    python examples/save_load_predict.py                 # all-MiniLM-L6-v2 (skgloss[offline])
    python examples/save_load_predict.py --model PATH    # any local encoder folder
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from skgloss import GLossTextClassifier
from skgloss.datasets import load_support_tickets

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--max-length", type=int, default=64)
parser.add_argument("--output", help="model folder to keep (default: a temporary folder)")
args = parser.parse_args()

X_train, y_train = load_support_tickets("train")
X_test, _ = load_support_tickets("test")
clf = GLossTextClassifier(args.model, max_length=args.max_length, max_epochs=args.epochs, random_state=0)
clf.fit(X_train, y_train)

with tempfile.TemporaryDirectory() as tmp:
    folder = Path(args.output or Path(tmp) / "support-model")
    clf.save_pretrained(folder)
    print("saved:", sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()))
    loaded = GLossTextClassifier.from_pretrained(folder)
    same_labels = bool(np.array_equal(loaded.predict(X_test), clf.predict(X_test)))
    same_proba = bool(np.allclose(loaded.predict_proba(X_test), clf.predict_proba(X_test), atol=1e-6))
    print(f"reloaded model: same labels {same_labels}, same probabilities {same_proba}")
    print(f"the same from a shell: skgloss predict {folder} texts.csv --output predictions.csv")
