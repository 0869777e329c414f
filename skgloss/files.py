"""Texts and labels from files, and predictions to files, for the command line.

Formats, by suffix:

- ``.csv`` / ``.tsv``: a header row; the text and label columns are named.
  A ``.csv`` file's delimiter is ``sep`` when given, else read from its
  header: the first of ``,`` ``;`` tab ``|`` that splits the header into
  fields that include the named columns (a spreadsheet's ``;``-separated
  export reads as it is); ``.tsv`` is tab-separated;
- ``.jsonl`` (optionally ``.gz``): one JSON object a line, with the named keys;
- ``.parquet``: the named columns of a Parquet file (needs ``pyarrow``:
  ``pip install 'skgloss[parquet]'``);
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
import itertools
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from ._validation import unicode_error

__all__ = ["read_texts", "iter_texts", "iter_records", "write_predictions", "PredictionWriter",
           "check_predictions_path", "FORMATS"]

FORMATS = (".csv", ".tsv", ".jsonl", ".jsonl.gz", ".parquet", ".txt")
#: What a ``.csv`` file's header may be split by, in the order they are tried.
DELIMITERS = (",", ";", "\t", "|")


def _format(path):
    name = path.name.lower()
    for suffix in (".jsonl.gz", ".csv", ".tsv", ".jsonl", ".parquet", ".txt"):
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


def read_texts(path, *, text_column="text", label_column=None, labels_path=None, encoding="utf-8-sig", sep=None):
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
    sep : str or None, default=None
        A ``.csv`` file's delimiter (one character); None reads it from the
        header (see the module docstring).

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
    path = _check_file(path, encoding, sep)
    if _format(path) == ".txt" and label_column is not None and labels_path is None:
        raise ValueError(f"{path}: a .txt file has no label column; give a labels file "
                         "(one label a line) or use CSV/JSONL")
    texts, labels, lines = [], [], []
    with _decoding(path, encoding):
        for line, text, label, _ in _records(path, text_column, label_column if labels_path is None else None,
                                             encoding, sep):
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
        warnings.warn(f"{path}: {len(missing)} row(s) have fewer fields than the header (first: "
                      f"{lines[missing[0]]}); they have no label and are read as unlabeled (-1)", UserWarning,
                      stacklevel=2)
    for i, v in enumerate(labels):
        if isinstance(v, (list, dict)):
            raise ValueError(f"{path}, {lines[i]}: the label is a {type(v).__name__}, not a single value")
    out = np.empty(len(labels), dtype=object)
    out[:] = [-1 if v is _MISSING or _unlabeled(v) else v for v in labels]
    return texts, out


def iter_texts(path, *, text_column="text", encoding="utf-8-sig", chunk_size=8192, sep=None):
    """The texts of a file, ``chunk_size`` at a time (lists of str), checked as :func:`read_texts` checks them.

    Only one chunk is in memory at a time, so a file of any length can be
    predicted on.
    """
    for texts, _ in iter_records(path, text_column=text_column, encoding=encoding, chunk_size=chunk_size, sep=sep):
        yield texts


def iter_records(path, *, text_column="text", encoding="utf-8-sig", chunk_size=8192, sep=None):
    """``(texts, rows)`` of a file, ``chunk_size`` rows at a time; ``skgloss predict`` reads its input this way.

    ``rows`` holds every field of each row as a dict (column or key to
    value; ``{"text": ...}`` for a ``.txt`` file), so that predictions can
    be written beside the input's other columns. The texts are checked as
    :func:`read_texts` checks them.
    """
    path = _check_file(path, encoding, sep)
    texts, rows, n = [], [], 0
    with _decoding(path, encoding):
        for _, text, _, row in _records(path, text_column, None, encoding, sep):
            texts.append(text)
            rows.append(row)
            n += 1
            if len(texts) == chunk_size:
                yield texts, rows
                texts, rows = [], []
    if texts:
        yield texts, rows
    elif n == 0:
        raise ValueError(f"{path} is empty: no texts to read")


_MISSING = object()  # a label cell absent from a short CSV row


def _check_file(path, encoding, sep=None):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    _format(path)
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1 or sep in "\r\n\"" or sep.isalnum()):
        raise ValueError(f"sep={sep!r}: a delimiter is one character that is not a letter, digit, quote or "
                         "line break")
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


def _checked_text(path, where, text):
    if not isinstance(text, str):
        what = "no text (fewer fields than the header?)" if text is None else \
            f"the text is {type(text).__name__} {text!r}, not a string"
        raise ValueError(f"{path}, {where}: {what}")
    exc = unicode_error(text)
    if exc is not None:
        raise ValueError(f"{path}, {where}: the text is not valid Unicode ({exc.reason} at character "
                         f"{exc.start})")
    return text


def _check_columns(path, columns, names, kind="column"):
    for name in names:
        if name is not None and name not in columns:
            raise ValueError(f"{path}: no {kind} {name!r}; its {kind}s are {list(columns)}")


def _delimiter(path, fmt, sep, encoding, wanted):
    """``sep``; a tab for ``.tsv``; for ``.csv`` the first of :data:`DELIMITERS` whose header has ``wanted``."""
    if sep is not None:
        return sep
    if fmt == ".tsv":
        return "\t"
    with _open(path, encoding) as f:
        header = f.readline()
    names = [n for n in wanted if n is not None]
    splits = {d: next(csv.reader([header], delimiter=d), []) for d in DELIMITERS}
    for d in DELIMITERS:
        if names and all(n in splits[d] for n in names):
            return d
    # none has the columns: the delimiter that gives the most fields, so the error lists real column names
    return max(DELIMITERS, key=lambda d: (len(splits[d]), -DELIMITERS.index(d)))


def _records(path, text_column, label_column, encoding, sep=None):
    """``(where, text, raw label, row)`` for every row of a file, in order.

    ``where`` names the row in messages (``"line 3"``, ``"row 3"`` for
    Parquet); the label is None without a label column; ``row`` is every
    field of the row as a dict.
    """
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
                    yield f"line {j}", b, None, {"text": b}
                blank.clear()
                yield f"line {i}", _checked_text(path, f"line {i}", text), None, {"text": text}
    elif fmt in (".csv", ".tsv"):
        delimiter = _delimiter(path, fmt, sep, encoding, (text_column, label_column))
        with _open(path, encoding) as f:
            reader = csv.DictReader(f, delimiter=delimiter)
            columns = reader.fieldnames or []
            if columns:
                _check_columns(path, columns, (text_column, label_column))
            for row in reader:
                label = None
                if label_column is not None:
                    label = _MISSING if row[label_column] is None else row[label_column]
                where = f"line {reader.line_num}"
                yield where, _checked_text(path, where, row[text_column]), label, \
                    {k: ("" if v is None else v) for k, v in row.items() if k is not None}
    elif fmt == ".parquet":
        yield from _parquet_records(path, text_column, label_column)
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
                yield f"line {i}", _checked_text(path, f"line {i}", row[text_column]), (
                    row[label_column] if label_column is not None else None), row


def _parquet_records(path, text_column, label_column):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError(f"{path}: reading Parquet needs pyarrow: pip install 'skgloss[parquet]'") from None
    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow's own errors: not a Parquet file, damaged footer
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None
    _check_columns(path, table.schema_arrow.names, (text_column, label_column))
    i = 0
    for batch in table.iter_batches(batch_size=8192):
        for row in batch.to_pylist():
            i += 1
            yield f"row {i}", _checked_text(path, f"row {i}", row[text_column]), (
                row[label_column] if label_column is not None else None), row


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


def _check_parent_folder(path):
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name")
    parent = path.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{path}: {parent} is a file, not a folder")


def check_report_path(path) -> Path:
    """Check, before any work, that a report can be written to ``path`` (not a folder, not under a file)."""
    path = Path(path)
    _check_parent_folder(path)
    return path


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
    _check_parent_folder(path)
    return path


class PredictionWriter:
    """Predictions written chunk by chunk: CSV (``.csv``/``.tsv``) or JSONL (``.jsonl``).

    Each row of the input comes back with its own fields (``columns``, in
    order; ``["text"]`` by default) followed by the prediction: CSV columns
    ``label`` and ``proba_<class>`` for each class, JSONL keys ``label`` and
    ``proba`` (``{class: p}``). Where the input already has a field of one
    of those names (a labeled file), every prediction field is named with a
    ``predicted_`` prefix instead (``predicted_label``, ...), or
    ``predicted2_``, ``predicted3_``, ... where those are taken too (a
    predictions file predicted again); see :attr:`label_field`. Nothing of
    the input is overwritten or dropped: a row with a field that the first
    row did not have and that the output cannot hold (a CSV column, or a
    JSONL key of a prediction field's name) is an error. A multi-label
    model's label is the list of its labels (JSON in a CSV cell). The rows
    go to a temporary file beside ``path``
    that replaces it when the writer closes without an error, so a failed
    or interrupted prediction never leaves a half-written file (nor
    destroys an older one).

    Use as a context manager; :meth:`write` takes one chunk at a time.
    """

    def __init__(self, path, classes, columns=("text",)):
        self.path = check_predictions_path(path)
        self.classes = [c.item() if hasattr(c, "item") else c for c in classes]
        self.fmt = _format(self.path)
        self.columns = list(columns)
        fields = ["label"] + ([f"proba_{c}" for c in self.classes] if self.fmt != ".jsonl" else ["proba"])
        prefixes = itertools.chain(["", "predicted_"], (f"predicted{n}_" for n in itertools.count(2)))
        prefix = next(p for p in prefixes if not {p + f for f in fields} & set(self.columns))
        #: the names of the prediction's fields: the label, then the probabilities (one per class in CSV)
        self.fields = [prefix + f for f in fields]
        self.label_field = self.fields[0]
        self.n_rows = 0

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.writing")
        self._file = open(self._tmp, "w", encoding="utf-8", newline="")
        if self.fmt != ".jsonl":
            self._csv = csv.writer(self._file, delimiter="," if self.fmt == ".csv" else "\t")
            self._csv.writerow(self.columns + self.fields)
        return self

    def write(self, texts, labels, proba, rows=None):
        """One chunk: the texts, their predicted labels and probabilities, and the input rows (dicts) if any."""
        rows = [{"text": t} for t in texts] if rows is None else rows
        for i, (row, label, p) in enumerate(zip(rows, labels, proba)):
            self._check_fields(row, self.n_rows + i + 1)
            label = label.item() if hasattr(label, "item") else label
            if self.fmt == ".jsonl":
                self._file.write(json.dumps({**row, self.label_field: label, self.fields[1]: {
                    str(c): round(float(v), 6) for c, v in zip(self.classes, p)}}, default=str) + "\n")
            else:
                self._csv.writerow([_cell(row.get(c)) for c in self.columns] + [_cell(label)]
                                   + [f"{float(v):.6f}" for v in p])
        self.n_rows += len(texts)

    def _check_fields(self, row, number):
        if self.fmt == ".jsonl":
            clash = sorted(set(row) & set(self.fields))
            if clash:
                raise ValueError(f"input row {number} has the field {clash[0]!r}, which the prediction "
                                 "takes (the first row has no such field): give every row the same fields")
        else:
            extra = [k for k in row if k not in self.columns]
            if extra:
                raise ValueError(f"input row {number} has the field {extra[0]!r}, which the first row has "
                                 "not and a CSV has no column for: write .jsonl predictions to keep it")

    def __exit__(self, exc_type, exc, tb):
        self._file.close()
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)
        return False


def _cell(value):
    """A field of an input row as a CSV cell: None empty, lists and objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return value


def write_predictions(path, texts, labels, proba, classes, rows=None, columns=("text",)):
    """Write one prediction per text (all at once; see :class:`PredictionWriter`). Returns the path."""
    with PredictionWriter(path, classes, columns) as writer:
        writer.write(texts, labels, proba, rows)
    return writer.path
