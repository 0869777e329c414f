"""Peak memory and time of ``skgloss predict`` as the input grows: flat in rows, bounded in text length.

A model is fitted once, in its own process (all-MiniLM-L6-v2, 200 MR
training texts, one epoch, ``--max-length``), and saved. Each case writes a
CSV of generated texts and runs ``skgloss predict`` on it in a fresh process;
the process's peak resident memory (``ru_maxrss`` of that child alone, from
``os.wait4``) and its wall time are recorded. This script itself never
imports torch: on Linux a child's peak starts at its parent's size when it
is forked.

- ``short-N``: N short texts (5-9 words each, about 40 characters);
- ``long-1000x50k``: 1,000 texts of 50,000 characters each;
- ``long-1000x2k``: its control, 1,000 texts of 2,000 characters (already
  beyond ``max_length=128`` tokens, so the model sees the same lengths):
  what the long case costs beyond it is what text length costs.

Results of earlier runs are kept: a case run again replaces its row.

The CLI reads and predicts 8,192 texts at a time and cuts long texts to a
character budget before tokenizing (:mod:`skgloss.inputs`), so peak memory
should not grow with N or with text length beyond the model's own.

Usage: python benchmarks/memory.py [--cases short-10 short-10000 short-100000 long-1000x2k long-1000x50k short-1000000]
Writes benchmarks/results/memory.json and prints a markdown table.
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WORDS = ("the film is a good bad great dull story plot actor scene music ending long short funny sad "
         "warm cold slow quick bright dark").split()
DEFAULT_CASES = ["short-10", "short-10000", "short-100000", "long-1000x2k", "long-1000x50k", "short-1000000"]


def write_case(case, path, seed=0):
    rng = np.random.default_rng(seed)
    if case.startswith("short-"):
        n, make = int(case.split("-")[1]), lambda: " ".join(rng.choice(WORDS, size=rng.integers(5, 10)))
    else:
        n_chars = int(case.split("x")[1].rstrip("k")) * 1000
        n = int(case.split("-")[1].split("x")[0])
        make = lambda: (" ".join(rng.choice(WORDS, size=n_chars // 4)))[:n_chars]  # noqa: E731
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text"])
        for _ in range(n):
            w.writerow([make()])
    return n, path.stat().st_size


def run_case(model_dir, csv_path, out_path):
    """``skgloss predict`` in its own process: (seconds, peak RSS in MiB, exit status)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "skgloss", "predict", str(model_dir), str(csv_path),
                             "-o", str(out_path), "--quiet"])
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    peak = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    return seconds, peak, os.waitstatus_to_exitcode(status)


def fit_model(folder, max_length):
    """In a child process: fit and save the model, print the machine facts as JSON."""
    import json

    from _common import data_home, machine, stratified_sample

    from skgloss import GLossTextClassifier
    from skgloss.datasets import load_benchmark

    X, y, _, _ = load_benchmark("mr", data_home=data_home())
    keep = stratified_sample(y, 200, seed=0)
    GLossTextClassifier(max_length=max_length, max_epochs=1, validation_fraction=0, random_state=0).fit(
        [X[i] for i in keep], [y[i] for i in keep]).save_pretrained(folder)
    print(json.dumps(machine()))


def main():
    import json

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", nargs="+", default=DEFAULT_CASES)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--fit-model", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.fit_model:
        return fit_model(args.fit_model, args.max_length)

    out = Path(__file__).resolve().parent / "results" / "memory.json"
    earlier = json.loads(out.read_text()) if out.exists() else {}
    rows = [r for r in earlier.get("cases", []) if r["case"] not in args.cases
            and earlier.get("max_length") == args.max_length]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fitted = subprocess.run([sys.executable, __file__, "--fit-model", str(tmp / "model"), "--max-length",
                                 str(args.max_length)], capture_output=True, text=True, check=True)
        facts = json.loads(fitted.stdout.strip().splitlines()[-1])
        for case in args.cases:
            n, size = write_case(case, tmp / "input.csv")
            seconds, peak, code = run_case(tmp / "model", tmp / "input.csv", tmp / "pred.csv")
            rows.append({"case": case, "rows": n, "input_mib": size / 2**20, "seconds": seconds,
                         "peak_rss_mib": peak, "exit_status": code})
            print(f"{case}: {n} rows, {size / 2**20:.1f} MiB in, {seconds:.1f} s, peak RSS {peak:.0f} MiB "
                  f"(exit {code})", flush=True)
            (tmp / "input.csv").unlink()
            # written after every case, so a long run that is stopped keeps the cases it finished
            out.write_text(json.dumps({"max_length": args.max_length,
                                       "model": "sentence-transformers/all-MiniLM-L6-v2",
                                       "cases": rows, "machine": facts}, indent=2))
    print("\n| case | rows | input (MiB) | peak RSS (MiB) | seconds |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['rows']:,} | {r['input_mib']:.1f} | {r['peak_rss_mib']:.0f} | {r['seconds']:.0f} |")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    sys.exit(main())
