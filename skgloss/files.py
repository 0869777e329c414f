"""Texts and labels from files, and predictions to files, for the command line.

Formats, by suffix:

- ``.csv`` / ``.tsv``: a header row; the text and label columns are named;
- ``.jsonl`` (optionally ``.gz``): one JSON object a line, with the named keys;
- ``.txt``: one text a line, no labels (labels may come from a second
  ``.txt`` file, one label a line).

An empty label cell, JSON ``null``, or ``-1`` marks an unlabeled row; such rows
come back as the integer ``-1``, which :class:`~skgloss.GLossTextClassifier`
treats as unlabeled. A CSV row with fewer fields than the header has no
label cell: it is read as unlabeled, with a warning that counts such rows.

Files are read as UTF-8 (a byte-order mark is skipped) unless another
``encoding`` is given; CSV fields of any length are read. Every problem is a
``ValueError`` naming the file and the row: bytes that are not in the
encoding, a text that is not valid Unicode (a lone surrogate from a JSON
escape), a label that is a list or an object.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from ._validation import unicode_error

__all__ = ["read_texts", "iter_texts", "write_predictions", "PredictionWriter", "check_predictions_path", "FORMATS"]

FORMATS = (".csv", ".tsv", ".jsonl", ".jsonl.gz", ".txt")


def _format(path):
    name = path.name.lower()
    for suffix in (".jsonl.gz", ".csv", ".tsv", ".jsonl", ".txt"):
        if name.endswith(suffix):
            return suffix
    raise ValueError(f"{path}: unknown file type; expected one of {', '.join(FORMATS)}")


def _open(path, encoding="utf-8-sig"):
    return gzip.open(path, "rt", encoding=encoding, newline="") if path.name.lower().endswith(".gz") else \
        open(path, encoding=encoding, newline="")


@contextlib.contextmanager
def _any_field_size():
    """Lift the csv module's 131,072-character field limit for one read, then put it back."""
    old = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _unlabeled(value):
    return value is None or (isinstance(value, str) and value.strip() in ("", "-1")) or \
        (isinstance(value, (int, float)) and not isinstance(value, bool) and value == -1)


def read_texts(path, *, text_column="text", label_column=None, labels_path=None, encoding="utf-8-sig"):
    """Read texts, and labels if asked for, from a CSV, TSV, JSONL or text file.

    Parameters
    ----------
    path : str or Path
        The file; its suffix picks the format (see the module docstring).
    text_column : str, default="text"
        Column (CSV/TSV) or key (JSONL) of the texts. Ignored for ``.txt``.
    label_column : str, optional
        Column or key of the labels; None reads no labels.
    labels_path : str or Path, optional
        For a ``.txt`` file: a file with one label a line, as many lines as
        texts (empty line or ``-1``: unlabeled).
    encoding : str, default="utf-8-sig"
        The files' text encoding (``"utf-8-sig"`` reads UTF-8 with or without
        a byte-order mark).

    Returns
    -------
    texts : list of str
    labels : ndarray of object or None
        Unlabeled rows hold the integer ``-1``; None when no labels were asked for.

    Raises
    ------
    FileNotFoundError
        A missing file.
    ValueError
        An empty file, a missing column or key, a row without text, a
        labels file whose length differs from the texts', bytes not in
        ``encoding``, a text that is not valid Unicode, or a label that is
        not a single value.
    """
    path = _check_file(path, encoding)
    if _format(path) == ".txt" and label_column is not None and labels_path is None:
        raise ValueError(f"{path}: a .txt file has no label column; give a labels file "
                         "(one label a line) or use CSV/JSONL")
    texts, labels, lines = [], [], []
    with _decoding(path, encoding):
        for line, text, label in _records(path, text_column, label_column if labels_path is None else None,
                                          encoding):
            texts.append(text)
            labels.append(label)
            lines.append(line)
        if labels_path is not None:
            labels = _read_labels_file(path, Path(labels_path), len(texts), encoding)
    if not texts:
        raise ValueError(f"{path} is empty: no texts to read")
    if label_column is None and labels_path is None:
        return texts, None
    missing = [i for i, v in enumerate(labels) if v is _MISSING]
    if missing:
        warnings.warn(f"{path}: {len(missing)} row(s) have fewer fields than the header (first: line "
                      f"{lines[missing[0]]}); they have no label and are read as unlabeled (-1)", UserWarning,
                      stacklevel=2)
    for i, v in enumerate(labels):
        if isinstance(v, (list, dict)):
            raise ValueError(f"{path}, line {lines[i]}: the label is a JSON {type(v).__name__}, not a single value")
    out = np.empty(len(labels), dtype=object)
    out[:] = [-1 if v is _MISSING or _unlabeled(v) else v for v in labels]
    return texts, out


def iter_texts(path, *, text_column="text", encoding="utf-8-sig", chunk_size=8192):
    """The texts of a file, ``chunk_size`` at a time (lists of str), checked as :func:`read_texts` checks them.

    Only one chunk is in memory at a time, so a file of any length can be
    predicted on (``skgloss predict`` reads its input this way).
    """
    path = _check_file(path, encoding)
    chunk, n = [], 0
    with _decoding(path, encoding):
        for _, text, _ in _records(path, text_column, None, encoding):
            chunk.append(text)
            n += 1
            if len(chunk) == chunk_size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk
    elif n == 0:
        raise ValueError(f"{path} is empty: no texts to read")


_MISSING = object()  # a label cell absent from a short CSV row


