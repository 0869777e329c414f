"""The examples and the command line run end to end (on the tiny local BERT)."""

import math
import re
import subprocess
import sys

from conftest import REPO


def run(*args, timeout=300):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_cli_demo_prints_held_out_accuracy(tiny_bert):
    out = run("-m", "skgloss", "demo", "--model", tiny_bert, "--epochs", "1", "--quiet")
    assert out.returncode == 0, out.stderr
    m = re.search(r"held-out accuracy: ([0-9.]+) \((\d+)/200\)", out.stdout)
    assert m and 0.0 <= float(m.group(1)) <= 1.0
    assert "600 training and 200 test texts, 4 classes" in out.stdout


def test_cli_rejects_unknown_command():
    out = run("-m", "skgloss", "train-everything")
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_quickstart_example(tiny_bert):
    out = run("examples/quickstart.py", "--model", tiny_bert, "--epochs", "1", "--max-length", "32")
    assert out.returncode == 0, out.stderr
    assert "held-out accuracy:" in out.stdout
    assert "embeddings: (5, 32)" in out.stdout
    assert "reloaded model predicts the same: True" in out.stdout


def test_pytorch_loop_example(tiny_bert):
    out = run("examples/gloss_in_pytorch_loop.py", "--model", tiny_bert, "--epochs", "2", "--n-texts", "64")
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("epoch")]
    assert len(lines) == 2
    for line in lines:
        values = dict(kv.split("=") for kv in line.split(": ")[1].split(", "))
        assert set(values) == {"ce", "gloss", "loss"}
        assert all(math.isfinite(float(v)) for v in values.values())


def test_semi_supervised_example(tiny_bert):
    out = run("examples/semi_supervised.py", "--model", tiny_bert, "--epochs", "1", "--max-length", "32",
              "--label-fraction", "0.3")
    assert out.returncode == 0, out.stderr
    assert re.search(r"\d+ of 600 training rows labeled", out.stdout)
    for mode in ("head", "graph", "blend"):
        assert f"held-out accuracy, inference={mode}:" in out.stdout
    assert "best parameters: {'lam':" in out.stdout
