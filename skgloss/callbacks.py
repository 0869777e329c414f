"""Hooks into a fit: user callbacks, and the early stopping that every fit uses.

A callback is any object with some of these methods (the loop calls those
that exist):

- ``on_fit_begin(info)``: once, before the first epoch; ``info`` is a dict
  with ``n_train``, ``n_validation``, ``max_epochs``, ``steps_per_epoch``,
  ``device`` and ``precision``;
- ``on_epoch_end(epoch, record)``: after each epoch, with the epoch's
  history record (the dict that ends up in ``history_``: each loss term's
  mean, ``val_score``, ``seconds``, ...). Returning ``True`` stops the fit
  after this epoch (the best epoch's weights are still restored);
- ``on_fit_end(history)``: once, after the last epoch.

This is the seam a tracker uses; for example, TensorBoard::

    from torch.utils.tensorboard import SummaryWriter

    class TensorBoard(Callback):
        def __init__(self, log_dir):
            self.log_dir = log_dir
        def on_fit_begin(self, info):
            self.writer = SummaryWriter(self.log_dir)
        def on_epoch_end(self, epoch, record):
            for name, value in record.items():
                if isinstance(value, float):
                    self.writer.add_scalar(name, value, epoch)
        def on_fit_end(self, history):
            self.writer.close()

    GLossTextClassifier(callbacks=[TensorBoard("runs/gloss")])
"""

from __future__ import annotations

import numpy as np

__all__ = ["Callback", "EarlyStopping", "check_callbacks", "call_callbacks"]

_HOOKS = ("on_fit_begin", "on_epoch_end", "on_fit_end")


class Callback:
    """Base class with empty hooks; subclass and override what you need."""

    def on_fit_begin(self, info: dict) -> None:
        pass

    def on_epoch_end(self, epoch: int, record: dict) -> bool | None:
        return None

    def on_fit_end(self, history: list) -> None:
        pass


def check_callbacks(callbacks, name="callbacks") -> list:
    """``callbacks`` as a list; every item must have at least one hook."""
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"{name} must be None or a list of callback objects, got {type(callbacks).__name__}")
    for i, cb in enumerate(callbacks):
        if not any(callable(getattr(cb, hook, None)) for hook in _HOOKS):
            raise TypeError(f"{name}[{i}] ({type(cb).__name__}) has none of the methods {list(_HOOKS)}")
    return list(callbacks)


def call_callbacks(callbacks, hook, *args) -> bool:
    """Call ``hook`` on every callback that has it; True when any of them returned True."""
    stop = False
    for cb in callbacks:
        method = getattr(cb, hook, None)
        if callable(method):
            answer = method(*args)
            stop = (answer is True or (isinstance(answer, np.bool_) and bool(answer))) or stop  # numpy's True too
    return stop


class EarlyStopping:
    """Best validation score, patience, and a snapshot of the best state.

    Parameters
    ----------
    patience : int or None
        Stop after this many epochs without a better score (None: never stop).
    snapshot : callable
        Returns a copy of the state to keep (weights, corpus graph).
    restore : callable
        Takes what ``snapshot`` returned and puts it back.

    Attributes
    ----------
    best_score : float
    best_epoch : int or None
    """

    def __init__(self, patience, snapshot, restore):
        self.patience = patience
        self._snapshot, self._restore = snapshot, restore
        self.best_score, self.best_epoch, self.since_best, self.state = -np.inf, None, 0, None
        self._best_tie = -np.inf

    def update(self, epoch: int, score: float, tie_break: float = 0.0) -> bool:
        """Record the epoch's score (snapshotting a new best); True when patience has run out.

        ``tie_break`` (higher is better, e.g. minus the validation log-loss)
        decides between epochs with the same score; a full tie keeps the
        earlier epoch.
        """
        if (score, tie_break) > (self.best_score, self._best_tie):
            self.best_score, self.best_epoch, self.since_best = score, epoch, 0
            self._best_tie = tie_break
            self.state = self._snapshot()
            return False
        self.since_best += 1
        return self.patience is not None and self.since_best >= self.patience

    def restore_best(self):
        """Put the best epoch's state back (nothing to do if no epoch was scored)."""
        if self.state is not None:
            self._restore(self.state)
