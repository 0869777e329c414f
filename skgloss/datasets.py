"""Data loading: the built-in demo set and the TextGCN benchmark files.

Neither loader knows this workplace's paths: the benchmark files are found
through ``data_home`` or the ``SKGLOSS_DATA`` environment variable.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from importlib import resources
from pathlib import Path

__all__ = ["load_support_tickets", "load_benchmark", "BENCHMARKS"]

#: sha256 of the gzip files, from the data README (TextGCN splits).
BENCHMARKS = {
    "mr": {"train": "ed23aeb1bccded1eace8b9d12b8ebc9612b04eebcbec3133a79ca522f5348f3b",
           "test": "38162f94be21dc5f523c9f30fb0873c78b9ccde409aecd38e06a0fb6ee6ce194"},
    "r8": {"train": "68c984b1863b6ef90e75e1ee7f6a5b82c95062b93698324155a7ab3b0c591875",
           "test": "ff93ab1039ba45ba5e6330970c5924f6451b626df1881ef862c57c755de65891"},
    "r52": {"train": "d168149703c957695ea28a8f301f1b763d54cf699eeb0a76b82bb032371807cf",
            "test": "c191559ca00f1c967ca73f0fb34a77f71f5b555ceeec1fcb4ebb34b51ecfd7ae"},
    "ohsumed": {"train": "c77df22b2080ef7f8c91038ec921ca2ebfb7d5bdfb4a5a026a45ac94c2d1889b",
                "test": "c633f029e22f99d076fccc6ae36b8e3289849b92d9b480ae0dd7ecefc15a7e53"},
    "20ng": {"train": "05c935e1c3f4365656b024d5456c48615a7d0dc3be1dd7a8585d82efa99a405b",
             "test": "6db0243e71f75d51efa47896ea614903d7bb814b22ac50e89b37e4ed77723cc7"},
}


def load_support_tickets(split="train"):
    """The built-in demo set: short support messages in four classes.

    Synthetic and CC0; see ``skgloss/data/README.md`` for its provenance.

    Parameters
    ----------
    split : {"train", "test", "all"}, default="train"
        600 train rows, 200 test rows. Train and test use disjoint phrases.

    Returns
    -------
    texts : list of str
    labels : list of str
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    raw = resources.files("skgloss").joinpath("data/support_tickets.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in raw.splitlines() if line]
    rows = [r for r in rows if split == "all" or r["split"] == split]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_benchmark(name, *, data_home=None, verify=True):
    """Train and test splits of a TextGCN benchmark (MR, R8, R52, Ohsumed, 20NG).

    Parameters
    ----------
    name : {"mr", "r8", "r52", "ohsumed", "20ng"}
    data_home : str or os.PathLike, optional
        Folder holding ``{name}/{train,test}.jsonl.gz``; defaults to the
        ``SKGLOSS_DATA`` environment variable.
    verify : bool, default=True
        Check each file's sha256 against the published checksum.

    Returns
    -------
    X_train, y_train, X_test, y_test : lists
        Texts and string labels, in the standard TextGCN order.
    """
    out = []
    for split, path in benchmark_files(name, data_home=data_home).items():
        if verify and _sha256(path) != BENCHMARKS[name][split]:
            raise ValueError(f"{path}: sha256 does not match the published checksum; the file is altered or "
                             "truncated (pass verify=False to load it anyway)")
        with gzip.open(path, "rt", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        out += [[r["text"] for r in rows], [r["label"] for r in rows]]
    return tuple(out)


def benchmark_files(name, *, data_home=None) -> dict:
    """``{"train": path, "test": path}`` of a benchmark, checked to exist (see :func:`load_benchmark`)."""
    if name not in BENCHMARKS:
        raise ValueError(f"name must be one of {sorted(BENCHMARKS)}, got {name!r}")
    if data_home is None:
        data_home = os.environ.get("SKGLOSS_DATA")
        if not data_home:
            raise ValueError(
                "no data folder: pass data_home=... or set SKGLOSS_DATA to the folder that holds "
                f"{name}/train.jsonl.gz and {name}/test.jsonl.gz (gzip JSON Lines, one "
                '{"text": ..., "label": ...} object per line)'
            )
    files = {split: Path(data_home) / name / f"{split}.jsonl.gz" for split in ("train", "test")}
    for split, path in files.items():
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: expected {name}/{split}.jsonl.gz under data_home={os.fspath(data_home)!r}, "
                'gzip JSON Lines with one {"text": ..., "label": ...} object per line'
            )
    return files
