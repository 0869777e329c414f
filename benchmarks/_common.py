"""Helpers shared by the benchmark scripts: data location, machine facts, JSON output."""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def data_home():
    """$SKGLOSS_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get("SKGLOSS_DATA")
    return env if env else str(HERE.parent.parent / "shared" / "data")


def machine():
    import torch

    import skgloss

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "skgloss": skgloss.__version__, "git_commit": commit, "python": sys.version.split()[0],
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
    }


def stratified_sample(labels, n, seed):
    """Indices of n rows, stratified by label, in a seeded random order."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    if n >= len(labels):
        return np.random.default_rng(seed).permutation(idx)
    picked, _ = train_test_split(idx, train_size=n, stratify=np.asarray(labels), random_state=seed)
    return picked


def write_json(name, payload):
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(payload, indent=2))
    return path
