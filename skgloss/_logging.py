"""The ``skgloss`` logger, and how an estimator's ``verbose`` maps onto it.

Library code never prints: it logs to ``logging.getLogger("skgloss")``
(or a child of it). Configure that logger as for any library; the estimators'
``verbose`` parameter is a shortcut for the common case:

- ``verbose=0``: nothing beyond warnings, no progress bars;
- ``verbose=1``: progress bars, and INFO messages (model loading, one summary
  line per epoch);
- ``verbose>=2``: also DEBUG messages (corpus-graph refreshes, validation
  splits).

For the duration of a call with ``verbose > 0`` the logger's level is lowered
to INFO or DEBUG, and, when no handler would show the messages (neither the
``skgloss`` logger nor its ancestors has one), a handler that writes through
``tqdm.write`` to stderr (so that it does not break progress bars) is attached.
Both are undone when the call returns: no logging state outlives it.
"""

from __future__ import annotations

import contextlib
import logging
import threading

logger = logging.getLogger("skgloss")
logger.addHandler(logging.NullHandler())

__all__ = ["logger", "verbosity"]


class _TqdmHandler(logging.Handler):
    def emit(self, record):
        import sys

        from tqdm.auto import tqdm

        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def _has_real_handler(log):
    while log is not None:
        if any(not isinstance(h, logging.NullHandler) for h in log.handlers):
            return True
        if not log.propagate:
            return False
        log = log.parent
    return False


class _Calls:
    """The calls with ``verbose > 0`` in progress (threads may overlap): what the first saved, what each asked."""

    lock = threading.Lock()
    levels = []  # one entry per call in progress
    saved_level = None
    handler = None


def _apply():
    """The logger's level and handler for the calls in progress (``_Calls.lock`` held)."""
    if not _Calls.levels:
        logger.setLevel(_Calls.saved_level)
        if _Calls.handler is not None:
            logger.removeHandler(_Calls.handler)
            _Calls.handler = None
        return
    wanted = min(_Calls.levels)
    logger.setLevel(_Calls.saved_level)
    if logger.getEffectiveLevel() > wanted:
        logger.setLevel(wanted)
    if _Calls.handler is not None:
        _Calls.handler.setLevel(wanted)


@contextlib.contextmanager
def verbosity(verbose):
    """Show the ``skgloss`` logger's INFO (``verbose == 1``) or DEBUG (``verbose >= 2``) messages for a call.

    Calls may overlap (threads): the first to start saves the logger's
    level, the level in effect is the lowest any call in progress asked
    for, and the last to end restores what the first saved.
    """
    if not verbose:
        yield
        return
    level = logging.INFO if verbose == 1 else logging.DEBUG
    with _Calls.lock:
        if not _Calls.levels:
            _Calls.saved_level = logger.level
            if not _has_real_handler(logger):
                _Calls.handler = _TqdmHandler(level)
                _Calls.handler.setFormatter(logging.Formatter("[skgloss] %(message)s"))
                logger.addHandler(_Calls.handler)
        _Calls.levels.append(level)
        _apply()
    try:
        yield
    finally:
        with _Calls.lock:
            _Calls.levels.remove(level)
            _apply()
