"""Data-parallel fits: 2 processes against 1, with the same global batch, from the README's commands.

An MR subset (``--n-train`` stratified training texts, ``--n-test`` test
texts, seed 0) is written as CSV files; for each seed, the README's commands
fit all-MiniLM-L6-v2 on it

- in one process: ``skgloss fit train.csv --output M ...``;
- in two: ``torchrun --standalone --nproc_per_node 2 -m skgloss fit train.csv --output M ...``
  (run here as ``python -m torch.distributed.run``, which is what ``torchrun`` is),

with the same parameters (``batch_size`` is the global batch: each of the two
processes embeds half of every batch), and ``skgloss evaluate M test.csv``
scores the saved model. One JSON file per (processes, seed) under
``benchmarks/results/runs/data_parallel/``; finished cells are not run again.
``--render`` writes ``benchmarks/results/data_parallel.md``.

On a CPU the two processes share its cores (torchrun gives each one thread),
so the fit times say what the extra communication costs, not what a second
device buys.

Usage::

    python benchmarks/data_parallel.py --seeds 0 1 2
    python benchmarks/data_parallel.py --render
"""

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS, data_home, machine, write_cell  # noqa: E402

from skgloss.bench import subset  # noqa: E402

RUNS = RESULTS / "runs" / "data_parallel"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PARAMS = ["--model", MODEL, "--max-length", "64", "--batch-size", "32", "--max-epochs", "2", "--device", "cpu"]


def write_split(folder, n_train, n_test, data):
    from skgloss.datasets import load_benchmark

    X, y, Xt, yt = load_benchmark("mr", data_home=data)
    paths = {}
    for name, texts, labels, n in (("train", X, y, n_train), ("test", Xt, yt, n_test)):
        rows = subset(labels, n, seed=0)
        paths[name] = Path(folder) / f"{name}.csv"
        with open(paths[name], "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            w.writerows([texts[i], labels[i]] for i in rows)
    return paths


def run_cell(procs, seed, paths, folder):
    model = Path(folder) / f"model_{procs}_{seed}"
    fit = ["-m", "skgloss", "fit", str(paths["train"]), "--output", str(model), "--random-state", str(seed),
           "--quiet", *PARAMS]
    if procs > 1:
        fit = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs), *fit]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *fit], check=True)
    fit_s = time.perf_counter() - t0
    report = Path(folder) / f"report_{procs}_{seed}.json"
    subprocess.run([sys.executable, "-m", "skgloss", "evaluate", str(model), str(paths["test"]), "-o", str(report)],
                   check=True, stdout=subprocess.DEVNULL)
    meta = json.loads((model / "skgloss.json").read_text()) if (model / "skgloss.json").is_file() else {}
    return {"processes": procs, "seed": seed, "test_accuracy": json.loads(report.read_text())["accuracy"],
            "fit_seconds": fit_s, "world_size_": meta.get("world_size_"), "best_epoch_": meta.get("best_epoch_"),
            "command": " ".join(["python", *fit]), "machine": machine()}


def render(out=RESULTS / "data_parallel.md"):
    recs = [json.loads(p.read_text()) for p in sorted(RUNS.glob("*.json"))]
    by = {(r["processes"], r["seed"]): r for r in recs}
    seeds = sorted({s for p, s in by if (1, s) in by and (2, s) in by})
    lines = ["# Data-parallel fits: 2 processes against 1", "",
             "MR subset (1,000 training texts, 500 test texts, stratified, seed 0), all-MiniLM-L6-v2, max_length 64, "
             "global batch 32, 2 epochs, CPU (gloo). `python benchmarks/data_parallel.py`; each cell is the README's "
             "`skgloss fit` command (under `torchrun --nproc_per_node 2` for two processes), scored by "
             "`skgloss evaluate`. Rendered by `python benchmarks/data_parallel.py --render`.", "",
             "## Test accuracy (%) and fit seconds, 1 and 2 processes", "",
             "| seed | 1 process | 2 processes | difference (2 − 1) | world_size_ | fit s (1 / 2) |",
             "|---|---|---|---|---|---|"]
    diffs = []
    for s in seeds:
        a, b = by[(1, s)], by[(2, s)]
        d = 100 * (b["test_accuracy"] - a["test_accuracy"])
        diffs.append(d)
        lines.append(f"| {s} | {100 * a['test_accuracy']:.2f} | {100 * b['test_accuracy']:.2f} | {d:+.2f} | "
                     f"{a['world_size_']} / {b['world_size_']} | {a['fit_seconds']:.0f} / {b['fit_seconds']:.0f} |")
    if seeds:
        one = [100 * by[(1, s)]["test_accuracy"] for s in seeds]
        two = [100 * by[(2, s)]["test_accuracy"] for s in seeds]
        sd = (lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0)  # sample std, as the other tables
        lines += ["", f"Mean over seeds {seeds}: 1 process {np.mean(one):.2f} ± {sd(one):.2f}, "
                      f"2 processes {np.mean(two):.2f} ± {sd(two):.2f}; paired difference {np.mean(diffs):+.2f} "
                      f"(seed spread of 1 process: ± {sd(one):.2f}). The fit seconds are not a timing "
                      "comparison: both kinds of fit share the same 2 CPU cores, and some cells ran beside other "
                      "jobs (each file records its machine); what several GPUs buy is not measured here."]
    out.write_text("\n".join(lines) + "\n")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--n-train", type=int, default=1000)
    p.add_argument("--n-test", type=int, default=500)
    p.add_argument("--data-home", default=data_home())
    p.add_argument("--render", action="store_true")
    args = p.parse_args(argv)
    if not args.render:
        with tempfile.TemporaryDirectory() as folder:
            paths = write_split(folder, args.n_train, args.n_test, args.data_home)
            for seed in args.seeds:
                for procs in (1, 2):
                    path = RUNS / f"procs{procs}__seed{seed}.json"
                    if path.is_file():
                        continue
                    rec = run_cell(procs, seed, paths, folder)
                    write_cell(path, rec)
                    print(f"{procs} process(es), seed {seed}: {rec['test_accuracy']:.4f} ({rec['fit_seconds']:.0f} s)",
                          flush=True)
    print(render().read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
