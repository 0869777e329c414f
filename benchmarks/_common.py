"""Helpers shared by the benchmark scripts: data location, machine facts, JSON output."""

import json
import os
from pathlib import Path

from skgloss.bench import machine, stratified_sample  # noqa: F401  (re-exported for the scripts)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def data_home():
    """$SKGLOSS_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get("SKGLOSS_DATA")
    return env if env else str(HERE.parent.parent / "shared" / "data")


def write_json(name, payload):
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(payload, indent=2))
    return path
