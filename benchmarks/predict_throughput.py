"""predict() throughput against a bare AutoModel forward and against fixed padding.

The same N MR test texts, batch size B, all-MiniLM-L6-v2, measured side by
side (the three variants take turns, --repeats rounds, medians reported):

- ``skgloss``: ``GLossTextClassifier.predict`` of a model fitted for one short
  epoch (length-sorted batches, dynamic padding, head included);
- ``bare-dynamic``: ``AutoModel`` forward in input order, each batch padded to
  its longest text, mean pooling, no head;
- ``bare-max-length``: the same, every batch padded to max_length.

Usage: python benchmarks/predict_throughput.py [--n 1000] [--batch-size 64] [--max-length 128]
Writes benchmarks/results/predict_throughput.json.
"""

import argparse
import time

import numpy as np
import torch
from _common import data_home, machine, stratified_sample, write_json

from skgloss import GLossTextClassifier
from skgloss.datasets import load_benchmark
from skgloss.encoder import DEFAULT_MODEL, load_encoder


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    X, y, Xt, _ = load_benchmark("mr", data_home=data_home())
    keep = stratified_sample(y, 200, seed=0)
    clf = GLossTextClassifier(max_length=args.max_length, batch_size=64, max_epochs=1, validation_fraction=0,
                              random_state=0).fit([X[i] for i in keep], [y[i] for i in keep])
    texts = [Xt[i] for i in np.random.default_rng(0).choice(len(Xt), args.n, replace=False)]
    encoder, tokenizer = load_encoder(DEFAULT_MODEL)
    encoder.eval()

    @torch.no_grad()
    def bare(padding):
        out = []
        for i in range(0, len(texts), args.batch_size):
            batch = tokenizer(texts[i:i + args.batch_size], padding=padding, truncation=True,
                              max_length=args.max_length, return_tensors="pt")
            h = encoder(**batch).last_hidden_state
            m = batch["attention_mask"].unsqueeze(-1).float()
            out.append((h * m).sum(1) / m.sum(1))
        return torch.cat(out)

    clf.set_params(batch_size=args.batch_size)
    variants = {"skgloss": lambda: clf.predict(texts), "bare-dynamic": lambda: bare(True),
                "bare-max-length": lambda: bare("max_length")}
    times = {k: [] for k in variants}
    for r in range(args.repeats):
        for k in list(variants)[r % 3:] + list(variants)[:r % 3]:
            t0 = time.perf_counter()
            variants[k]()
            times[k].append(time.perf_counter() - t0)
    rows = {}
    for k, t in times.items():
        med = float(np.median(t))
        rows[k] = {"median_s": med, "texts_per_s": args.n / med,
                   "speedup_of_skgloss": med / float(np.median(times["skgloss"]))}
        print(f"{k:16s} {med:7.2f} s  {args.n / med:7.1f} texts/s  skgloss is {rows[k]['speedup_of_skgloss']:.2f}x "
              "faster" if k != "skgloss" else f"{k:16s} {med:7.2f} s  {args.n / med:7.1f} texts/s")
    path = write_json("predict_throughput.json", {"benchmark": "predict_throughput", "args": vars(args),
                                                  "machine": machine(), "model": DEFAULT_MODEL, "results": rows,
                                                  "raw_seconds": times})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
