"""Logging: the 'skgloss' logger, verbose levels mapped onto it, no state left behind, no bare prints."""

import ast
import logging
from pathlib import Path

import pytest
from conftest import make_texts

from skgloss import GLossTextClassifier
from skgloss._logging import logger, verbosity

PACKAGE = Path(__file__).resolve().parents[1] / "skgloss"


def test_verbosity_sets_level_and_handler_only_for_the_call(capsys, monkeypatch):
    monkeypatch.setattr(logger, "propagate", False)  # as if nothing configured logging (pytest's handlers aside)
    level, handlers = logger.level, list(logger.handlers)
    with verbosity(2):
        assert logger.getEffectiveLevel() == logging.DEBUG
        logger.debug("inside")
    assert logger.level == level and logger.handlers == handlers
    assert "[skgloss] inside" in capsys.readouterr().err
    with verbosity(0):
        logger.info("hidden")
    assert "hidden" not in capsys.readouterr().err


def test_verbosity_uses_the_applications_handler(caplog):
    # with logging configured (caplog installs a root handler), no handler of our own is added
    before = list(logger.handlers)
    with caplog.at_level(logging.INFO, logger="skgloss"), verbosity(1):
        assert logger.handlers == before
        logger.info("routed")
    assert "routed" in caplog.text


def test_fit_logs_one_info_line_per_epoch(tiny_bert, caplog):
    # the application's logging configuration decides what shows, whatever verbose says
    X, y = make_texts(8)
    with caplog.at_level(logging.INFO, logger="skgloss"):
        GLossTextClassifier(tiny_bert, max_epochs=2, max_length=16, batch_size=8, n_iter_no_change=None,
                            validation_fraction=0.25, random_state=0, verbose=0).fit(X, y)
    epochs = [r for r in caplog.records if r.getMessage().startswith("epoch ")]
    # with validation rows, the starting point is scored (and logged) first
    assert [r.getMessage().split(":")[0] for r in epochs] == ["epoch 0 (the starting point)", "epoch 1", "epoch 2"]
    assert all(r.name == "skgloss" and r.levelno == logging.INFO for r in epochs)
    assert all("val_score=" in r.getMessage() for r in epochs)


@pytest.mark.parametrize("verbose", [0, 1])
def test_verbose_1_shows_epochs_on_stderr_without_logging_configured(tiny_bert, capsys, monkeypatch, verbose):
    monkeypatch.setattr(logger, "propagate", False)
    X, y = make_texts(8)
    GLossTextClassifier(tiny_bert, max_epochs=1, max_length=16, batch_size=8, random_state=0,
                        verbose=verbose).fit(X, y)
    err = capsys.readouterr().err
    assert ("[skgloss] epoch 1:" in err) is bool(verbose)


def test_progress_bar_reads_the_loss_without_a_torch_warning(tiny_bert, monkeypatch):
    # the bar shows the loss every _BAR_EVERY steps: reading a tensor that still needs grad made torch warn
    import warnings

    from skgloss import training

    monkeypatch.setattr(training, "_BAR_EVERY", 1)
    X, y = make_texts(8)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*requires_grad=True to a scalar")
        clf = GLossTextClassifier(tiny_bert, max_epochs=1, max_length=16, batch_size=4, random_state=0,
                                  validation_fraction=0.0, verbose=1).fit(X, y)
    assert clf.history_[0]["steps"] >= 2


def test_fit_at_verbose_2_logs_corpus_graph_refreshes(tiny_bert, caplog):
    X, y = make_texts(8)
    y = y.copy()
    y[::3] = -1
    with caplog.at_level(logging.DEBUG, logger="skgloss"):
        GLossTextClassifier(tiny_bert, max_epochs=1, max_length=16, batch_size=8, random_state=0,
                            verbose=2).fit(X, y)
    assert any("corpus graph refresh" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)


def test_library_code_has_no_bare_prints():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "cli.py":  # the command line's output is its product
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_overlapping_calls_in_threads_leave_the_logger_as_it_was():
    """Call A (verbose=1) starts, B (verbose=2) starts, A ends, B ends: B had saved A's level and put it back
    after A had restored the original, leaving the logger at INFO for good."""
    import threading

    level, handlers = logger.level, list(logger.handlers)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def call_a():
        with verbosity(1):
            a_in.set()
            b_in.wait()
        a_out.set()

    def call_b():
        a_in.wait()
        with verbosity(2):
            b_in.set()
            a_out.wait()
            seen["b_alone"] = logger.getEffectiveLevel()

    threads = [threading.Thread(target=call_a), threading.Thread(target=call_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["b_alone"] == logging.DEBUG  # B still shows its messages after A ended
    assert logger.level == level and logger.handlers == handlers
