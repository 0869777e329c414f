"""The fine-tuning loop.

One epoch: make the epoch's batches (:func:`epoch_batches`), run a step on
each (:func:`training_step`), score the validation rows with the inference
path that ``predict_proba`` uses (:mod:`skgloss.inference`), let the corpus
graph refresh, then ask early stopping and the user's callbacks
(:mod:`skgloss.callbacks`) whether to go on. AdamW with a linear warm-up and
linear decay, gradient clipping, and the best epoch's weights restored at
the end.

The head is also fitted in closed form (:mod:`skgloss.head`), as a copy
that competes with the trained head on the validation rows at each epoch's
end (it replaces the trained head in that epoch's snapshot only when it is
better beyond paired noise, :func:`better_beyond_noise`; training goes on
with the trained head), and after the last epoch of a fit without
validation. The starting point (the pre-trained encoder with such a head,
and the first corpus graph) is scored as "epoch 0" and kept aside; at the
end it replaces the best fine-tuned epoch when it is better on the
validation rows beyond paired noise, so a fit that clearly hurts ends
where it began. A fit without validation may ship its encoder moved part of
the way back to its starting weights (``TrainingConfig.encoder_mix``,
:func:`interpolate_weights`), the closed-form head then fitted on it.

One encoder forward pass per training step: the pooled embeddings ``h`` of
the batch feed both the linear head (for CE) and the graph or contrastive
term (:doc:`method`, in-batch G-Loss step 7).

A step never waits for the device: batches are cut from tokens made once
per fit (:mod:`skgloss.inputs`) and copied ahead; every loss is computed
with shapes fixed by the batch size; the loss terms are summed on the
device and read once per epoch (or, with a progress bar, every
``_BAR_EVERY`` steps); the corpus graph's memory bank stays on the device
during the epoch. (float16 is the exception: its gradient scaler checks for
overflow at every step.)
"""

from __future__ import annotations

import copy
import json
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from . import distributed
from ._logging import logger
from ._validation import labeled_mask
from .callbacks import EarlyStopping, call_callbacks
from .corpus import NoCorpusGraph, snapshot_from_tensors, snapshot_to_tensors
from .devices import autocast, grad_scaler
from .encoder import accepts_4d_mask, embed_tokens, encode
from .head import fit_linear_head
from .inference import GraphInference, class_probabilities
from .inputs import class_aware_batches, device_batches, length_grouped_batches, to_device
from .losses import BatchContext, CrossEntropyLoss, GLoss, NeighbourKLLoss, SupConLoss

__all__ = ["TrainingConfig", "TrainingResult", "make_objective", "epoch_batches", "training_step", "train",
           "TRAINING_STATE_VERSION", "class_separation", "step_budget_epochs", "interpolate_weights"]

LOSSES = ("gloss", "ce", "supcon", "kl")
BATCHING = ("random", "graph", "length", "class")
#: With a progress bar, the loss shown is read from the device every this many steps.
_BAR_EVERY = 10
#: Standard errors by which a challenger must beat the incumbent on the validation rows'
#: disagreements to replace it (:func:`better_beyond_noise`).
MARGIN_Z = 1.645
#: Version of the dict that :func:`train` hands its ``checkpoint`` callable (and takes back as ``resume``).
TRAINING_STATE_VERSION = 1


@dataclass
class TrainingConfig:
    """Everything :func:`train` needs besides the model and the data."""

    loss: str = "gloss"
    lam: float = 0.8
    gamma: float = 0.7
    sigma: float | None = None
    n_neighbors: int | None = None
    corpus_neighbors: int = 10
    pooling: str = "mean"
    batch_size: int = 32
    #: texts per forward pass where nothing is trained (validation, the closed-form head's pass)
    inference_batch_size: int | None = None
    max_epochs: int = 4
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float | None = 1.0
    n_iter_no_change: int | None = 2
    #: Stop after this many epochs, with the learning-rate schedule still that of ``max_epochs``
    #: (the epoch count cross-validation chose on runs of ``max_epochs``); None: no such stop.
    stop_after: int | None = None
    class_weight: np.ndarray | None = None
    graph_refresh: int | None = None
    batching: str = "random"
    inference: str = "head"
    #: Whether the starting point is the incumbent of model selection (a fine-tuned epoch must beat it beyond
    #: noise) rather than the challenger: a semi-supervised fit's start is label spreading on the pre-trained
    #: encoder, a strong model of its own (:func:`start_point_wins`).
    start_incumbent: bool = False
    #: ``y`` holds multi-label 0/1 rows (n, L) instead of class ids: sigmoid head, per-label losses.
    multilabel: bool = False
    blend_weight: float = 0.5
    refit_head: bool = True
    head_C: float = 1.0
    #: In a fit without validation rows, the weight ``a`` of the fine-tuned encoder in the one it ships:
    #: ``θ = (1 - a)·θ_start + a·θ_trained`` (weight-space ensembling, :func:`interpolate_weights`), before the
    #: closed-form head is fitted on it. 1: the trained encoder as it is.
    encoder_mix: float = 1.0
    graph_backend: str = "auto"
    precision: str = "fp32"
    compile: bool | dict = False
    seed: int = 0
    verbose: int = 0


def make_objective(config: TrainingConfig):
    """The :class:`skgloss.losses.Objective` of ``config.loss``."""
    cw = None if config.class_weight is None else config.class_weight.tolist()
    if config.loss == "ce":
        return CrossEntropyLoss(cw)
    if config.loss == "gloss":
        return GLoss(lam=config.lam, gamma=config.gamma, sigma=config.sigma,
                     n_neighbors=config.n_neighbors, class_weight=cw, seed=config.seed)
    if config.loss == "supcon":
        return SupConLoss(lam=config.lam, class_weight=cw)
    if config.loss == "kl":
        return NeighbourKLLoss(lam=config.lam, class_weight=cw)
    raise ValueError(f"loss must be one of {LOSSES}, got {config.loss!r}")


