"""Embeddings for semantic search and clustering.

Shows: ``transform`` as an embedding model; semantic search with
scikit-learn ``NearestNeighbors`` (cosine) over the embedded corpus; ``KMeans``
on the embeddings, compared with the true classes by the adjusted Rand index,
for the pre-trained encoder and for the fine-tuned one.
Prints: the embedding shape, the three nearest corpus texts of two queries,
and the clustering agreement (ARI) before and after fine-tuning.

    python examples/embeddings_search_clustering.py                 # all-MiniLM-L6-v2 (skgloss[offline])
    python examples/embeddings_search_clustering.py --model PATH    # any local encoder folder
"""

import argparse

from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import NearestNeighbors

from skgloss import GLossTextClassifier
from skgloss.datasets import load_support_tickets
from skgloss.encoder import embed_texts, load_encoder

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--max-length", type=int, default=64)
args = parser.parse_args()

X_train, y_train = load_support_tickets("train")
corpus, corpus_labels = load_support_tickets("test")

# before fine-tuning: the pre-trained encoder's mean-pooled embeddings
encoder, tokenizer = load_encoder(args.model)
before = embed_texts(encoder, tokenizer, corpus, pooling="mean", max_length=args.max_length, batch_size=64,
                     device="cpu")

clf = GLossTextClassifier(args.model, max_length=args.max_length, max_epochs=args.epochs, random_state=0)
clf.fit(X_train, y_train)
after = clf.transform(corpus)  # (n_texts, hidden_size) document embeddings
print("embeddings:", after.shape)

search = NearestNeighbors(n_neighbors=3, metric="cosine").fit(after)
for query in ("my parcel never arrived", "I cannot log in to my account"):
    dist, idx = search.kneighbors(clf.transform([query]))
    print(f"query: {query!r}")
    for d, i in zip(dist[0], idx[0]):
        print(f"  {1 - d:.3f}  [{corpus_labels[i]}] {corpus[i]}")

k = len(set(corpus_labels))
for name, emb in (("pre-trained", before), ("fine-tuned", after)):
    clusters = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(emb)
    ari = adjusted_rand_score(corpus_labels, clusters)
    print(f"KMeans (k={k}) on {name} embeddings: adjusted Rand index {ari:.3f}")
