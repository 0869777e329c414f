"""kill -9 during a checkpointed MiniLM fit on an MR subset, then resume: the same predictions as an uninterrupted fit?

Three fits of all-MiniLM-L6-v2 on the same MR subset (``--n-train`` texts
drawn per class-stratified sample, seed 0; the estimator's defaults apart
from ``--max-epochs``, ``--max-length``, ``random_state=0`` and
``device="cpu"``; with more than 300 texts the default validation split
holds out 10 %), each in its own process:

1. with ``checkpoint_dir``; once the first checkpoint is on disk, the
   process is killed with SIGKILL ``--kill-after`` seconds later (in the
   middle of a later epoch), with no chance to clean up;
2. ``resume=True`` from that folder;
3. the same fit without checkpoints, uninterrupted.

Fits 2 and 3 predict the first ``--n-test`` MR test texts; the script
records whether their predictions and probabilities are identical.

Usage: python benchmarks/resume_after_kill.py [--n-train 400 --n-test 500 --max-epochs 3 --kill-after 20]
Writes benchmarks/results/resume_after_kill.json.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def child(args):
    """One fit (and, unless killed, the predictions on the test texts) in this process."""
    from _common import data_home, stratified_sample

    from skgloss import GLossTextClassifier
    from skgloss.datasets import load_benchmark

    X, y, X_test, _ = load_benchmark("mr", data_home=data_home())
    keep = stratified_sample(y, args.n_train, seed=0)
    clf = GLossTextClassifier(max_epochs=args.max_epochs, max_length=args.max_length, random_state=0,
                              device="cpu")
    start = time.perf_counter()
    clf.fit([X[i] for i in keep], [y[i] for i in keep], checkpoint_dir=args.checkpoint_dir,
            resume=args.resume)
    np.save(args.out, clf.predict_proba(list(X_test[:args.n_test])))
    json.dump({"seconds": time.perf_counter() - start, "history": clf.history_, "best_epoch": clf.best_epoch_},
              open(str(args.out) + ".json", "w"))


def run(args, out, *extra):
    cmd = [sys.executable, __file__, "--child", "--out", str(out), "--n-train", str(args.n_train),
           "--n-test", str(args.n_test), "--max-epochs", str(args.max_epochs), "--max-length",
           str(args.max_length), *extra]
    return subprocess.Popen(cmd)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", type=int, default=400)
    p.add_argument("--n-test", type=int, default=500)
    p.add_argument("--max-epochs", type=int, default=3)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--kill-after", type=float, default=20.0,
                   help="seconds after the first checkpoint appears")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--checkpoint-dir", help=argparse.SUPPRESS)
    p.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)

    import torch
    from _common import machine, write_json

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = tmp / "ckpt"
        proc = run(args, tmp / "killed.npy", "--checkpoint-dir", str(ckpt))
        while not (ckpt / "training_state.pt").exists():
            if proc.poll() is not None:
                raise SystemExit("the checkpointed fit ended before its first checkpoint")
            time.sleep(0.2)
        time.sleep(args.kill_after)
        if proc.poll() is not None:
            raise SystemExit("the checkpointed fit ended before the kill: raise --max-epochs or lower --kill-after")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        state = torch.load(ckpt / "training_state.pt", map_location="cpu", weights_only=True)
        killed_after = int(state["epoch"])
        print(f"killed (exit {proc.returncode}) with the checkpoint of epoch {killed_after} on disk", flush=True)
        del state
        for name, extra in (("resumed", ["--checkpoint-dir", str(ckpt), "--resume"]), ("whole", [])):
            if run(args, tmp / f"{name}.npy", *extra).wait() != 0:
                raise SystemExit(f"the {name} fit failed")
        resumed, whole = np.load(tmp / "resumed.npy"), np.load(tmp / "whole.npy")
        info = {name: json.load(open(tmp / f"{name}.npy.json")) for name in ("resumed", "whole")}
    payload = {
        "model": "sentence-transformers/all-MiniLM-L6-v2", "dataset": "mr",
        "n_train": args.n_train, "n_test": args.n_test, "max_epochs": args.max_epochs,
        "max_length": args.max_length, "kill_after_s": args.kill_after, "kill_exit_status": proc.returncode,
        "checkpoint_epoch_at_kill": killed_after,
        "epochs_trained_after_resume": [r["epoch"] for r in info["resumed"]["history"] if r["epoch"] > killed_after],
        "best_epoch": {k: v["best_epoch"] for k, v in info.items()},
        "identical_probabilities": bool(np.array_equal(resumed, whole)),
        "max_abs_probability_difference": float(np.max(np.abs(resumed - whole))),
        "same_predictions": int(np.sum(resumed.argmax(1) == whole.argmax(1))),
        "machine": machine(),
    }
    path = write_json("resume_after_kill.json", payload)
    print(json.dumps({k: v for k, v in payload.items() if k != "machine"}, indent=1))
    print(f"wrote {path}")
    return 0 if payload["identical_probabilities"] else 1


if __name__ == "__main__":
    sys.exit(main())