class EpochSchedule:
    """Linear warm-up and decay over ``max_epochs`` epochs, whatever number of batches each epoch runs.

    The schedule is laid out in ``per_epoch · max_epochs`` planned steps
    (``per_epoch``: the batches of an epoch that keeps them all), warm-up
    over the first ``round(warmup_ratio · total)``. An epoch that runs
    ``n`` batches (fewer: batches with no label and no target are skipped;
    more: class-aware batches that overflow) advances ``per_epoch / n``
    planned steps a batch, so every epoch covers its share of the schedule
    and the rate reaches zero at the last step of the last epoch. When
    every epoch runs ``per_epoch`` batches this is the plain step count.
    """

    def __init__(self, per_epoch, max_epochs, warmup_ratio):
        self.per_epoch = per_epoch
        self.total = per_epoch * max_epochs
        self.warmup = int(round(warmup_ratio * self.total))
        self._origin, self._first_step, self._n_batches = 0, 0, per_epoch

    def start_epoch(self, epoch, n_batches, step):
        """Epoch ``epoch`` (from 1) runs ``n_batches`` optimizer steps, the first after scheduler step ``step``."""
        self._origin = (epoch - 1) * self.per_epoch
        self._first_step = step
        self._n_batches = max(1, n_batches)

    def factor(self, step):
        """The learning-rate factor after ``step`` scheduler steps."""
        # multiplied before divided: the epoch's last step lands exactly on its end (per_epoch·n / n)
        position = self._origin + (step - self._first_step) * self.per_epoch / self._n_batches
        if position < self.warmup:
            return (position + 1) / (self.warmup + 1)
        return max(0.0, (self.total - position) / max(1, self.total - self.warmup))


def _optimizer(params, config: TrainingConfig, schedule: EpochSchedule, device: torch.device):
    """AdamW (fused where torch has it for the device) with linear warm-up and decay (``schedule``).

    The fused kernel updates every parameter in one pass instead of looping
    over them, and keeps its step counts on the device (no host reads).
    """
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]  # biases and LayerNorm weights
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    try:
        opt = torch.optim.AdamW(groups, lr=config.learning_rate, fused=True)
    except (RuntimeError, ValueError):  # no fused kernel for this device or dtype
        opt = torch.optim.AdamW(groups, lr=config.learning_rate)

    def factor(step):  # a plain function: LambdaLR's state_dict keeps no copy of it
        return schedule.factor(step)

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _copy_state(*modules, to=None):
    return [{k: v.detach().to(to).clone() for k, v in m.state_dict().items()} for m in modules]


def interpolate_weights(model, start_weights, a):
    """Move ``model`` in place to ``(1 - a)·start + a·model`` on every floating-point weight.

    Weight-space ensembling of a fine-tuned model with the one it started
    from (WiSE-FT: Wortsman et al., "Robust fine-tuning of zero-shot
    models", CVPR 2022, whose fixed ``a = 0.5`` skgloss uses where a fit has
    too few labeled rows to hold any out: :doc:`user_guide`, "Few labeled
    rows"). Both share one architecture and start, so the path between them
    stays in one basin and the midpoint keeps what the pre-trained encoder
    knew while taking part of what the labeled rows taught.

    Parameters
    ----------
    model : torch.nn.Module
        The trained model; its weights are overwritten.
    start_weights : dict
        ``state_dict`` of the same model before training (any device).
    a : float in [0, 1]
        Weight of the trained model; 1 leaves it as it is, 0 restores the start.
    """
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"the trained model's weight a must lie in [0, 1], got {a}")
    with torch.no_grad():
        for name, weight in model.state_dict().items():
            if weight.is_floating_point():
                start = start_weights[name].to(device=weight.device, dtype=weight.dtype)
                weight.copy_(torch.lerp(start, weight, a))
    return model


@dataclass
class TrainingResult:
    history: list = field(default_factory=list)
    best_epoch: int | None = None
    n_steps: int = 0
    start_score: float | None = None
    start_log_loss: float | None = None
    #: Per validation row, whether the starting point got it right; and, after each epoch, whether
    #: the model a fit without validation would ship (the closed-form head where ``refit_head``) did.
    start_correct: np.ndarray | None = None
    epoch_correct: list = field(default_factory=list)


class _TermSums:
    """Each loss term summed on the device over the steps that had it, read once per epoch."""

    def __init__(self):
        self.sums, self.counts = {}, {}

    def add(self, name, value, present=None):
        value = value.detach().float()
        present = torch.ones((), device=value.device) if present is None else present.float()
        self.sums[name] = self.sums.get(name, 0) + value * present
        self.counts[name] = self.counts.get(name, 0) + present

    def means(self) -> dict:
        """``{term: mean}`` over the steps that had the term (one wait for the device)."""
        names = list(self.sums)
        if not names:
            return {}
        sums = torch.stack([self.sums[k] for k in names]).tolist()
        counts = torch.stack([self.counts[k] for k in names]).tolist()
        return {k: s / c for k, s, c in zip(names, sums, counts) if c > 0}


