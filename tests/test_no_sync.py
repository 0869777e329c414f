"""A training step must never make the host wait for the device.

On a GPU the host queues a step's kernels and goes on to the next batch;
any read of a device value (``.item()``, ``int()``, ``bool()`` of a tensor)
or any operation whose output shape depends on the data (``nonzero``,
boolean indexing, ``unique``) stops it until the device catches up. These
tests record every aten operation a step runs and fail on those, so they
hold on any machine, the CPU included.
"""

import numpy as np
import pytest
import torch
from conftest import make_texts
from torch.utils._python_dispatch import TorchDispatchMode

from skgloss.losses import GLoss, NeighbourKLLoss, SupConLoss, g_loss, labeled_cross_entropy, soft_cross_entropy

#: aten operations that read a device value on the host or have data-dependent shapes
SYNCING = ("_local_scalar_dense", "nonzero", "masked_select", "_unique", "unique_dim", "unique_consecutive",
           "index_with_bool", "is_nonzero", "item")


class RecordOps(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name.startswith("index") and len(args) > 1 and isinstance(args[1], (list, tuple)) and any(
                isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1]):
            name = "index_with_bool"  # boolean indexing: on the CPU the kernel runs nonzero itself
        self.ops.append(name)
        return func(*args, **(kwargs or {}))

    def syncing(self):
        return sorted({op for op in self.ops if any(s in op for s in SYNCING)})


def test_the_recorder_catches_syncs():
    x = torch.randn(5)
    with RecordOps() as rec:
        float(x.sum())
        x[x > 0]
    assert rec.syncing() == ["_local_scalar_dense", "index_with_bool"]


@pytest.mark.parametrize("labels", [[0, 0, 0, 1, 1, 1, -1, -1], [0, 1, 2, 3, -1, -1, -1, -1],
                                    [-1] * 8, [0, 0, 1, 1, 2, 2, 3, 3]])
def test_g_loss_forward_and_backward_do_not_sync(labels):
    h = torch.randn(8, 6, requires_grad=True)
    y = torch.tensor(labels)
    gen = torch.Generator().manual_seed(0)
    with RecordOps() as rec:
        loss = g_loss(h, y, sigma=0.5, n_neighbors=3, class_weight=torch.ones(4), generator=gen)
        loss.backward()
    assert rec.syncing() == []
    assert torch.isfinite(loss) and torch.isfinite(h.grad).all()


def test_other_losses_do_not_sync():
    h = torch.randn(8, 6, requires_grad=True)
    logits = torch.randn(8, 3, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1, 2, -1, -1, -1])
    with RecordOps() as rec:
        total = labeled_cross_entropy(logits, y) + SupConLoss(lam=0.5)(h, y, logits)
        total = total + soft_cross_entropy(logits, torch.full((8, 3), 1 / 3), y < 0)
        total = total + NeighbourKLLoss().terms(logits, y, torch.full((8, 2, 3), 1 / 3), torch.ones(8, 2))["loss"]
        total.backward()
    assert rec.syncing() == []


def test_gloss_counts_without_syncing_and_reads_them_on_demand():
    module = GLoss(lam=0.5, sigma=0.5, seed=0)
    h = torch.randn(6, 4)
    with RecordOps() as rec:
        module(h, torch.tensor([0, 0, 0, 1, 1, 1]), torch.randn(6, 2))
        module(h, torch.tensor([0, 1, -1, -1, -1, -1]), torch.randn(6, 2))
    assert rec.syncing() == []
    assert module.n_degenerate == 1 and module.n_batches == 2
    assert module.n_used == module.n_masked == 2  # 3 rows a class, γ = 0.7: 2 kept, 1 masked, each reached


@pytest.mark.parametrize("loss, unlabeled", [("gloss", False), ("gloss", True), ("kl", True), ("ce", False)])
def test_a_whole_training_step_does_not_sync(tiny_bert, loss, unlabeled):
    from skgloss.corpus import CorpusGraph, NoCorpusGraph
    from skgloss.devices import grad_scaler
    from skgloss.encoder import accepts_4d_mask, load_encoder
    from skgloss.inputs import TokenizedTexts, device_batches
    from skgloss.training import EpochSchedule, TrainingConfig, _optimizer, make_objective, training_step

    X, y = make_texts(2, n_words=6)
    X2, y2 = make_texts(2, n_words=3)  # shorter texts: the batch is padded
    X, y = X + X2, (np.r_[y, y2] == "vehicle").astype(np.int64)
    if unlabeled:
        y[::3] = -1
    enc, tok = load_encoder(tiny_bert)
    head = torch.nn.Linear(32, 2)
    device = torch.device("cpu")
    config = TrainingConfig(loss=loss, sigma=0.5, batch_size=8)
    hook = NoCorpusGraph()
    if unlabeled or loss == "kl":
        hook = CorpusGraph(np.random.default_rng(0).normal(size=(8, 32)), y, 2, n_neighbors=3, sigma=0.5,
                           threshold=0.5).refresh().attach(device)
    tokens = TokenizedTexts(tok, X, 16)
    params = list(enc.parameters()) + list(head.parameters())
    opt, sched = _optimizer(params, config, EpochSchedule(4, 1, config.warmup_ratio), device)
    objective = make_objective(config)
    (_, batch), = list(device_batches(tokens, [np.arange(8)], device, extra={"labels": y}))
    assert (batch["attention_mask"] == 0).any()
    assert accepts_4d_mask(enc, batch, "mean")
    with RecordOps() as rec:
        terms, _ = training_step(enc, head, objective, hook, batch, config, device, opt, sched,
                                 grad_scaler(device, "fp32"), params, mask_4d=True)
    assert rec.syncing() == []
    assert torch.isfinite(terms["loss"])
