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

from ._logging import logger
from .encoder import embed_texts, encode, tokenize
from .graph import edge_weights
from .losses import GLoss, NeighbourKLLoss, SupConLoss, labeled_cross_entropy, soft_cross_entropy
from .propagation import neighbour_average

__all__ = ["TrainingConfig", "make_objective", "train", "graph_probabilities"]

LOSSES = ("gloss", "ce", "supcon", "kl")
INFERENCE = ("head", "graph", "blend")
BATCHING = ("random", "graph")


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
    graph_refresh: int | None = None
    batching: str = "random"
    inference: str = "head"
    blend_weight: float = 0.5
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
    if config.loss == "kl":
        return NeighbourKLLoss(lam=config.lam, class_weight=cw)
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


def softmax(logits):
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def graph_probabilities(head_proba, embeddings, index, label_distributions, n_neighbors, sigma):
    """Graph inference for new documents, with the head as fallback.

    The k nearest indexed (training) documents of each embedding, weighted by
    :func:`skgloss.graph.edge_weights`, average their label distributions
    (:func:`skgloss.propagation.neighbour_average`). A document whose
    neighbours carry no labeled mass gets the head's probabilities.
    """
    idx, sim = index.query(embeddings, n_neighbors)
    Q, reached = neighbour_average(idx, edge_weights(sim, sigma), label_distributions)
    Q[~reached] = head_proba[~reached]
    return Q


def combine_probabilities(head_proba, graph_proba, inference, blend_weight):
    """``"head"``, ``"graph"``, or ``"blend"``: ``(1 - β)·head + β·graph``."""
    if inference == "head":
        return head_proba
    if inference == "graph":
        return graph_proba
    return (1.0 - blend_weight) * head_proba + blend_weight * graph_proba


def _validation_pass(encoder, head, tokenizer, texts, config, device, corpus, val_rows):
    """Embeddings and head logits of the held-out texts.

    With a corpus graph, the pass also refreshes the held-out rows'
    embeddings in the memory bank: they are graph nodes whose labels
    propagation never sees, so their label distributions come from the graph.
    """
    emb, logits = embed_texts(encoder, tokenizer, texts, pooling=config.pooling, max_length=config.max_length,
                              batch_size=config.batch_size, device=device, head=head)
    if corpus is not None:
        corpus.update(val_rows, emb)
    return emb, logits