def epoch_batches(train_rows, config: TrainingConfig, rng, hook, lengths, y):
    """The index arrays of one epoch.

    Random; built from corpus neighbours (``batching="graph"``); random
    within similar lengths (``"length"``, :func:`skgloss.inputs.length_grouped_batches`);
    or P classes × K rows (``"class"``, :func:`skgloss.inputs.class_aware_batches`).
    """
    if config.batching == "graph":
        return hook.graph_batches(train_rows, config.batch_size, rng)
    if config.batching == "length":
        return length_grouped_batches(train_rows, lengths, config.batch_size, rng)
    if config.batching == "class":
        return class_aware_batches(train_rows, y, config.batch_size, rng)
    order = rng.permutation(train_rows)
    return [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)]


def training_step(forward, head, objective, hook, batch, config, device, opt, sched, scaler, params, *,
                  mask_4d=False, dp=None, sizes=None):
    """One optimisation step on a batch that is already on the device.

    ``forward`` is the encoder (or its compiled form); ``mask_4d`` is passed
    to :func:`skgloss.encoder.encode`. Nothing here reads a value from the
    device (except float16's gradient scaler).

    In a data-parallel fit (``dp``, a :class:`skgloss.distributed.DataParallel`)
    the batch's tokens are this process's share of the global batch (its
    first ``sizes[dp.rank]`` rows; ``sizes``: every process's share) while
    ``rows``, ``labels`` and ``weights`` are the global batch's: the pooled
    embeddings are gathered before the head and the loss, which every
    process computes on the whole batch, and the gradients are averaged.

    Returns
    -------
    terms : dict of 0-d tensors
        The loss terms of :meth:`skgloss.losses.Objective.batch_terms`.
    present : dict of 0-d bool tensors
        For terms that only some batches have (``"pseudo"``): whether this one did.
    """
    with autocast(device, config.precision):
        h = encode(forward, batch, config.pooling, mask_4d=mask_4d)
        if dp is not None:
            h = dp.gather(h[:sizes[dp.rank]].float(), sizes)
        logits = head(h)
    h = h.float()
    hook.update(batch["rows"], h)
    ctx = BatchContext(h, logits.float(), batch["labels"], sample_weight=batch.get("weights"),
                       **hook.batch_extras(batch["rows"], neighbours=objective.needs_neighbours))
    terms = objective.batch_terms(ctx)
    scaler.scale(terms["loss"]).backward()
    if dp is not None:
        dp.average_gradients(params)
    if config.max_grad_norm is not None:
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
    scaler.step(opt)
    scaler.update()
    sched.step()
    opt.zero_grad(set_to_none=True)
    return terms, ({"pseudo": ctx.soft_mask.any()} if ctx.soft_mask is not None else {})


def _shared_batches(dp, tokens, batches, device, extra):
    """``(batch, sizes)`` of each global batch in a data-parallel fit (see :func:`training_step`).

    ``batch`` holds this process's share of the tokens and the global
    batch's ``rows`` and ``extra`` arrays; ``sizes`` every process's share.
    A process whose share is empty (a last batch smaller than the number of
    processes) embeds the batch's first row and drops it.
    """
    shares = [dp.shares(b) for b in batches]
    local = [s[dp.rank] if len(s[dp.rank]) else np.asarray(b)[:1] for s, b in zip(shares, batches)]
    for (_, batch), rows, share in zip(device_batches(tokens, local, device), batches, shares):
        rows = np.asarray(rows, dtype=np.int64)
        whole = {"rows": torch.from_numpy(rows)}
        whole.update({name: torch.from_numpy(np.ascontiguousarray(values[rows])) for name, values in extra.items()})
        batch.update(to_device(whole, device))
        yield batch, [len(x) for x in share]


def _inference_batch(config):
    """``config.inference_batch_size``, or ``max(batch_size, 64)``."""
    return config.inference_batch_size or max(config.batch_size, 64)


def _validation_pass(encoder, head, tokens, val_rows, config, device, hook):
    """Embeddings and logits of the held-out rows.

    The pass also refreshes their embeddings in the memory bank (they are
    graph nodes whose labels propagation never sees); they are scored after
    the epoch's corpus-graph refresh (:func:`_val_accuracy`).
    """
    emb, logits = embed_tokens(encoder, tokens, val_rows, pooling=config.pooling,
                               batch_size=_inference_batch(config), device=device, head=head,
                               precision=config.precision)
    hook.update(val_rows, emb)
    return emb, logits


def _val_graph(config, hook):
    """What graph inference searches this epoch (None for ``inference="head"``)."""
    if config.inference == "head":
        return None
    return GraphInference.build(hook.bank, hook.F, config.corpus_neighbors, config.sigma,
                                backend=config.graph_backend)


def _val_scores(emb, logits, val_rows, val_y, config, graph):
    """Accuracy, log-loss and per-row correctness on the held-out rows of the predictor ``predict_proba`` will be."""
    proba = class_probabilities(logits, emb, inference=config.inference, blend_weight=config.blend_weight,
                                graph=graph, exclude=val_rows, multilabel=config.multilabel)
    if config.multilabel:  # a row is right when every label is (subset accuracy, what score() returns)
        correct = ((proba >= 0.5) == (val_y == 1)).all(axis=1)
        p = np.clip(proba, 1e-12, 1 - 1e-12)
        log_loss = -np.mean(np.where(val_y == 1, np.log(p), np.log1p(-p)))
        return float(np.mean(correct)), float(log_loss), correct
    true = proba[np.arange(len(val_y)), val_y]
    correct = proba.argmax(axis=1) == val_y
    return float(np.mean(correct)), float(-np.mean(np.log(np.maximum(true, 1e-12)))), correct


