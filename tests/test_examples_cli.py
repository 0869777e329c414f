"""Every example and the demo command run end to end in a fast mode (on the tiny local BERT)."""

import json
import math
import re
import subprocess
import sys

import pytest
from conftest import REPO, make_texts

EXAMPLES = sorted(p.name for p in (REPO / "examples").glob("*.py"))
TESTED = {"quickstart.py", "gloss_in_pytorch_loop.py", "semi_supervised.py", "pipeline_grid_search.py",
          "embeddings_search_clustering.py", "embedding_plots.py", "save_load_predict.py", "gloss_in_hf_trainer.py",
          "dask_grid_search.py"}


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
    assert re.search(r"transductive accuracy on the unlabeled rows: [01]\.\d{3}", out.stdout)
    # a random tiny BERT barely separates the labeled classes: the -1 rows are set aside, no graph inference
    set_aside = re.search(r"(\d+) -1 rows set aside \(class separation -?\d\.\d\d\)", out.stdout)
    assert set_aside is None or int(set_aside.group(1)) + int(out.stdout.split(" of 600")[0].split()[-1]) == 600
    for mode in ("head", "graph", "blend"):
        assert (f"held-out accuracy, inference={mode}:" in out.stdout) is (mode == "head" or set_aside is None)
    assert "best parameters: {'lam':" in out.stdout


def test_every_example_is_run_here():
    assert set(EXAMPLES) == TESTED, "add a fast-mode test for each new example"


def test_pipeline_grid_search_example(tiny_bert):
    out = run("examples/pipeline_grid_search.py", "--model", tiny_bert, "--epochs", "1", "--max-length", "16",
              "--n-train", "40")
    assert out.returncode == 0, out.stderr
    candidates = re.findall(r"lam=(\S+), n_neighbors=(\S+): CV accuracy ([0-9.]+)", out.stdout)
    assert {(lam, k) for lam, k, _ in candidates} == {("0.5", "None"), ("0.5", "8"), ("0.8", "None"), ("0.8", "8")}
    assert "best parameters: {'clf__lam':" in out.stdout
    assert re.search(r"held-out accuracy of the refitted pipeline: [0-9.]+", out.stdout)


def test_dask_grid_search_example(tiny_bert):
    """The grid search runs on a local Dask cluster; a model fitted in a worker predicts the same here and there."""
    pytest.importorskip("distributed")
    out = run("examples/dask_grid_search.py", "--model", tiny_bert, "--epochs", "1", "--max-length", "16",
              "--n-train", "40", timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    candidates = re.findall(r"lam=(\S+), n_neighbors=(\S+): CV accuracy ([0-9.]+)", out.stdout)
    assert {(lam, k) for lam, k, _ in candidates} == {("0.5", "None"), ("0.5", "8"), ("0.8", "None"), ("0.8", "8")}
    assert all(0.0 <= float(a) <= 1.0 for *_, a in candidates)
    assert re.search(r"held-out accuracy of the refitted model: [0-9.]+", out.stdout)
    assert re.search(r"fitted in worker process \d+ \(this process: \d+\): True", out.stdout)
    assert "predictions here and in a worker agree: True" in out.stdout


def test_embeddings_search_clustering_example(tiny_bert):
    out = run("examples/embeddings_search_clustering.py", "--model", tiny_bert, "--epochs", "1",
              "--max-length", "16")
    assert out.returncode == 0, out.stderr
    assert "embeddings: (200, 32)" in out.stdout
    assert len(re.findall(r"^  -?[0-9.]+  \[\w+\] ", out.stdout, flags=re.M)) == 6  # 3 neighbours x 2 queries
    aris = re.findall(r"on (pre-trained|fine-tuned) embeddings: adjusted Rand index (-?[0-9.]+)", out.stdout)
    assert [a for a, _ in aris] == ["pre-trained", "fine-tuned"] and all(-1 <= float(v) <= 1 for _, v in aris)


def test_embedding_plots_example(tiny_bert, tmp_path):
    pytest.importorskip("matplotlib")
    out = run("examples/embedding_plots.py", "--model", tiny_bert, "--epochs", "1", "--max-length", "16",
              "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert re.search(r"silhouette before fine-tuning: -?[0-9.]+", out.stdout)
    assert re.search(r"silhouette after fine-tuning: -?[0-9.]+", out.stdout)
    for name in ("embeddings_before_pca.png", "embeddings_after_pca.png", "training_curves.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_save_load_predict_example(tiny_bert, tmp_path):
    out = run("examples/save_load_predict.py", "--model", tiny_bert, "--epochs", "1", "--max-length", "16",
              "--output", str(tmp_path / "m"))
    assert out.returncode == 0, out.stderr
    assert "reloaded model: same labels True, same probabilities True" in out.stdout
    assert "'skgloss.json'" in out.stdout and "'head.safetensors'" in out.stdout


def test_hf_trainer_example_loss_decreases(tiny_bert, tmp_path):
    pytest.importorskip("accelerate")
    X, y = make_texts(40)
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in zip(X, y)))
    out = run("examples/gloss_in_hf_trainer.py", "--model", tiny_bert, "--epochs", "4", "--n-texts", "80",
              "--max-length", "16", "--learning-rate", "1e-3", "--data", str(data))
    assert out.returncode == 0, out.stderr
    losses = [float(v) for v in re.findall(r"^step \d+: loss ([0-9.]+)$", out.stdout, flags=re.M)]
    assert len(losses) >= 4 and all(math.isfinite(v) for v in losses)
    assert sum(losses[-2:]) < sum(losses[:2]) and "loss went down: True" in out.stdout
