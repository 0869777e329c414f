"""Embedding plots before and after fine-tuning, with silhouette scores.

Shows: ``skgloss.plotting.plot_embeddings`` (PCA, and t-SNE with ``--tsne``)
of held-out texts embedded by the pre-trained encoder and by the fine-tuned
one, and ``plot_training_curves`` of the fit. Needs matplotlib
(``pip install "skgloss[plot]"``).
Prints: the silhouette score (cosine, true classes) before and after, and
the PNG files written.

    python examples/embedding_plots.py --out plots                 # all-MiniLM-L6-v2 (skgloss[offline])
    python examples/embedding_plots.py --out plots --model PATH    # any local encoder folder
"""

import argparse
from pathlib import Path

from sklearn.metrics import silhouette_score

from skgloss import GLossTextClassifier
from skgloss.datasets import load_support_tickets
from skgloss.encoder import embed_texts, load_encoder
from skgloss.plotting import plot_embeddings, plot_training_curves, save_figure

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--max-length", type=int, default=64)
parser.add_argument("--out", default="plots", help="folder for the PNG files")
parser.add_argument("--tsne", action="store_true", help="t-SNE instead of PCA (slower)")
args = parser.parse_args()
method = "tsne" if args.tsne else "pca"
out = Path(args.out)

X_train, y_train = load_support_tickets("train")
X_test, y_test = load_support_tickets("test")

encoder, tokenizer = load_encoder(args.model)
before = embed_texts(encoder, tokenizer, X_test, pooling="mean", max_length=args.max_length, batch_size=64,
                     device="cpu")
clf = GLossTextClassifier(args.model, max_length=args.max_length, max_epochs=args.epochs, random_state=0)
clf.fit(X_train, y_train)
after = clf.transform(X_test)

for name, emb in (("before", before), ("after", after)):
    print(f"silhouette {name} fine-tuning: {silhouette_score(emb, y_test, metric='cosine'):.3f}")
    path = save_figure(plot_embeddings(emb, y_test, method=method, title=f"{name} fine-tuning"),
                       out / f"embeddings_{name}_{method}.png")
    print(f"wrote {path}")
print(f"wrote {save_figure(plot_training_curves(clf, title='G-Loss fit'), out / 'training_curves.png')}")
