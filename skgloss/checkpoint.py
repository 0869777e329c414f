"""Checkpoints of a fit, and resuming from them.

``GLossTextClassifier.fit(X, y, checkpoint_dir=FOLDER)`` keeps in ``FOLDER``:

- ``checkpoint.json``: what identifies the fit (its parameters, a sha256 of
  the texts and labels, their number) and its seed, written before the
  first epoch;
- ``training_state.pt``: after every epoch, everything the training loop
  needs to go on from there (:func:`skgloss.training.train`'s ``state``:
  weights, optimizer moments, learning-rate schedule, every random
  generator, the corpus graph, early stopping, the history). Plain tensors,
  numbers and strings, read back with ``torch.load(weights_only=True)``;
- ``model/``: after every epoch that changes it, the model the fit would
  return if it ended there, as a model folder that
  ``GLossTextClassifier.from_pretrained`` loads (:mod:`skgloss.persistence`).

Each file and the model folder are replaced atomically (written beside,
then renamed into place), so a process killed at any moment leaves the
previous epoch's checkpoint or the new one. The state is written after the
model folder: a kill between the two leaves an older state, and resuming
from it repeats the epoch, which writes the same model again.

``fit(..., checkpoint_dir=FOLDER, resume=True)`` reads the state, checks
that the texts, labels and parameters are those of the checkpointed fit
(``verbose``, ``callbacks`` and ``device`` may differ), takes its seed (so
``random_state=None`` resumes too) and goes on with the next epoch. The fit
then ends as the uninterrupted one would have: on the same device, the same
weights and predictions. With no state in the folder yet, ``resume=True``
starts from the beginning, so one command serves the first run and every
rerun.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import numpy as np
import torch

from .persistence import json_params, save_model

__all__ = ["CheckpointFolder", "fit_fingerprint"]

STATE_FILE = "training_state.pt"
FIT_FILE = "checkpoint.json"
MODEL_DIR = "model"
#: Parameters that may change between a fit and its resumption: they do not change what is computed.
_FREE_PARAMS = ("verbose", "callbacks", "device")


def fit_fingerprint(est, texts, classes, y_idx, sample_weight=None) -> dict:
    """What identifies a fit: its parameters (as JSON) and a sha256 of the texts, labels and sample weights."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little") + data)
    digest.update(repr(classes.tolist()).encode())
    digest.update(np.asarray(y_idx, dtype=np.int64).tobytes())
    if sample_weight is not None:
        digest.update(b"sample_weight" + np.asarray(sample_weight, dtype=np.float64).tobytes())
    params = {k: v for k, v in json_params(est).items() if k not in _FREE_PARAMS}
    return {"params": params, "data_sha256": digest.hexdigest(), "n_samples": len(texts)}


def _replace_file(path: Path, write):
    """Write ``path`` through ``write(tmp_path)`` into a sibling, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class CheckpointFolder:
    """The checkpoint folder of one fit (see the module docstring).

    Parameters
    ----------
    folder : str or path-like
        Created if missing. A file, or a non-empty folder that holds no
        skgloss checkpoint, is refused.
    resume : bool
        Whether a checkpoint found in ``folder`` is to be continued. Without
        it, a folder that already holds a training state is refused (its
        work would be overwritten).
    """

    def __init__(self, folder, resume):
        if not isinstance(resume, (bool, np.bool_)):
            raise TypeError(f"resume must be True or False, got {resume!r}")
        self.folder = Path(folder)
        self.resume = bool(resume)
        self.model_epoch = None  # the epoch whose model model/ holds, once this fit has written it
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"checkpoint_dir={os.fspath(folder)!r} is a file, not a folder")
        if self.folder.is_dir():
            ours = {FIT_FILE, STATE_FILE, MODEL_DIR}
            foreign = [p.name for p in self.folder.iterdir() if p.name not in ours and not p.name.startswith(".")]
            if foreign:
                raise ValueError(f"checkpoint_dir={os.fspath(folder)!r} holds files that are not a skgloss "
                                 f"checkpoint ({', '.join(sorted(foreign)[:3])}): choose an empty or new folder")
        if self.has_state() and not self.resume:
            raise ValueError(f"checkpoint_dir={os.fspath(folder)!r} holds the checkpoint of an earlier fit: pass "
                             "resume=True to go on with it, or choose another folder (or delete this one)")

    @property
    def model_folder(self) -> Path:
        return self.folder / MODEL_DIR

    def has_state(self) -> bool:
        return (self.folder / STATE_FILE).is_file()

    def begin(self, fingerprint, new_seed):
        """The fit's seed, and the training state to resume from (or None).

        With a state to resume, checks ``fingerprint`` against the
        checkpointed fit's and returns its seed and state; otherwise records
        ``fingerprint`` with ``new_seed()`` and returns that seed.
        """
        if self.resume and self.has_state():
            try:
                saved = json.loads((self.folder / FIT_FILE).read_text())
                fingerprint_saved, seed = saved["fingerprint"], int(saved["seed"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"checkpoint_dir={os.fspath(self.folder)!r}: {FIT_FILE} is missing or unreadable "
                                 f"({type(exc).__name__}: {exc}); the checkpoint cannot be resumed") from None
            self._check_same_fit(fingerprint_saved, fingerprint)
            try:
                state = torch.load(self.folder / STATE_FILE, map_location="cpu", weights_only=True)
            except Exception as exc:  # a truncated or foreign file: torch's own errors vary
                raise ValueError(f"checkpoint_dir={os.fspath(self.folder)!r}: {STATE_FILE} cannot be read "
                                 f"({type(exc).__name__}: {str(exc)[:200]})") from None
            return seed, state
        seed = new_seed()
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"fingerprint": fingerprint, "seed": seed}, indent=2)
        _replace_file(self.folder / FIT_FILE, lambda p: p.write_text(text))
        return seed, None

    def _check_same_fit(self, saved, now):
        where = f"checkpoint_dir={os.fspath(self.folder)!r}"
        if saved["data_sha256"] != now["data_sha256"]:
            raise ValueError(f"{where} is the checkpoint of a fit on other texts or labels ({saved['n_samples']} "
                             f"texts, now {now['n_samples']}): resume needs the same X and y")
        changed = sorted(k for k in set(saved["params"]) | set(now["params"])
                         if saved["params"].get(k) != now["params"].get(k))
        if changed:
            detail = ", ".join(f"{k}={saved['params'].get(k)!r} (now {now['params'].get(k)!r})" for k in changed)
            raise ValueError(f"{where} is the checkpoint of a fit with other parameters: {detail}")

    def write(self, state, estimator=None, model_epoch=None):
        """After an epoch: the model folder (when ``estimator``, the model of ``model_epoch``, is given),
        then the training state."""
        if estimator is not None:
            save_model(estimator, self.model_folder)
            self.model_epoch = model_epoch
        _replace_file(self.folder / STATE_FILE, lambda p: torch.save(state, p))

    def __repr__(self):
        return f"CheckpointFolder({os.fspath(self.folder)!r})"

