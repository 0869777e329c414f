"""Texts and labels from files, and predictions to files, for the command line.

Formats, by suffix:

- ``.csv`` / ``.tsv``: a header row; the text and label columns are named;
- ``.jsonl`` (optionally ``.gz``): one JSON object a line, with the named keys;
- ``.txt``: one text a line, no labels (labels may come from a second
  ``.txt`` file, one label a line).

An empty label cell, JSON ``null``, or ``-1`` marks an unlabeled row; such rows
come back as the integer ``-1``, which :class:`~skgloss.GLossTextClassifier`
treats as unlabeled.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np

__all__ = ["read_texts", "write_predictions", "FORMATS"]

FORMATS = (".csv", ".tsv", ".jsonl", ".jsonl.gz", ".txt")


def _format(path):
    name = path.name.lower()
    for suffix in (".jsonl.gz", ".csv", ".tsv", ".jsonl", ".txt"):
        if name.endswith(suffix):
            return suffix
    raise ValueError(f"{path}: unknown file type; expected one of {', '.join(FORMATS)}")


def _open(path):
    return gzip.open(path, "rt", encoding="utf-8") if path.name.lower().endswith(".gz") else \
        open(path, encoding="utf-8", newline="")


def _unlabeled(value):
    return value is None or (isinstance(value, str) and value.strip() in ("", "-1")) or \
        (isinstance(value, (int, float)) and not isinstance(value, bool) and value == -1)


def read_texts(path, *, text_column="text", label_column=None, labels_path=None):
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
        An empty file, a missing column or key, a row without text, or a
        labels file whose length differs from the texts'.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    fmt = _format(path)
    texts, labels = [], []
    if fmt == ".txt":
        with _open(path) as f:
            texts = [line.rstrip("\r\n") for line in f]
        while texts and not texts[-1].strip():
            texts.pop()
        if label_column is not None and labels_path is None:
            raise ValueError(f"{path}: a .txt file has no label column; give a labels file "
                             "(one label a line) or use CSV/JSONL")
        if labels_path is not None:
            lp = Path(labels_path)
            if not lp.is_file():
                raise FileNotFoundError(f"{lp}: no such file")
            with _open(lp) as f:
                labels = [line.rstrip("\r\n") for line in f]
            labels = labels[:len(texts)] if len(labels) > len(texts) and not any(
                s.strip() for s in labels[len(texts):]) else labels
            if len(labels) != len(texts):
                raise ValueError(f"{lp} has {len(labels)} labels for the {len(texts)} texts of {path}")
    elif fmt in (".csv", ".tsv"):
        with _open(path) as f:
            reader = csv.DictReader(f, delimiter="," if fmt == ".csv" else "\t")
            columns = reader.fieldnames or []
            for name in (text_column, label_column):
                if name is not None and columns and name not in columns:
                    raise ValueError(f"{path}: no column {name!r}; its columns are {columns}")
            for row in reader:
                texts.append(row[text_column])
                if label_column is not None:
                    labels.append(row[label_column])
    else:
        with _open(path) as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}, line {i}: not valid JSON ({exc.msg})") from None
                for name in (text_column, label_column):
                    if name is not None and name not in row:
                        raise ValueError(f"{path}, line {i}: no key {name!r}; its keys are {sorted(row)}")
                texts.append(row[text_column])
                if label_column is not None:
                    labels.append(row[label_column])
    if not texts:
        raise ValueError(f"{path} is empty: no texts to read")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"{path}: the text of row {i + 1} is {type(t).__name__}, not a string")
    if label_column is None and labels_path is None:
        return texts, None
    out = np.empty(len(labels), dtype=object)
    out[:] = [-1 if _unlabeled(v) else v for v in labels]
    return texts, out


def write_predictions(path, texts, labels, proba, classes):
    """Write one prediction per text: CSV (``.csv``/``.tsv``) or JSONL (``.jsonl``).

    CSV columns: ``text``, ``label`` and ``proba_<class>`` for each class; JSONL
    objects: ``{"text", "label", "proba": {class: p}}``. Returns the path.
    """
    path = Path(path)
    fmt = _format(path)
    if fmt not in (".csv", ".tsv", ".jsonl"):
        raise ValueError(f"{path}: predictions are written as .csv, .tsv or .jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    classes = [c.item() if hasattr(c, "item") else c for c in classes]
    if fmt == ".jsonl":
        with open(path, "w", encoding="utf-8") as f:
            for t, label, p in zip(texts, labels, proba):
                label = label.item() if hasattr(label, "item") else label
                f.write(json.dumps({"text": t, "label": label,
                                    "proba": {str(c): round(float(v), 6) for c, v in zip(classes, p)}}) + "\n")
    else:
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter="," if fmt == ".csv" else "\t")
            w.writerow(["text", "label"] + [f"proba_{c}" for c in classes])
            for t, label, p in zip(texts, labels, proba):
                w.writerow([t, label] + [f"{float(v):.6f}" for v in p])
    return path