def _heads_judged(refit_logits, trained_logits, refit_correct, trained_correct, val_y, config):
    """Which validation rows the refit and the trained head get right, as the choice between them judges them.

    The two heads share the embeddings (and, for graph or blend inference,
    the graph part of the prediction), so they are compared on what each
    head predicts alone. Judged through a blend, a lagging trained head
    hides behind the shared graph vote and is kept: on 20NG (500 training
    texts, ``inference="blend"``) the blends with either head scored alike on
    the validation rows, and the head shipped inside the blend scored 3-9 %
    alone on development texts, near chance (:doc:`user_guide`, "Choosing
    λ, k, γ and σ").
    Under ``inference="head"`` (and for multi-label models) these are the
    rows the shipped predictor gets right, ``refit_correct`` and
    ``trained_correct``.
    """
    if config.inference != "head" and not config.multilabel:
        return (np.asarray(refit_logits).argmax(axis=1) == val_y,
                np.asarray(trained_logits).argmax(axis=1) == val_y)
    return refit_correct, trained_correct


def better_beyond_noise(challenger_correct, incumbent_correct, z=MARGIN_Z):
    """Whether a challenger beats the incumbent on the validation rows, beyond paired noise.

    A one-sided McNemar test on the rows where the two disagree: with ``b``
    rows only the challenger gets right and ``c`` rows only the incumbent
    gets right, the challenger wins when ``b - c > z * sqrt(b + c)``.
    Two choices use it. At each epoch's end the refit head challenges the
    trained head (the one that learned together with the encoder); at the
    end of the fit the starting point (the pre-trained encoder with its
    closed-form head) challenges the best fine-tuned epoch. Picking between
    such candidates by raw accuracy on a small validation set rewards
    noise (the winner's curse): on MR with 100 validation texts a refit
    head 6 texts ahead of the trained one won an epoch and scored 5
    points lower on the test set, and a starting point 2 texts ahead of
    the best epoch was kept and scored 6 points lower (:doc:`user_guide`,
    "Why margins").

    Parameters
    ----------
    challenger_correct, incumbent_correct : bool arrays, shape (n_val,)
        Which validation rows each candidate classifies correctly.
    z : float, default=MARGIN_Z
        The margin in standard errors (1.645: a one-sided 5 % test).
    """
    challenger_correct = np.asarray(challenger_correct, bool)
    incumbent_correct = np.asarray(incumbent_correct, bool)
    b = int(np.sum(challenger_correct & ~incumbent_correct))
    c = int(np.sum(incumbent_correct & ~challenger_correct))
    return b - c > z * math.sqrt(b + c)


def _refit_head(encoder, head, tokens, train_rows, y, config, device, hook, sample_weight=None):
    """A copy of ``head`` fitted by logistic regression on eval-mode embeddings of the rows it learns from.

    Labeled rows with their labels and, in a semi-supervised fit, the rows
    that train on a pseudo-label with their label-spreading targets ``F_i``;
    the two groups weigh the same in total, as in the training loss (where
    each is a mean per batch); ``sample_weight`` (n,) multiplies each
    row's weight. The same pass refreshes those rows in the corpus graph's
    memory bank. None when ``config.refit_head`` is off or no row is
    labeled. See :mod:`skgloss.head`.
    """
    labeled = train_rows[labeled_mask(y[train_rows])]
    if not config.refit_head or len(labeled) == 0:
        return None
    if config.multilabel:  # no corpus graph, no pseudo-labels: one binary regression per label
        emb = embed_tokens(encoder, tokens, labeled, pooling=config.pooling, batch_size=_inference_batch(config),
                           device=device, precision=config.precision)
        weights = None if sample_weight is None else sample_weight[labeled]
        if not _can_refit(emb, weights):
            return None
        return fit_linear_head(copy.deepcopy(head), emb, y[labeled], C=config.head_C, sample_weight=weights,
                               multilabel=True)
    pseudo = train_rows[hook.pseudo_rows()[train_rows]] if hook.F is not None else train_rows[:0]
    rows = np.concatenate([labeled, pseudo])
    emb = embed_tokens(encoder, tokens, rows, pooling=config.pooling, batch_size=_inference_batch(config),
                       device=device, precision=config.precision)
    n_classes = head.weight.shape[0]
    targets = np.concatenate([np.eye(n_classes)[y[labeled]], hook.F[pseudo] if len(pseudo) else
                              np.zeros((0, n_classes))])
    weights = np.r_[np.full(len(labeled), 1.0 / len(labeled)), np.full(len(pseudo), 1.0 / max(len(pseudo), 1))]
    if sample_weight is not None:
        weights = weights * sample_weight[rows]
    if not _can_refit(emb, weights * (targets @ np.asarray(config.class_weight) if config.class_weight is not None
                                      else 1.0)):
        return None
    hook.update(rows, emb)
    fitted = copy.deepcopy(head)
    return fit_linear_head(fitted, emb, targets, C=config.head_C, class_weight=config.class_weight,
                           sample_weight=weights * len(labeled))


def _can_refit(emb, weights):
    """Whether a closed-form head can be fitted: finite embeddings (weights that a last step turned NaN are the
    next epoch's divergence, caught there) and some row of weight > 0 (a cross-validation fold may draw none)."""
    return bool(np.isfinite(np.asarray(emb)).all()) and (weights is None or bool((np.asarray(weights) > 0).any()))


def _head_logits(head, emb):
    """``W h + b`` of a linear head on host embeddings, as a host array."""
    W = head.weight.detach().float().cpu().numpy()
    b = head.bias.detach().float().cpu().numpy() if head.bias is not None else 0.0
    return np.asarray(emb, dtype=np.float32) @ W.T + b


