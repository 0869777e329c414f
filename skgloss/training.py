"""The fine-tuning loop.

Batching, the optimiser (AdamW) and its schedule (linear warm-up, then linear
decay), gradient clipping, the per-epoch validation score, early stopping and
restoring the best weights, and the history of every loss term.

One encoder forward pass per training step: the pooled embeddings ``h`` of
the batch feed both the linear head (for CE) and the graph or contrastive
term (METHOD.md §2 step 7).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from .encoder import embed_texts, encode, tokenize
from .losses import GLoss, SupConLoss, labeled_cross_entropy

__all__ = ["TrainingConfig", "make_objective", "train"]

LOSSES = ("gloss", "ce", "supcon")


@dataclass
class TrainingConfig:
    """Everything :func:`train` needs besides the model and the data."""

    loss: str = "gloss"
    lam: float = 0.8
    gamma: float = 0.7
    sigma: float | None = None
    n_neighbors: int | None = None
    pooling: str = "mean"
    max_length: int = 128
    batch_size: int = 32
    max_epochs: int = 4
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float | None = 1.0
    n_iter_no_change: int | None = 2
    class_weight: np.ndarray | None = None
    seed: int = 0
    verbose: int = 0


class _CrossEntropyOnly:
    """The ``loss="ce"`` objective, with the same ``terms`` API as the others."""

    def __init__(self, class_weight=None):
        self.class_weight = class_weight

    def terms(self, embeddings, labels, logits):
        ce = labeled_cross_entropy(logits, labels, self.class_weight)
        return {"ce": ce, "loss": ce}


def make_objective(config: TrainingConfig):
    """The loss object of ``config.loss``: it maps (h, labels, logits) to its terms."""
    cw = None if config.class_weight is None else config.class_weight.tolist()
    if config.loss == "ce":
        return _CrossEntropyOnly(cw)
    if config.loss == "gloss":
        return GLoss(lam=config.lam, gamma=config.gamma, sigma=config.sigma,
                     n_neighbors=config.n_neighbors, class_weight=cw, seed=config.seed)
    if config.loss == "supcon":
        return SupConLoss(lam=config.lam, class_weight=cw)
    raise ValueError(f"loss must be one of {LOSSES}, got {config.loss!r}")


def _optimizer(encoder, head, config: TrainingConfig, total_steps: int):
    decay, no_decay = [], []
    for module in (encoder, head):
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim < 2 else decay).append(p)  # biases and LayerNorm weights
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
    )
    warmup = int(round(config.warmup_ratio * total_steps))

    def factor(step):
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _copy_state(*modules):
    return [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in modules]


@dataclass
class TrainingResult:
    history: list = field(default_factory=list)
    best_epoch: int | None = None
    n_steps: int = 0


def validation_accuracy(encoder, head, tokenizer, texts, y, config, device) -> float:
    """Accuracy of the head on held-out texts."""
    _, logits = embed_texts(encoder, tokenizer, texts, pooling=config.pooling, max_length=config.max_length,
                            batch_size=config.batch_size, device=device, head=head)
    return float(np.mean(logits.argmax(axis=1) == y))


def train(encoder, head, tokenizer, texts, y, config: TrainingConfig, device, *, val_texts=None, val_y=None):
    """Fine-tune ``encoder`` and ``head`` in place.

    Parameters
    ----------
    encoder : transformers.PreTrainedModel
    head : torch.nn.Module
        Maps pooled embeddings (B, d) to logits (B, C).
    tokenizer : transformers tokenizer
    texts : list of str
        Training texts.
    y : ndarray of int, shape (n,)
        Class ids, ``-1`` for unlabeled rows.
    config : TrainingConfig
    device : torch.device
    val_texts, val_y : optional
        Held-out texts and class ids for early stopping. With them, the
        weights of the epoch with the best validation accuracy are restored
        at the end; without them, training runs ``max_epochs`` epochs.

    Returns
    -------
    TrainingResult
        ``history`` holds one dict per epoch: the mean of each loss term over
        the epoch's steps, ``val_score``, ``seconds``, ``steps`` and, for G-Loss,
        ``degenerate_batches``.
    """
    objective = make_objective(config)
    rng = np.random.default_rng(config.seed)
    y = np.asarray(y)
    train_rows = np.arange(len(texts))
    if config.loss != "gloss":
        # Only the graph of G-Loss has a use for unlabeled rows.
        train_rows = train_rows[y >= 0]
    steps_per_epoch = math.ceil(len(train_rows) / config.batch_size)
    opt, sched = _optimizer(encoder, head, config, steps_per_epoch * config.max_epochs)
    has_val = val_texts is not None and len(val_texts) > 0
    result = TrainingResult()
    best_score, best_state, since_best = -np.inf, None, 0

    for epoch in range(1, config.max_epochs + 1):
        start = time.perf_counter()
        encoder.train()
        head.train()
        sums, n_steps = {}, 0
        degenerate_before = getattr(objective, "n_degenerate", 0)
        order = rng.permutation(train_rows)
        batches = [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        bar = tqdm(batches, desc=f"epoch {epoch}/{config.max_epochs}", disable=config.verbose < 1, leave=False)
        for idx in bar:
            labels = torch.as_tensor(y[idx], dtype=torch.long, device=device)
            if not bool((labels >= 0).any()):
                continue  # nothing to learn from: no CE, and no labeled node for the graph
            batch = tokenize(tokenizer, [texts[i] for i in idx], config.max_length, device)
            h = encode(encoder, batch, config.pooling)
            terms = objective.terms(h, labels, head(h))
            terms["loss"].backward()
            if config.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(list(encoder.parameters()) + list(head.parameters()),
                                               config.max_grad_norm)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            n_steps += 1
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            bar.set_postfix(loss=f"{float(terms['loss'].detach()):.4f}")
        record = {"epoch": epoch, **{k: v / max(n_steps, 1) for k, v in sums.items()}, "steps": n_steps}
        if hasattr(objective, "n_degenerate"):
            record["degenerate_batches"] = objective.n_degenerate - degenerate_before
        record["val_score"] = (validation_accuracy(encoder, head, tokenizer, val_texts, val_y, config, device)
                               if has_val else None)
        record["seconds"] = time.perf_counter() - start
        result.history.append(record)
        result.n_steps += n_steps
        if config.verbose:
            summary = " ".join(f"{k}={v:.4f}" for k, v in record.items()
                               if isinstance(v, float) and k != "seconds")
            tqdm.write(f"[skgloss] epoch {epoch}: {summary} ({record['seconds']:.1f}s)")
        if not has_val:
            continue
        if record["val_score"] > best_score:
            best_score, result.best_epoch, since_best = record["val_score"], epoch, 0
            best_state = _copy_state(encoder, head)
        else:
            since_best += 1
            if config.n_iter_no_change is not None and since_best >= config.n_iter_no_change:
                break
    if best_state is not None:
        encoder.load_state_dict(best_state[0])
        head.load_state_dict(best_state[1])
    return result
