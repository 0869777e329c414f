"""G-Loss in your own PyTorch training loop (no estimator).

Shows: ``skgloss.losses.GLoss`` on pooled outputs of a Hugging Face
``AutoModel`` plus a linear head, one encoder pass per step, ``-1`` rows as
unlabeled graph nodes. Prints the loss terms per epoch; they go down.

    python examples/gloss_in_pytorch_loop.py                 # all-MiniLM-L6-v2 (skgloss[offline])
    python examples/gloss_in_pytorch_loop.py --model PATH    # any local encoder folder
"""

import argparse

import torch
from transformers import AutoModel, AutoTokenizer

from skgloss.datasets import load_support_tickets
from skgloss.encoder import resolve_model_path
from skgloss.losses import GLoss

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--n-texts", type=int, default=192)
args = parser.parse_args()

torch.manual_seed(0)
texts, labels = load_support_tickets("train")
texts, labels = texts[:args.n_texts], labels[:args.n_texts]
classes = sorted(set(labels))
y = torch.tensor([classes.index(label) for label in labels])
y[::4] = -1  # a quarter of the rows unlabeled: graph nodes only, no CE

path = resolve_model_path(args.model)
tokenizer = AutoTokenizer.from_pretrained(path)
encoder = AutoModel.from_pretrained(path)
head = torch.nn.Linear(encoder.config.hidden_size, len(classes))
optimizer = torch.optim.AdamW(list(encoder.parameters()) + list(head.parameters()), lr=5e-5)
loss_fn = GLoss(lam=0.8, gamma=0.7, sigma=0.65, seed=0)

for epoch in range(args.epochs):
    totals = {}
    order = torch.randperm(len(texts))
    for start in range(0, len(texts), 32):
        idx = order[start:start + 32]
        batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=64,
                          return_tensors="pt")
        out = encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        h = (out * mask).sum(1) / mask.sum(1)  # mean pooling
        terms = loss_fn.terms(h, y[idx], head(h))  # {"ce", "gloss", "loss"}
        terms["loss"].backward()
        optimizer.step()
        optimizer.zero_grad()
        for k, v in terms.items():
            totals[k] = totals.get(k, 0.0) + float(v) / -(-len(texts) // 32)
    print(f"epoch {epoch + 1}: " + ", ".join(f"{k}={v:.4f}" for k, v in totals.items()))
