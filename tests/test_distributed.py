"""Data-parallel fits: 2 processes on the CPU (gloo), launched with torchrun, on the tiny BERT.

Each test launches ``tests/distributed_worker.py`` under
``python -m torch.distributed.run --nproc_per_node 2`` and compares what the
two processes wrote (and, for one training step, what a single process
computes on the whole batch).
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

HERE = Path(__file__).resolve().parent
WORKER = HERE / "distributed_worker.py"

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch has no torch.distributed")


def launch(scenario, model, out, *extra, timeout=240):
    """Run the worker on 2 processes; returns the finished process (output captured)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                             "MASTER_PORT")}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(WORKER), scenario, model, str(out), *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def results(out):
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


def test_two_processes_compute_the_step_of_one_process_on_the_global_batch(tiny_bert, tmp_path, monkeypatch):
    """Loss and gradients of 2 ranks x 7 rows equal 1 process x 14 rows (same rows, same masks) to 1e-5."""
    sys.path.insert(0, str(HERE))
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    from distributed_worker import step_gradients

    single = step_gradients(tiny_bert, batch_size=14, n_ranks=1)
    proc = launch("step", tiny_bert, tmp_path, "14")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = results(tmp_path)
    assert float(single["gloss"]) > 0  # the graph term is really there
    for r in ranks:
        torch.testing.assert_close(r["loss"], single["loss"], atol=1e-5, rtol=0)
        torch.testing.assert_close(r["gloss"], single["gloss"], atol=1e-5, rtol=0)
        assert len(r["grads"]) == len(single["grads"])
        for g, ref in zip(r["grads"], single["grads"]):
            torch.testing.assert_close(g, ref, atol=1e-5, rtol=1e-4)
    # the encoder did receive gradients through the gather (not only the head)
    assert max(float(g.abs().max()) for g in ranks[0]["grads"][:-2]) > 0


def test_a_two_process_fit_ends_with_the_same_model_on_both_ranks(tiny_bert, tmp_path):
    proc = launch("fits", tiny_bert, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0, rank1 = results(tmp_path)
    for name in ("labeled", "semi"):
        a, b = rank0[name], rank1[name]
        assert a["world_size"] == b["world_size"] == 2
        np.testing.assert_array_equal(a["proba"], b["proba"])
        assert a["best_epoch"] == b["best_epoch"]
        assert [e["epoch"] for e in a["history"]] == [e["epoch"] for e in b["history"]]
    semi = rank0["semi"]
    assert semi["inference"] == "blend"  # the -1 fit kept its corpus graph
    assert semi["transduction"] is not None and len(semi["transduction"]) == 48
    np.testing.assert_array_equal(semi["transduction"], rank1["semi"]["transduction"])
    # only rank 0 logs (the labeled fit is verbose): its per-epoch lines come once
    assert proc.stderr.count("[skgloss] epoch 1:") == 1, proc.stderr[-3000:]
    # a few-row fit: both ranks set the -1 rows aside and took the step budget, on one class separation, to one
    # model
    a, b = rank0["budget"], rank1["budget"]
    assert a["cv"] == b["cv"] and a["cv"]["n_folds"] == 0 and a["cv"]["class_separation"] < 0.35
    assert a["cv"]["unlabeled_set_aside"] == 16
    assert a["world_size"] == 2 and a["n_iter"] == b["n_iter"] == a["cv"]["schedule_epochs"] > 1
    np.testing.assert_array_equal(a["proba"], b["proba"])


def test_rank_zero_writes_the_checkpoint_and_every_rank_resumes_from_it(tiny_bert, tmp_path):
    proc = launch("checkpoint", tiny_bert, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0, rank1 = results(tmp_path)
    assert rank0["listing"] == rank1["listing"] and "training_state.pt" in rank0["listing"]
    assert not [p for p in (tmp_path / "ckpt").iterdir() if p.name.endswith(".tmp")]  # no half-written file
    for r in (rank0, rank1):
        np.testing.assert_array_equal(r["resumed"], r["first"])  # the finished fit, taken back from its checkpoint
    np.testing.assert_array_equal(rank0["first"], rank1["first"])
    assert rank0["n_iter"] == rank1["n_iter"]


def test_a_rank_that_raises_stops_the_other_with_its_error(tiny_bert, tmp_path):
    proc = launch("raises", tiny_bert, tmp_path, timeout=180)  # a hang would fail here
    assert proc.returncode != 0
    assert "rank 1 failed on purpose" in proc.stderr + proc.stdout


def test_processes_given_different_data_are_told_so(tiny_bert, tmp_path):
    proc = launch("other-data", tiny_bert, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for r in results(tmp_path):
        assert r["error"] is not None
        assert "same X, y and sample_weight on every process" in r["error"] and "rank(s) [1]" in r["error"]


def test_a_single_process_fit_records_world_size_one(tiny_bert, toy_data, monkeypatch):
    from skgloss import GLossTextClassifier

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    X, y = toy_data
    clf = GLossTextClassifier(tiny_bert, max_length=16, batch_size=8, max_epochs=1, device="cpu",
                              random_state=0).fit(X, y)
    assert clf.world_size_ == 1
    assert not torch.distributed.is_initialized()


def test_a_parameter_without_a_gradient_keeps_none_so_adamw_leaves_it_alone(tmp_path):
    """BERT's pooler takes no part in mean or CLS pooling: its gradient is None, and AdamW skips it in a
    one-process fit. The averaging made it zeros, and weight decay then shrank the pooler at every step."""
    import torch.distributed as dist

    from skgloss.distributed import DataParallel

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        used, unused = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
        used.grad = torch.tensor([1.0, 2.0, 3.0])
        DataParallel(torch.device("cpu")).average_gradients([used, unused])
        assert unused.grad is None and torch.equal(used.grad, torch.tensor([1.0, 2.0, 3.0]))
        before = unused.detach().clone()
        torch.optim.AdamW([used, unused], lr=0.1, weight_decay=0.5).step()
        assert torch.equal(unused.detach(), before)
    finally:
        dist.destroy_process_group()
