"""Helpers shared by the benchmark scripts: data location, machine facts, JSON output."""

import json
import os
import sys
from pathlib import Path

import numpy as np

from skgloss.bench import machine, stratified_sample  # noqa: F401  (re-exported for the scripts)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def data_home():
    """$SKGLOSS_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get("SKGLOSS_DATA")
    return env if env else str(HERE.parent.parent / "shared" / "data")


def write_cell(path, record):
    """Write one run's JSON so that the file exists only once complete (a study resumes by skipping it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str))
    os.replace(tmp, path)


def command_line(script, argv=None):
    """``python benchmarks/<script> <arguments>``: how a study was run, for its summary file."""
    return f"python benchmarks/{script} " + " ".join(sys.argv[1:] if argv is None else argv)


def per_seed(diffs):
    """``+0.2, -1.1, +0.8``: paired differences, one decimal, in seed order."""
    return ", ".join(f"{d:+.1f}" for d in diffs)


def write_json(name, payload):
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(payload, indent=2))
    return path


def clustered(n, d, seed=0):
    """Synthetic embeddings: n rows around 50 Gaussian centres in d dimensions (float32)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(50, d)).astype(np.float32)
    X = centers[rng.integers(0, 50, n)]
    X += 0.8 * rng.standard_normal(size=(n, d), dtype=np.float32)
    return X
