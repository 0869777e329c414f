"""One process of the data-parallel tests (tests/test_distributed.py), run under torchrun.

Usage: python -m torch.distributed.run --nproc_per_node 2 tests/distributed_worker.py SCENARIO MODEL OUT

Every scenario runs on the CPU (gloo), whatever the machine has, and writes
what the test compares to ``OUT/rank<r>.pt``.
"""

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import make_texts  # noqa: E402

from skgloss import GLossTextClassifier  # noqa: E402

CPU = torch.device("cpu")


def step_gradients(model, batch_size, n_ranks):
    """Loss and gradients of one training step on rows 0..batch_size-1 (no dropout, same masks).

    With ``n_ranks`` > 1 (inside a launch), each process embeds its share;
    with 1, this process embeds the whole batch.
    """
    from skgloss.corpus import NoCorpusGraph
    from skgloss.distributed import DataParallel
    from skgloss.encoder import load_encoder
    from skgloss.inputs import TokenizedTexts, device_batches
    from skgloss.losses import GLoss
    from skgloss.training import TrainingConfig, _shared_batches, training_step

    texts, labels = make_texts(n_per_class=batch_size)
    y = (labels == "vehicle").astype(np.int64)
    y[1::5] = -1  # unlabeled rows in the batch graph too
    encoder, tokenizer = load_encoder(model)
    encoder.eval()  # no dropout: the two runs see the same network
    torch.manual_seed(0)
    head = torch.nn.Linear(encoder.config.hidden_size, 2)
    tokens = TokenizedTexts(tokenizer, texts, 32)
    config = TrainingConfig(max_grad_norm=None)
    objective = GLoss(lam=0.8, gamma=0.5, sigma=1.0, seed=0)
    params = [p for m in (encoder, head) for p in m.parameters()]
    recorded = {}

    class Recorder(torch.optim.SGD):  # records the gradients the step would apply, changes nothing
        def step(self, closure=None):
            recorded["grads"] = [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in params]

    opt = Recorder(params, lr=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    rows = np.arange(batch_size)
    extra = {"labels": y}
    with DataParallel.launch(CPU) as dp:
        assert (dp is None) == (n_ranks == 1)
        if dp is None:
            (_, batch), sizes = next(iter(device_batches(tokens, [rows], CPU, extra=extra))), None
        else:
            batch, sizes = next(_shared_batches(dp, tokens, [rows], CPU, extra))
        terms, _ = training_step(encoder, head, objective, NoCorpusGraph(), batch, config, CPU, opt, sched, scaler,
                                 params, dp=dp, sizes=sizes)
    return {"loss": terms["loss"].detach(), "gloss": terms["gloss"].detach(), "grads": recorded["grads"]}


def fits(model):
    """A supervised and a semi-supervised (corpus graph) fit; what each process ends with."""
    texts, labels = make_texts(n_per_class=24, seed=1)
    test_texts, _ = make_texts(n_per_class=10, seed=2)
    out = {}
    for name, y in (("labeled", labels), ("semi", np.where(np.arange(len(labels)) % 3 == 0, labels, -1))):
        clf = GLossTextClassifier(model, max_length=16, batch_size=8, max_epochs=2, device="cpu", random_state=0,
                                  validation_fraction=0.25 if name == "labeled" else "auto", n_neighbors=5,
                                  verbose=1 if name == "labeled" else 0)
        clf.fit(texts, y)
        out[name] = {"proba": clf.predict_proba(test_texts), "world_size": clf.world_size_,
                     "best_epoch": clf.best_epoch_, "history": clf.history_,
                     "transduction": getattr(clf, "transduction_", None), "inference": clf.inference_}
    # labels the texts do not predict, too few rows to hold out: the -1 rows set aside and the step budget,
    # decided on rank 0's separation
    import skgloss.classifier

    skgloss.classifier._STEP_BUDGET = 12
    clf = GLossTextClassifier(model, max_length=16, batch_size=8, max_epochs=1, device="cpu", random_state=0)
    clf.fit(texts, np.where(np.arange(len(labels)) % 3 == 2, -1, np.random.default_rng(1).permutation(labels)))
    out["budget"] = {"proba": clf.predict_proba(test_texts), "world_size": clf.world_size_, "n_iter": clf.n_iter_,
                     "cv": clf.cv_results_}
    return out


def checkpointed(model, out):
    """A fit that checkpoints (rank 0 writes), then the same fit resumed from its last checkpoint."""
    import os

    texts, labels = make_texts(n_per_class=16, seed=4)
    params = dict(max_length=16, batch_size=8, max_epochs=2, device="cpu", random_state=0, validation_fraction=0.25)
    folder = out / "ckpt"
    first = GLossTextClassifier(model, **params).fit(texts, labels, checkpoint_dir=folder)
    listing = sorted(p.name for p in folder.iterdir())
    resumed = GLossTextClassifier(model, **params).fit(texts, labels, checkpoint_dir=folder, resume=True)
    return {"listing": listing, "first": first.predict_proba(texts), "resumed": resumed.predict_proba(texts),
            "n_iter": (first.n_iter_, resumed.n_iter_), "rank_env": os.environ["RANK"]}


def rank_raises(model):
    """Rank 1's callback raises after its first epoch; rank 0 must not wait forever."""
    import torch.distributed as dist

    class Fails:
        def on_epoch_end(self, epoch, record):
            if dist.get_rank() == 1:
                raise RuntimeError("rank 1 failed on purpose")

    texts, labels = make_texts(n_per_class=16)
    GLossTextClassifier(model, max_length=16, batch_size=8, max_epochs=3, device="cpu", callbacks=[Fails()],
                        validation_fraction=0, random_state=0).fit(texts, labels)


def other_data(model):
    """Rank 1 is given other labels than rank 0."""
    import os

    texts, labels = make_texts(n_per_class=16)
    if os.environ["RANK"] == "1":
        labels = labels[::-1]
    GLossTextClassifier(model, max_length=16, batch_size=8, max_epochs=1, device="cpu",
                        random_state=0).fit(texts, labels)


def main():
    import os

    scenario, model, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    rank = int(os.environ.get("RANK", "0"))
    if scenario == "step":
        result = step_gradients(model, batch_size=int(sys.argv[4]), n_ranks=int(os.environ.get("WORLD_SIZE", 1)))
    elif scenario == "fits":
        result = fits(model)
    elif scenario == "checkpoint":
        result = checkpointed(model, out)
    elif scenario == "raises":
        result = rank_raises(model)
    elif scenario == "other-data":
        try:
            other_data(model)
            result = {"error": None}
        except ValueError as exc:
            result = {"error": str(exc)}
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    torch.save(result, out / f"rank{rank}.pt")


if __name__ == "__main__":
    main()