def train(encoder, head, tokens, y, config: TrainingConfig, device, *, train_rows=None, val_rows=None,
          val_y=None, hook=None, callbacks=(), checkpoint=None, resume=None, sample_weight=None):
    """Fine-tune ``encoder`` and ``head`` in place.

    Parameters
    ----------
    encoder : transformers.PreTrainedModel
    head : torch.nn.Module
        Maps pooled embeddings (B, d) to logits (B, C).
    tokens : skgloss.inputs.TokenizedTexts
        The corpus, tokenized once: every row of ``X``.
    y : ndarray of int, shape (n,)
        Class ids, ``-1`` for unlabeled rows (and for hidden validation rows).
    config : TrainingConfig
    device : torch.device
    train_rows, val_rows : int arrays, optional
        Which rows of ``tokens`` are trained on and which score each epoch
        (default: all rows, none).
    val_y : int array, optional
        Class ids of ``val_rows``. With validation rows, the weights (and
        the corpus graph) of the epoch with the best validation accuracy are
        restored at the end.
    hook : skgloss.corpus.CorpusGraph or NoCorpusGraph, optional
        The corpus graph (already filled and refreshed once), updated from
        the training and validation passes and refreshed every
        ``config.graph_refresh`` epochs.
    callbacks : list
        Objects with ``on_fit_begin`` / ``on_epoch_end`` / ``on_fit_end``
        (:mod:`skgloss.callbacks`).
    checkpoint : callable, optional
        Called after every epoch as ``checkpoint(state, selected)``: ``state``
        is everything the loop needs to go on from there (a dict of tensors,
        numbers and strings, see :func:`_training_state`), ``selected`` is
        ``(weights, graph_snapshot, epoch)`` of the model the fit would
        return if it ended now (the best epoch, or the starting point, with
        validation rows; the latest epoch with its trained head without).
    resume : dict, optional
        A ``state`` that ``checkpoint`` was given: the loop puts it back
        (weights, optimizer, schedule, random generators, corpus graph,
        early stopping, history) and goes on with the next epoch, so that
        the fit ends as the uninterrupted one would have.
    sample_weight : float array of shape (n,), optional
        Per-row weights of every training term (CE, ``L_G``'s masked rows,
        pseudo-label targets) and of the closed-form head's problem.
        Validation scores are not weighted.

    Returns
    -------
    TrainingResult
        ``history`` holds one dict per epoch: the mean of each loss term over
        the epoch's steps that had it, ``val_score``, ``seconds``, ``steps``;
        for G-Loss ``degenerate_batches``, ``masked_rows`` and
        ``masked_rows_used`` (masked rows that entered L_G); with a corpus
        graph ``pseudo_labeled`` (rows that had a pseudo-label target) and
        ``graph_seconds`` (refresh time).
    """
    hook = NoCorpusGraph() if hook is None else hook.attach(device)
    dp = distributed.current()
    if dp is not None:  # one starting point for every process
        dp.broadcast_parameters([encoder, head])
    objective = make_objective(config)
    rng = np.random.default_rng(config.seed)
    y = np.asarray(y)
    train_rows = np.arange(len(tokens)) if train_rows is None else np.asarray(train_rows)
    val_rows = np.zeros(0, dtype=np.int64) if val_rows is None else np.asarray(val_rows)
    if isinstance(hook, NoCorpusGraph) and config.loss != "gloss":
        # Only the graph of G-Loss has a use for unlabeled rows here.
        train_rows = train_rows[labeled_mask(y[train_rows])]
    steps_per_epoch = math.ceil(len(train_rows) / config.batch_size)
    params = [p for m in (encoder, head) for p in m.parameters() if p.requires_grad]
    schedule = EpochSchedule(steps_per_epoch, config.max_epochs, config.warmup_ratio)
    opt, sched = _optimizer(params, config, schedule, device)
    scaler = grad_scaler(device, config.precision)
    # a padded probe batch (longest and shortest text) decides whether masks can be passed in 4-D
    probe = train_rows[[np.argmax(tokens.lengths[train_rows]), np.argmin(tokens.lengths[train_rows])]]
    mask_4d = accepts_4d_mask(encoder, to_device(tokens.collate(probe), device), config.pooling)
    forward = encoder
    if config.compile:
        forward = torch.compile(encoder, **(config.compile if isinstance(config.compile, dict) else {}))
    has_val = len(val_rows) > 0
    shipped = {"head": head}  # the head an epoch's snapshot keeps: the trained one or its refit copy

    def restore(state):
        (encoder_state, head_state), graph_state = state
        encoder.load_state_dict(encoder_state)
        head.load_state_dict(head_state)
        hook.restore(graph_state)

    early = EarlyStopping(config.n_iter_no_change, restore=restore,
                          snapshot=lambda: (_copy_state(encoder, shipped["head"]), hook.snapshot()))
    start_point = None  # (snapshot, per-row validation correctness) of the pre-trained encoder and its head
    best_correct = None  # per-row validation correctness of the best epoch so far
    labels = {"labels": y.astype(np.int64)}
    if sample_weight is not None:
        labels["weights"] = np.asarray(sample_weight, dtype=np.float32)
    result = TrainingResult()
    call_callbacks(callbacks, "on_fit_begin", {
        "n_train": int(len(train_rows)), "n_validation": int(len(val_rows)), "max_epochs": config.max_epochs,
        "steps_per_epoch": steps_per_epoch, "device": str(device), "precision": config.precision})
    loop = {"rng": rng, "objective": objective, "hook": hook, "early": early, "result": result,
            "opt": opt, "sched": sched, "scaler": scaler, "device": device}
    first_epoch, stopped = 1, False
    # the starting weights, kept (on the host) for the shipped encoder's interpolation; before any resume
    start_weights = None if has_val or config.encoder_mix >= 1 else _copy_state(encoder, to="cpu")[0]
    if resume is not None:
        first_epoch, stopped, start_point, best_correct = _restore_training_state(
            resume, encoder, head, restore, **loop)
        logger.info("resumed after epoch %d", first_epoch - 1)
    elif has_val:  # epoch 0: the starting point (pre-trained encoder, closed-form head) competes
        emb, logits = _validation_pass(encoder, head, tokens, val_rows, config, device, hook)
        start_head = _refit_head(encoder, head, tokens, train_rows, y, config, device, hook, sample_weight)
        if start_head is not None:
            shipped["head"], logits = start_head, _head_logits(start_head, emb)
        result.start_score, result.start_log_loss, start_correct = _val_scores(
            emb, logits, val_rows, val_y, config, _val_graph(config, hook))
        start_point = ((_copy_state(encoder, shipped["head"]), hook.snapshot()), start_correct)
        result.start_correct = start_correct
        shipped["head"] = head
        logger.info("epoch 0 (the starting point): val_score=%.4f", result.start_score)
    last_epoch = first_epoch - 1 if stopped else config.max_epochs  # a resumed fit that had stopped trains no more
    if config.stop_after is not None:
        last_epoch = min(last_epoch, config.stop_after)
    for epoch in range(first_epoch, last_epoch + 1):
        start = time.perf_counter()
        encoder.train()
        head.train()
        counters_before = objective.counters()
        batches = epoch_batches(train_rows, config, rng, hook, tokens.lengths, y)
        if not objective.needs_neighbours:  # a batch with no label and no target teaches nothing
            batches = [b for b in batches if labeled_mask(y[b]).any() or hook.has_targets(b).any()]
        schedule.start_epoch(epoch, len(batches), sched.last_epoch)
        sums = _TermSums()
        stream = (((batch, None) for _, batch in device_batches(tokens, batches, device, extra=labels))
                  if dp is None else _shared_batches(dp, tokens, batches, device, labels))
        bar = tqdm(stream, total=len(batches), desc=f"epoch {epoch}/{config.max_epochs}",
                   disable=config.verbose < 1 or (dp is not None and not dp.is_main), leave=False)
        n_steps = 0
        for batch, sizes in bar:
            terms, present = training_step(forward, head, objective, hook, batch, config, device, opt, sched,
                                           scaler, params, mask_4d=mask_4d, dp=dp, sizes=sizes)
            for name, value in terms.items():
                sums.add(name, value, present.get(name))
            n_steps += 1
            if n_steps % _BAR_EVERY == 0 and not bar.disable:
                bar.set_postfix(loss=f"{float(terms['loss'].detach()):.4f}")
        record = {"epoch": epoch, **sums.means(), "steps": n_steps}
        record.update({k: v - counters_before[k] for k, v in objective.counters().items()})
        if not math.isfinite(record.get("loss", 0.0)):
            record["seconds"] = time.perf_counter() - start
            result.history.append(record)
            _diverged(record, config, early if has_val else None)
            break
        log_loss = None
        if has_val:
            emb, logits = _validation_pass(encoder, head, tokens, val_rows, config, device, hook)
            refit = _refit_head(encoder, head, tokens, train_rows, y, config, device, hook, sample_weight)
        hook.on_epoch_end(epoch, record, config.graph_refresh)
        record["val_score"] = None
        if has_val:  # the trained head, or its refit copy where that is better beyond noise (same embeddings)
            graph = _val_graph(config, hook)
            name, shipped["head"], (score, log_loss, correct) = (
                "trained", head, _val_scores(emb, logits, val_rows, val_y, config, graph))
            trained_correct = correct
            record["val_score_trained"] = score
            if refit is not None:
                refit_logits = _head_logits(refit, emb)
                refit_scores = _val_scores(emb, refit_logits, val_rows, val_y, config, graph)
                record["val_score_refit"] = refit_scores[0]
                refit_judged, trained_judged = _heads_judged(refit_logits, logits, refit_scores[2], trained_correct,
                                                             val_y, config)
                record["val_only_refit_correct"] = int(np.sum(refit_judged & ~trained_judged))
                record["val_only_trained_correct"] = int(np.sum(trained_judged & ~refit_judged))
                if better_beyond_noise(refit_judged, trained_judged):
                    name, shipped["head"], (score, log_loss, correct) = "refit", refit, refit_scores
            result.epoch_correct.append(trained_correct if refit is None else refit_scores[2])
            record["val_score"], record["val_log_loss"], record["head"] = score, log_loss, name
        record["seconds"] = time.perf_counter() - start
        result.history.append(record)
        result.n_steps += n_steps
        summary = " ".join(f"{k}={v:.4f}" for k, v in record.items()
                           if isinstance(v, float) and k not in ("seconds", "graph_seconds"))
        logger.info("epoch %d: %s (%.1f s)", epoch, summary, record["seconds"])
        stop = early.update(epoch, record["val_score"], -log_loss) if has_val else False
        if has_val and early.best_epoch == epoch:
            best_correct = correct
        shipped["head"] = head
        if call_callbacks(callbacks, "on_epoch_end", epoch, record):
            logger.info("a callback stopped the fit after epoch %d", epoch)
            stop = True
        if dp is not None:  # every process stops where rank 0 does
            stop = dp.broadcast(stop)
        if checkpoint is not None and (dp is None or dp.is_main):
            checkpoint(_training_state(epoch, stop, encoder, head, start_point, best_correct, **loop),
                       _selected_model(encoder, head, hook, early, start_point, best_correct, has_val, epoch,
                                       config.start_incumbent))
        if stop:
            break
    if has_val:
        early.restore_best()
        if start_point_wins(None if start_point is None else start_point[1], best_correct, config.start_incumbent):
            restore(start_point[0])
            early.best_epoch = 0
    else:  # nothing to choose with: the closed-form head, which never lags the embeddings
        if start_weights is not None:
            interpolate_weights(encoder, start_weights, config.encoder_mix)
        refit = _refit_head(encoder, head, tokens, train_rows, y, config, device, hook, sample_weight)
        if refit is not None:
            head.load_state_dict(refit.state_dict())
    result.best_epoch = early.best_epoch
    if dp is not None:  # every process ends with rank 0's model, whatever rounding did elsewhere
        dp.broadcast_parameters([encoder, head])
        if not isinstance(hook, NoCorpusGraph):
            hook.restore(dp.broadcast(hook.snapshot()))
        result.best_epoch, result.history = dp.broadcast((result.best_epoch, result.history))
    _warn_if_graph_term_idle(result.history, config)
    call_callbacks(callbacks, "on_fit_end", result.history)
    return result