def _check_file(path, encoding):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    _format(path)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"encoding={encoding!r} is not a text encoding Python knows") from None
    return path


@contextlib.contextmanager
def _decoding(path, encoding):
    """Any CSV field size for the read; bytes that are not ``encoding`` as a ValueError naming the file."""
    try:
        with _any_field_size():
            yield
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not {encoding} text ({exc.reason} at byte {exc.start}); give its encoding "
                         "(for example --encoding latin-1)") from None


def _checked_text(path, line, text):
    if not isinstance(text, str):
        what = "no text (fewer fields than the header?)" if text is None else \
            f"the text is {type(text).__name__} {text!r}, not a string"
        raise ValueError(f"{path}, line {line}: {what}")
    exc = unicode_error(text)
    if exc is not None:
        raise ValueError(f"{path}, line {line}: the text is not valid Unicode ({exc.reason} at character "
                         f"{exc.start})")
    return text


def _records(path, text_column, label_column, encoding):
    """``(line, text, raw label)`` for every row of a file, in order; the label is None without a label column."""
    fmt = _format(path)
    if fmt == ".txt":
        blank = []  # blank lines are texts only when a text follows them
        with _open(path, encoding) as f:
            for i, line in enumerate(f, 1):
                text = line.rstrip("\r\n")
                if not text.strip():
                    blank.append((i, text))
                    continue
                for j, b in blank:
                    yield j, b, None
                blank.clear()
                yield i, _checked_text(path, i, text), None
    elif fmt in (".csv", ".tsv"):
        with _open(path, encoding) as f:
            reader = csv.DictReader(f, delimiter="," if fmt == ".csv" else "\t")
            columns = reader.fieldnames or []
            for name in (text_column, label_column):
                if name is not None and columns and name not in columns:
                    raise ValueError(f"{path}: no column {name!r}; its columns are {columns}")
            for row in reader:
                label = None
                if label_column is not None:
                    label = _MISSING if row[label_column] is None else row[label_column]
                yield reader.line_num, _checked_text(path, reader.line_num, row[text_column]), label
    else:
        with _open(path, encoding) as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}, line {i}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{path}, line {i}: a JSON {type(row).__name__}, not an object")
                for name in (text_column, label_column):
                    if name is not None and name not in row:
                        raise ValueError(f"{path}, line {i}: no key {name!r}; its keys are {sorted(row)}")
                yield i, _checked_text(path, i, row[text_column]), (
                    row[label_column] if label_column is not None else None)


def _read_labels_file(path, lp, n_texts, encoding):
    if not lp.is_file():
        raise FileNotFoundError(f"{lp}: no such file")
    with _open(lp, encoding) as f:
        labels = [line.rstrip("\r\n") for line in f]
    if len(labels) > n_texts and not any(s.strip() for s in labels[n_texts:]):
        labels = labels[:n_texts]
    if len(labels) != n_texts:
        raise ValueError(f"{lp} has {len(labels)} labels for the {n_texts} texts of {path}")
    return labels


def check_predictions_path(path) -> Path:
    """Check, before predicting, that predictions can be written to ``path``; returns it as a ``Path``.

    Raises ``ValueError`` for a suffix other than ``.csv``, ``.tsv`` or
    ``.jsonl``, a path that is a folder, or one under a file.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name ending in .csv, .tsv or .jsonl")
    if not path.name.lower().endswith((".csv", ".tsv", ".jsonl")):
        raise ValueError(f"{path}: predictions are written as .csv, .tsv or .jsonl")
    parent = path.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{path}: {parent} is a file, not a folder")
    return path


class PredictionWriter:
    """Predictions written chunk by chunk: CSV (``.csv``/``.tsv``) or JSONL (``.jsonl``).

    CSV columns: ``text``, ``label`` and ``proba_<class>`` for each class;
    JSONL objects: ``{"text", "label", "proba": {class: p}}``. The rows go to
    a temporary file beside ``path`` that replaces it when the writer closes
    without an error, so a failed or interrupted prediction never leaves a
    half-written file (nor destroys an older one).

    Use as a context manager; :meth:`write` takes one chunk at a time.
    """

    def __init__(self, path, classes):
        self.path = check_predictions_path(path)
        self.classes = [c.item() if hasattr(c, "item") else c for c in classes]
        self.fmt = _format(self.path)
        self.n_rows = 0

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.writing")
        self._file = open(self._tmp, "w", encoding="utf-8", newline="")
        if self.fmt != ".jsonl":
            self._csv = csv.writer(self._file, delimiter="," if self.fmt == ".csv" else "\t")
            self._csv.writerow(["text", "label"] + [f"proba_{c}" for c in self.classes])
        return self

    def write(self, texts, labels, proba):
        for t, label, p in zip(texts, labels, proba):
            label = label.item() if hasattr(label, "item") else label
            if self.fmt == ".jsonl":
                self._file.write(json.dumps({"text": t, "label": label, "proba": {
                    str(c): round(float(v), 6) for c, v in zip(self.classes, p)}}) + "\n")
            else:
                self._csv.writerow([t, label] + [f"{float(v):.6f}" for v in p])
        self.n_rows += len(texts)

    def __exit__(self, exc_type, exc, tb):
        self._file.close()
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)
        return False


def write_predictions(path, texts, labels, proba, classes):
    """Write one prediction per text (all at once; see :class:`PredictionWriter`). Returns the path."""
    with PredictionWriter(path, classes) as writer:
        writer.write(texts, labels, proba)
    return writer.path