def train(encoder, head, tokenizer, texts, y, config: TrainingConfig, device, *, val_texts=None, val_y=None,
          corpus=None, train_rows=None, val_rows=None):
    """Fine-tune ``encoder`` and ``head`` in place.

    Parameters
    ----------
    encoder : transformers.PreTrainedModel
    head : torch.nn.Module
        Maps pooled embeddings (B, d) to logits (B, C).
    tokenizer : transformers tokenizer
    texts : list of str
        The corpus: every row of ``X``.
    y : ndarray of int, shape (n,)
        Class ids, ``-1`` for unlabeled rows.
    config : TrainingConfig
    device : torch.device
    val_texts, val_y : optional
        Held-out texts and class ids for early stopping. With them, the
        weights (and the corpus graph) of the epoch with the best validation
        accuracy are restored at the end.
    corpus : skgloss.corpus.CorpusGraph, optional
        Memory bank and corpus graph over ``texts`` (already filled and
        refreshed once). Updated from the training and validation passes and
        refreshed every ``config.graph_refresh`` epochs.
    train_rows, val_rows : int arrays, optional
        Which rows of ``texts`` are trained on and which are the validation
        rows (default: all rows, none).

    Returns
    -------
    TrainingResult
        ``history`` holds one dict per epoch: the mean of each loss term over
        the epoch's steps that had it, ``val_score``, ``seconds``, ``steps``, for G-Loss
        ``degenerate_batches``, and with a corpus graph ``pseudo_labeled`` (rows
        that had a pseudo-label target) and ``graph_seconds`` (refresh time).
    """
    objective = make_objective(config)
    rng = np.random.default_rng(config.seed)
    y = np.asarray(y)
    train_rows = np.arange(len(texts)) if train_rows is None else np.asarray(train_rows)
    if corpus is None and config.loss != "gloss":
        # Only the graph of G-Loss has a use for unlabeled rows here.
        train_rows = train_rows[y[train_rows] >= 0]
    steps_per_epoch = math.ceil(len(train_rows) / config.batch_size)
    opt, sched = _optimizer(encoder, head, config, steps_per_epoch * config.max_epochs)
    has_val = val_texts is not None and len(val_texts) > 0
    ce_weight = 1.0 - config.lam if config.loss in ("gloss", "supcon") else 1.0
    result = TrainingResult()
    best_score, best_state, since_best = -np.inf, None, 0

    for epoch in range(1, config.max_epochs + 1):
        start = time.perf_counter()
        encoder.train()
        head.train()
        sums, counts, n_steps, n_pseudo = {}, {}, 0, 0
        degenerate_before = getattr(objective, "n_degenerate", 0)
        if corpus is not None and config.batching == "graph":
            batches = corpus.graph_batches(train_rows, config.batch_size, rng)
        else:
            order = rng.permutation(train_rows)
            batches = [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        bar = tqdm(batches, desc=f"epoch {epoch}/{config.max_epochs}", disable=config.verbose < 1, leave=False)
        for idx in bar:
            labels = torch.as_tensor(y[idx], dtype=torch.long, device=device)
            pseudo_mask, pseudo_targets = (corpus.pseudo_targets(idx) if corpus is not None
                                           else (np.zeros(len(idx), dtype=bool), None))
            if not bool((labels >= 0).any()) and not pseudo_mask.any() and config.loss != "kl":
                continue  # nothing to learn from in this batch
            batch = tokenize(tokenizer, [texts[i] for i in idx], config.max_length, device)
            h = encode(encoder, batch, config.pooling)
            logits = head(h)
            if config.loss == "kl":
                dist, weight = corpus.neighbour_targets(idx)
                terms = objective.terms(logits, labels, torch.as_tensor(dist, device=device),
                                        torch.as_tensor(weight, device=device))
            else:
                terms = objective.terms(h, labels, logits)
            if corpus is not None:
                corpus.update(idx, h.detach().float().cpu().numpy())
                if pseudo_mask.any():
                    pm = torch.as_tensor(pseudo_mask, device=device)
                    terms["pseudo"] = soft_cross_entropy(logits[pm], torch.as_tensor(pseudo_targets, device=device))
                    terms["loss"] = terms["loss"] + ce_weight * terms["pseudo"]
                    n_pseudo += int(pseudo_mask.sum())
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
                counts[k] = counts.get(k, 0) + 1
            bar.set_postfix(loss=f"{float(terms['loss'].detach()):.4f}")
        # each term's mean over the steps that had it ("pseudo" is absent from some)
        record = {"epoch": epoch, **{k: v / counts[k] for k, v in sums.items()}, "steps": n_steps}
        if hasattr(objective, "n_degenerate"):
            record["degenerate_batches"] = objective.n_degenerate - degenerate_before
        val_logits = None
        if has_val:
            _, val_logits = _validation_pass(encoder, head, tokenizer, val_texts, config, device, corpus, val_rows)
        if corpus is not None:
            record["pseudo_labeled"] = n_pseudo
            if config.graph_refresh and epoch % config.graph_refresh == 0:
                corpus.refresh()
                record["graph_seconds"] = corpus.refresh_seconds[-1]
        if has_val:
            head_proba = softmax(val_logits)
            graph_proba = corpus.F[val_rows] if corpus is not None and config.inference != "head" else None
            if graph_proba is not None:
                unreached = graph_proba.sum(axis=1) <= 0
                graph_proba = np.where(unreached[:, None], head_proba, graph_proba)
            proba = combine_probabilities(head_proba, graph_proba, config.inference, config.blend_weight)
            record["val_score"] = float(np.mean(proba.argmax(axis=1) == val_y))
        else:
            record["val_score"] = None
        record["seconds"] = time.perf_counter() - start
        result.history.append(record)
        result.n_steps += n_steps
        summary = " ".join(f"{k}={v:.4f}" for k, v in record.items()
                           if isinstance(v, float) and k not in ("seconds", "graph_seconds"))
        logger.info("epoch %d: %s (%.1f s)", epoch, summary, record["seconds"])
        if not has_val:
            continue
        if record["val_score"] > best_score:
            best_score, result.best_epoch, since_best = record["val_score"], epoch, 0
            best_state = _copy_state(encoder, head) + ([corpus.snapshot()] if corpus is not None else [])
        else:
            since_best += 1
            if config.n_iter_no_change is not None and since_best >= config.n_iter_no_change:
                break
    if best_state is not None:
        encoder.load_state_dict(best_state[0])
        head.load_state_dict(best_state[1])
        if corpus is not None:
            corpus.restore(best_state[2])
    return result