def class_separation(embeddings, y):
    """How far apart an encoder puts the classes of labeled rows: a standardized mean difference.

    With ``s_ij`` the cosine similarity of rows ``i`` and ``j`` (``i != j``),

        d = (mean of s_ij over pairs of one class - mean of s_ij over pairs of two classes) / std of all s_ij

    that is, by how many standard deviations of the pairwise similarities
    two texts of one class are closer than two texts of different classes.
    It is unchanged by any affine map of the similarities (an encoder whose
    cosines all lie near 0.9 is judged like one whose cosines spread over
    [0, 1]), and it averages over all pairs rather than asking, as
    out-of-fold accuracy and the silhouette do, whether each row is
    nearest its own class, which grows harder with every class added: with
    all-MiniLM-L6-v2 and 8 or 32 labeled texts per class, MR (sentence
    sentiment) gave d from -0.06 to 0.15, and the topic datasets R8, R52,
    Ohsumed and 20NG (8 to 52 classes) from 0.74 to 1.94, while
    chance-corrected out-of-fold accuracy and the silhouette put 20NG
    beside MR (:doc:`user_guide`, "Optimizer steps, not epochs").

    Parameters
    ----------
    embeddings : array of shape (n_rows, dim)
        The rows' embeddings (any scale: they are normalised here). Memory
        grows as ``n_rows ** 2``: meant for the few hundred labeled rows
        of a few-shot fit.
    y : int array of shape (n_rows,)
        Their classes.

    Returns
    -------
    float
        ``d``; 0.0 when no pair shares a class, no pair differs, or every
        similarity is the same.
    """
    e = np.asarray(embeddings, dtype=np.float64)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    y = np.asarray(y)
    sim = e @ e.T
    pairs = ~np.eye(len(y), dtype=bool)
    same = (y[:, None] == y[None, :]) & pairs
    differ = y[:, None] != y[None, :]
    spread = float(sim[pairs].std()) if pairs.any() else 0.0
    if not same.any() or not differ.any() or spread == 0.0:
        return 0.0
    return float((sim[same].mean() - sim[differ].mean()) / spread)


