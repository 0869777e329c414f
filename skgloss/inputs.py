"""The input pipeline: texts tokenized once, batches cut from the tokens and sent ahead.

A fit tokenizes its corpus once (:class:`TokenizedTexts`: the fast tokenizer
on chunks of texts, truncated at ``max_length``, kept as one integer matrix
and the length of every text). A batch is then an index array: its tensors
are a slice of that matrix padded to the batch's longest text
(:meth:`TokenizedTexts.collate`), exactly what the tokenizer itself returns
with ``padding=True``.

:func:`device_batches` turns a sequence of index arrays into batches on the
device. For a CUDA device the host tensors are pinned and copied without
blocking, so that the host cuts the next batch while the device still works
on the step before (the training step itself never waits for the device;
see :mod:`skgloss.training`). Cutting a batch is a numpy slice, far cheaper
than a step, so no worker processes are needed.

The order of rows is the caller's: :func:`length_sorted` gives a
longest-first order, which keeps padding small (inference embeds in that
order, :func:`skgloss.encoder.embed_tokens`).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .devices import transfer_options

__all__ = ["LONG_TEXT", "TokenizedTexts", "TruncationWarning", "window_overlap", "warn_truncated", "char_budget",
           "cut_at_whitespace", "device_batches", "length_sorted", "length_grouped_batches", "class_aware_batches",
           "to_device"]


#: Characters per token a text is first cut to (times ``max_length``, plus a margin); a cut text that
#: then falls short of ``max_length`` tokens is tokenized whole.
_CHARS_PER_TOKEN = 12
_WHITESPACE = (" ", "\n", "\t", "\r")


def char_budget(max_length: int) -> int:
    """Characters of a text that are tokenized first: enough for ``max_length`` tokens of any usual text."""
    return _CHARS_PER_TOKEN * int(max_length) + 64


def cut_at_whitespace(text: str, budget: int) -> str:
    """``text`` cut to at most ``budget`` characters, at the last whitespace (whole when it has none there).

    Tokenizers split words at whitespace before anything else, so the tokens
    of a text cut between two words are the first tokens of the whole text:
    once the cut text has ``max_length`` tokens, truncating it gives what
    truncating the whole text would, without tokenizing a 50,000-character
    text to keep 128 tokens of it. A text with no whitespace in the second
    half of the budget is kept whole.
    """
    if len(text) <= budget:
        return text
    k = max(text.rfind(c, budget // 2, budget) for c in _WHITESPACE)
    return text[:k] if k > 0 else text


class TruncationWarning(UserWarning):
    """Some texts had more tokens than ``max_length``; the rest of them was not seen."""


def _outside_stacklevel():
    """The ``stacklevel`` of the first caller outside the skgloss package (where a warning should point)."""
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and (os.path.abspath(frame.f_code.co_filename).startswith(here)
                                 or frame.f_code.co_filename.endswith(os.path.join("sklearn", "utils",
                                                                                   "_set_output.py"))):
        frame, level = frame.f_back, level + 1  # skgloss's frames, and scikit-learn's set_output wrapper
    return level


def warn_truncated(tokens_or_count, n_texts, max_length, max_positions=None):
    """One :class:`TruncationWarning` that says how many of ``n_texts`` texts were cut (none: no warning).

    The warning points at the first caller outside skgloss (the user's ``fit`` or ``predict`` line).
    """
    n_cut = int(np.sum(tokens_or_count.truncated) if hasattr(tokens_or_count, "truncated") else tokens_or_count)
    if n_cut == 0:
        return
    room = (f" (this encoder takes up to {max_positions})" if max_positions and max_positions > max_length else "")
    warnings.warn(f"{n_cut} of {n_texts} texts have more than max_length={max_length} tokens and were cut to "
                  f"their first {max_length} (special tokens included): the rest of them is not used. Raise "
                  f"max_length{room} to use more of each text.", TruncationWarning, stacklevel=_outside_stacklevel())


LONG_TEXT = ("truncate", "chunk")


def window_overlap(max_length: int) -> int:
    """Tokens shared by consecutive windows of ``long_text="chunk"``: a quarter of ``max_length``."""
    return int(max_length) // 4


class TokenizedTexts:
    """Texts tokenized once: truncated at ``max_length``, or cut into overlapping windows.

    With ``long_text="truncate"``, long texts are first cut to
    :func:`char_budget` characters at a word boundary
    (:func:`cut_at_whitespace`), so that time and memory follow
    ``max_length``, not the texts' length; the tokens are the same.

    With ``long_text="chunk"``, every text becomes one or more windows of at
    most ``max_length`` tokens (special tokens included); consecutive windows
    of a text share :func:`window_overlap` tokens (the tokenizer's
    ``stride``), so no token is lost. A batch (:meth:`collate`) then holds
    every window of its texts and an averaging matrix, with which
    :func:`skgloss.encoder.encode` pools a text's window embeddings into one
    (their mean): a row is still a text, in training and in inference.

    Parameters
    ----------
    tokenizer : transformers tokenizer
        A fast tokenizer tokenizes a chunk of texts in one call;
        ``long_text="chunk"`` needs one.
    texts : sequence of str
    max_length : int
        Tokens per text, or per window (special tokens included).
    chunk_size : int, default=4096
        Texts per tokenizer call.
    long_text : {"truncate", "chunk"}, default="truncate"

    Attributes
    ----------
    ids : ndarray of shape (n_windows, max_length), int32
        Token ids, left-aligned; the tail of each row is padding. One row per
        text (``"truncate"``) or per window (``"chunk"``).
    window_lengths : ndarray of shape (n_windows,), int64
        Tokens per row of ``ids``.
    window_start : ndarray of shape (n + 1,), int64
        Text i's windows are the rows ``window_start[i]:window_start[i + 1]`` of ``ids``.
    lengths : ndarray of shape (n,), int64
        Tokens per text (over all of its windows with ``"chunk"``, overlaps
        counted twice): what batches are sorted and grouped by.
    truncated : ndarray of shape (n,), bool
        Whether the text had more than ``max_length`` tokens and lost the
        rest (never with ``"chunk"``).
    """

    def __init__(self, tokenizer, texts, max_length: int, *, chunk_size: int = 4096, long_text: str = "truncate"):
        n = len(texts)
        self.max_length = int(max_length)
        self.long_text = long_text
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.pad_left = getattr(tokenizer, "padding_side", "right") == "left"
        self.token_types = "token_type_ids" in getattr(tokenizer, "model_input_names", ())
        self.truncated = np.zeros(n, dtype=bool)
        if long_text == "chunk":
            self._windows(tokenizer, texts, chunk_size)
            return
        if long_text != "truncate":
            raise ValueError(f"long_text must be one of {LONG_TEXT}, got {long_text!r}")
        self.ids = np.full((n, self.max_length), self.pad_id, dtype=np.int32)
        self.lengths = np.zeros(n, dtype=np.int64)
        self.window_lengths = self.lengths
        self.window_start = np.arange(n + 1, dtype=np.int64)
        budget = char_budget(self.max_length)

        def encode(chunk, limit):
            return tokenizer(chunk, truncation=True, max_length=limit, padding=False,
                             return_attention_mask=False, return_token_type_ids=False)["input_ids"]

        for start in range(0, n, chunk_size):
            chunk = [texts[i] for i in range(start, min(n, start + chunk_size))]
            cut = [cut_at_whitespace(t, budget) for t in chunk]
            # one token more than kept: a text that fills it is longer than max_length
            encoded = encode(cut, self.max_length + 1)
            # a cut text short of that (a run of spaces or symbols): the whole text after all
            again = [j for j, (c, t, ids) in enumerate(zip(cut, chunk, encoded))
                     if len(ids) <= self.max_length and len(c) < len(t)]
            for j, ids in zip(again, encode([chunk[j] for j in again], self.max_length + 1) if again else []):
                cut[j] = chunk[j]
                encoded[j] = ids
            long = [j for j, ids in enumerate(encoded) if len(ids) > self.max_length]
            self.truncated[start + np.asarray(long, dtype=np.int64)] = True
            for j, ids in zip(long, encode([cut[j] for j in long], self.max_length) if long else []):
                encoded[j] = ids
            for i, ids in enumerate(encoded, start):
                self.ids[i, :len(ids)] = ids
                self.lengths[i] = len(ids)

    def _windows(self, tokenizer, texts, chunk_size):
        """``long_text="chunk"``: every text as overlapping windows of at most ``max_length`` tokens."""
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("long_text='chunk' needs a fast tokenizer (its overflowing tokens give the windows); "
                             f"{type(tokenizer).__name__} is not one")
        special = tokenizer.num_special_tokens_to_add(pair=False)
        if self.max_length - special <= window_overlap(self.max_length):
            raise ValueError(f"long_text='chunk' needs max_length > {special} special tokens + an overlap of "
                             f"{window_overlap(self.max_length)}; got max_length={self.max_length}")
        windows, owners = [], []
        for start in range(0, len(texts), chunk_size):
            chunk = [texts[i] for i in range(start, min(len(texts), start + chunk_size))]
            out = tokenizer(chunk, truncation=True, max_length=self.max_length, stride=window_overlap(self.max_length),
                            return_overflowing_tokens=True, padding=False, return_attention_mask=False,
                            return_token_type_ids=False)
            windows.extend(out["input_ids"])
            owners.extend(start + np.asarray(out["overflow_to_sample_mapping"], dtype=np.int64))
        owners = np.asarray(owners, dtype=np.int64)
        self.ids = np.full((len(windows), self.max_length), self.pad_id, dtype=np.int32)
        self.window_lengths = np.zeros(len(windows), dtype=np.int64)
        for i, ids in enumerate(windows):
            self.ids[i, :len(ids)] = ids
            self.window_lengths[i] = len(ids)
        counts = np.bincount(owners, minlength=len(texts))
        if owners.size and np.any(np.diff(owners) < 0):
            raise RuntimeError("the tokenizer returned windows out of text order")
        self.window_start = np.r_[0, np.cumsum(counts)].astype(np.int64)
        self.lengths = np.bincount(owners, weights=self.window_lengths, minlength=len(texts)).astype(np.int64)

    def __len__(self):
        return self.lengths.shape[0]

    def collate(self, rows) -> dict:
        """Host tensors of the texts ``rows``, padded to their longest (window).

        Returns
        -------
        batch : dict of torch.Tensor
            ``input_ids`` and ``attention_mask`` (int64, shape (w, L): one
            row per text, or per window with ``long_text="chunk"``), and
            ``token_type_ids`` (zeros) where the tokenizer uses them; padding
            on the tokenizer's side. With ``"chunk"`` also
            ``window_pool`` (float32, shape (b, w)): row i averages text i's
            windows (``1 / its window count`` on them, 0 elsewhere).
        """
        rows = np.asarray(rows)
        if self.long_text == "chunk":
            counts = self.window_start[rows + 1] - self.window_start[rows]
            windows = (np.concatenate([np.arange(self.window_start[r], self.window_start[r + 1]) for r in rows])
                       if len(rows) else np.zeros(0, dtype=np.int64))
            pool = np.zeros((len(rows), len(windows)), dtype=np.float32)
            pool[np.repeat(np.arange(len(rows)), counts), np.arange(len(windows))] = np.repeat(1.0 / counts, counts)
            batch = self._padded(windows)
            batch["window_pool"] = torch.from_numpy(pool)
            return batch
        return self._padded(rows)

    def _padded(self, rows):
        """``input_ids``/``attention_mask`` (and ``token_type_ids``) of rows of :attr:`ids`."""
        lengths = self.window_lengths[rows]
        L = max(1, int(lengths.max(initial=0)))
        offset = (L - lengths) if self.pad_left else np.zeros_like(lengths)
        pos = np.arange(L)[None, :] - offset[:, None]
        mask = (pos >= 0) & (pos < lengths[:, None])
        ids = np.where(mask, self.ids[rows[:, None], np.clip(pos, 0, self.max_length - 1)], self.pad_id)
        batch = {"input_ids": torch.from_numpy(ids.astype(np.int64)),
                 "attention_mask": torch.from_numpy(mask.astype(np.int64))}
        if self.token_types:
            batch["token_type_ids"] = torch.zeros_like(batch["input_ids"])
        return batch


def length_sorted(tokens: TokenizedTexts, rows=None):
    """``rows`` (default: all) ordered by token length, longest first (stable)."""
    rows = np.arange(len(tokens)) if rows is None else np.asarray(rows)
    return rows[np.argsort(-tokens.lengths[rows], kind="stable")]


def length_grouped_batches(rows, lengths, batch_size: int, rng, *, group=50):
    """Random batches of texts of similar length (less padding).

    The idea of Hugging Face's ``LengthGroupedSampler``: shuffle the rows,
    cut them into groups of ``group · batch_size``, sort each group by
    length, cut it into batches, and shuffle the order of all batches. Every
    row is in exactly one batch; which rows share a batch is still random
    from epoch to epoch, within similar lengths.

    Parameters
    ----------
    rows : int array
    lengths : int array
        Token length of every row index (``TokenizedTexts.lengths``).
    batch_size : int
    rng : numpy.random.Generator
    group : int, default=50
        Batches per sorted group.

    Returns
    -------
    list of int arrays
    """
    order = rng.permutation(np.asarray(rows))
    span = group * batch_size
    batches = []
    for start in range(0, len(order), span):
        chunk = order[start:start + span]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def class_aware_batches(rows, y, batch_size: int, rng, *, per_class: int = 4):
    """Random batches in which every class present has at least two labeled rows.

    Each class's labeled rows are shuffled and cut into groups of
    ``per_class`` (K; a last group of one joins the group before it, so a
    class with two or more rows never leaves a lone row); the groups of all
    classes are shuffled and packed whole into batches of at most
    ``batch_size`` rows (a group that fits in no batch opens another one),
    so a batch holds about ``batch_size / K`` classes (P) with K or more rows
    each. Rows labeled ``-1`` are shuffled and spread evenly over the
    batches. Every row is in exactly one batch.

    With many classes and random batches most classes have a single row in
    a batch, which G-Loss can neither keep nor mask; here each has a kept
    and a masked row.

    Parameters
    ----------
    rows : int array
    y : int array
        Class id of every row index, ``-1`` for unlabeled rows.
    batch_size : int
    rng : numpy.random.Generator
    per_class : int >= 2, default=4
        K.

    Returns
    -------
    list of int arrays
    """
    if per_class < 2:
        raise ValueError(f"per_class must be >= 2, got {per_class}")
    rows = np.asarray(rows)
    labels = np.asarray(y)[rows]
    groups = []
    for c in np.unique(labels[labels >= 0]):
        members = rng.permutation(rows[labels == c])
        cut = [members[i:i + per_class] for i in range(0, len(members), per_class)]
        if len(cut) > 1 and len(cut[-1]) == 1:
            lone = cut.pop()
            cut[-1] = np.concatenate([cut[-1], lone])
        groups.extend(cut)
    unlabeled = rng.permutation(rows[labels < 0])
    parts = [[] for _ in range(max(1, -(-len(rows) // batch_size)))]
    load = [0] * len(parts)
    for i in rng.permutation(len(groups)):  # each group to the emptiest batch, or a new one if it does not fit
        for piece in np.array_split(groups[i], -(-len(groups[i]) // batch_size)):  # cut only if batch_size < K
            j = int(np.argmin(load))
            if load[j] + len(piece) > batch_size:
                parts.append([])
                load.append(0)
                j = len(parts) - 1
            parts[j].append(piece)
            load[j] += len(piece)
    n_batches, load = len(parts), np.asarray(load, dtype=np.int64)
    # fill every batch up to the same size (at most batch_size) with unlabeled rows; n_batches · size >= len(rows)
    deficit = np.maximum(0, min(batch_size, -(-len(rows) // n_batches)) - load)
    cuts = np.cumsum(np.minimum(deficit, len(unlabeled)))
    cuts = np.minimum(cuts, len(unlabeled))
    fill = np.split(unlabeled, cuts[:-1]) if n_batches > 1 else [unlabeled]
    leftover = unlabeled[cuts[-1]:]
    for j, extra in enumerate(np.array_split(leftover, n_batches)):
        parts[j].extend([fill[j], extra])
    batches = [np.concatenate(part) if part else np.zeros(0, dtype=rows.dtype) for part in parts]
    return [rng.permutation(b) for b in batches if len(b)]


def to_device(batch: dict, device: torch.device, options=None) -> dict:
    """Move a dict of host tensors to ``device`` (pinned and non-blocking where that pays)."""
    device = torch.device(device)
    options = transfer_options(device) if options is None else options
    if options.pin_memory:
        batch = {k: v.pin_memory() for k, v in batch.items()}
    return {k: v.to(device, non_blocking=options.non_blocking) for k, v in batch.items()}


def device_batches(tokens: TokenizedTexts, index_batches, device: torch.device, *, extra=None):
    """Yield ``(rows, batch)`` for each index array, ``batch`` on ``device``.

    Parameters
    ----------
    tokens : TokenizedTexts
    index_batches : iterable of int arrays
        Rows of ``tokens``, one array per batch.
    device : torch.device
    extra : dict of str to ndarray, optional
        Per-row arrays (for example labels) whose rows travel with the batch
        under the same names; ``"rows"`` (the indices themselves) always does.

    Yields
    ------
    rows : ndarray of int
        The host copy of the batch's indices.
    batch : dict of torch.Tensor on ``device``
    """
    device = torch.device(device)
    options = transfer_options(device)
    for rows in index_batches:
        rows = np.asarray(rows, dtype=np.int64)
        host = tokens.collate(rows)
        host["rows"] = torch.from_numpy(rows)
        for name, values in (extra or {}).items():
            host[name] = torch.from_numpy(np.ascontiguousarray(values[rows]))
        yield rows, to_device(host, device, options)