def step_budget_epochs(n_rows, batch_size, steps, min_epochs=1):
    """The epochs of a schedule of at least ``steps`` optimizer steps over ``n_rows`` rows in batches of
    ``batch_size`` (``ceil(n_rows / batch_size)`` steps an epoch), and at least ``min_epochs``."""
    per_epoch = -(-int(n_rows) // int(batch_size))
    return max(int(min_epochs), -(-int(steps) // per_epoch))


def start_point_wins(start_correct, best_correct, incumbent=False, z=MARGIN_Z):
    """Whether the starting point replaces the best fine-tuned epoch.

    Parameters
    ----------
    start_correct, best_correct : bool arrays of shape (n_val,) or None
        Which validation rows the starting point and the best epoch get
        right; None where that candidate was not scored.
    incumbent : bool, default=False
        False: the start is the challenger, and wins only when it is better
        beyond paired noise (:func:`better_beyond_noise`). In a fully
        labeled fit the start is the pre-trained encoder with a closed-form
        head, which fine-tuning is expected to beat. True: the start is the
        incumbent, and the best epoch must beat *it* beyond noise. In a
        semi-supervised fit the start is label spreading on the pre-trained
        encoder, which on development texts of R8 and MR with 1-20 % of the
        labels kept beat scikit-learn's ``LabelSpreading`` in every cell,
        while the validation rows (10 % of few labels) are too few to tell
        it from a fine-tuned epoch (:doc:`user_guide`, "Semi-supervised fits
        with ``-1``").
    z : float, default=MARGIN_Z
        The margin of :func:`better_beyond_noise`. 0 compares raw accuracy,
        ties going to the incumbent: what cross-validation over every
        labeled row does in a semi-supervised fit, whose pooled out-of-fold
        predictions are evidence enough to choose by.
    """
    if start_correct is None:
        return False
    if best_correct is None:
        return True
    if incumbent:
        return not better_beyond_noise(best_correct, start_correct, z)
    return better_beyond_noise(start_correct, best_correct, z)


def _selected_model(encoder, head, hook, early, start_point, best_correct, has_val, epoch, incumbent=False):
    """``(weights, graph_snapshot, epoch)`` of the model the fit would return if it ended after this epoch."""
    if not has_val:
        return [encoder.state_dict(), head.state_dict()], hook.snapshot(), epoch
    if start_point_wins(None if start_point is None else start_point[1], best_correct, incumbent):
        return (*start_point[0], 0)
    return (*early.state, early.best_epoch)


def _device_rng_state(device):
    """The accelerator's own generator state (dropout draws from it there), or None on the CPU."""
    if device.type == "cuda":
        return torch.cuda.get_rng_state(device)
    if device.type == "mps":
        return torch.mps.get_rng_state()
    return None


def _set_device_rng_state(device, state):
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    elif device.type == "mps":
        torch.mps.set_rng_state(state)


def _training_state(epoch, stopped, encoder, head, start_point, best_correct, *, rng, objective, hook, early,
                    result, opt, sched, scaler, device):
    """Everything the loop needs to go on after ``epoch``, as tensors, numbers and strings.

    Plain data only, so that ``torch.load(..., weights_only=True)`` reads it
    back: the current weights, the optimizer's moments, the schedule, the
    gradient scaler, every random generator the loop draws from (numpy's for
    batches, torch's for dropout, the objective's for G-Loss masks), the
    corpus graph, early stopping with its best snapshot, the starting point,
    and the history so far (as JSON).
    """
    return {
        "version": TRAINING_STATE_VERSION, "epoch": epoch, "stopped": bool(stopped),
        "weights": [encoder.state_dict(), head.state_dict()],
        "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "scaler": scaler.state_dict(),
        "rng": {"numpy": json.dumps(rng.bit_generator.state), "torch": torch.get_rng_state(),
                "device": _device_rng_state(device), "objective": objective.rng_state()},
        "graph": snapshot_to_tensors(hook.snapshot()),
        "early": {"best_score": float(early.best_score), "best_tie": float(early._best_tie),
                  "best_epoch": early.best_epoch, "since_best": early.since_best,
                  "weights": None if early.state is None else early.state[0],
                  "graph": None if early.state is None else snapshot_to_tensors(early.state[1])},
        "start_point": None if start_point is None else {
            "weights": start_point[0][0], "graph": snapshot_to_tensors(start_point[0][1]),
            "correct": torch.from_numpy(np.asarray(start_point[1], bool))},
        "best_correct": None if best_correct is None else torch.from_numpy(np.asarray(best_correct, bool)),
        "result": json.dumps({"history": result.history, "n_steps": result.n_steps,
                              "start_score": result.start_score, "start_log_loss": result.start_log_loss}),
    }


def _restore_training_state(state, encoder, head, restore, *, rng, objective, hook, early, result, opt, sched,
                            scaler, device):
    """Put back what :func:`_training_state` returned; ``(next epoch, stopped, start_point, best_correct)``."""
    if state.get("version") != TRAINING_STATE_VERSION:
        raise ValueError(f"the checkpoint's training state has version {state.get('version')!r}; this skgloss "
                         f"reads version {TRAINING_STATE_VERSION}")
    restore((state["weights"], snapshot_from_tensors(state["graph"])))
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    rng.bit_generator.state = json.loads(state["rng"]["numpy"])
    torch.set_rng_state(state["rng"]["torch"])
    if state["rng"]["device"] is not None:
        _set_device_rng_state(device, state["rng"]["device"])
    objective.set_rng_state(state["rng"]["objective"])
    e = state["early"]
    early.best_score, early._best_tie, early.best_epoch, early.since_best = (
        e["best_score"], e["best_tie"], e["best_epoch"], e["since_best"])
    early.state = None if e["weights"] is None else (e["weights"], snapshot_from_tensors(e["graph"]))
    s = state["start_point"]
    start_point = None if s is None else ((s["weights"], snapshot_from_tensors(s["graph"])), s["correct"].numpy())
    result.start_correct = None if start_point is None else start_point[1]
    best_correct = None if state["best_correct"] is None else state["best_correct"].numpy()
    saved = json.loads(state["result"])
    result.history, result.n_steps = saved["history"], saved["n_steps"]
    result.start_score, result.start_log_loss = saved["start_score"], saved["start_log_loss"]
    return state["epoch"] + 1, state["stopped"], start_point, best_correct


def _diverged(record, config, early):
    """A non-finite training loss: keep the best epoch so far (with validation rows), or fail."""
    what = (f"the training loss became {record['loss']} in epoch {record['epoch']}: training diverged "
            f"(learning_rate={config.learning_rate} may be too high; precision={config.precision!r})")
    if early is None:
        raise FloatingPointError(f"{what}; with no validation rows there is no earlier epoch to keep")
    warnings.warn(f"{what}; training stopped and the best epoch so far on validation (or the pre-trained "
                  "starting point) is kept: see best_epoch_", RuntimeWarning, stacklevel=5)


def _warn_if_graph_term_idle(history, config):
    """Warn when no masked row ever entered L_G: the fit was cross-entropy alone, scaled by (1 - λ)."""
    used = [r.get("masked_rows_used") for r in history]
    if config.loss != "gloss" or config.lam == 0 or not used or None in used or sum(used) > 0:
        return
    warnings.warn(
        f"every G-Loss batch was degenerate: in {sum(r['steps'] for r in history)} steps no masked row reached a "
        "kept labeled row through its batch's graph, so L_G taught nothing and the fit was (1 - lam) times "
        "cross-entropy (history_ counts 'degenerate_batches'). With many classes and few rows each, a class "
        "rarely has two rows in a batch: use batching='class' or a larger batch_size.",
        UserWarning, stacklevel=5)
