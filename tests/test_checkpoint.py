"""Checkpoints after every epoch, and resuming an interrupted fit to the uninterrupted result."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import REPO, make_texts

from skgloss import GLossTextClassifier
from skgloss.checkpoint import FIT_FILE, MODEL_DIR, STATE_FILE

# device="cpu": resuming promises the uninterrupted result on the same device, bit for bit on the CPU
BASE = dict(max_length=16, batch_size=8, max_epochs=4, learning_rate=2e-3, n_iter_no_change=None,
            random_state=0, device="cpu")
SETUPS = {
    # validation rows, early stopping's snapshots, the starting point, the corpus graph of a -1 fit
    "gloss, -1 rows, validation": dict(loss="gloss", validation_fraction=0.25),
    # no validation: the closed-form head at the end; cross-entropy
    "ce, no validation": dict(loss="ce", validation_fraction=0),
}


class StopAt:
    """A callback that presses Ctrl-C at the end of epoch ``epoch`` (before that epoch's checkpoint)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, epoch, record):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def data(semi_supervised):
    X, y = make_texts(12, seed=3)
    if semi_supervised:
        y = y.copy()
        y[::3] = -1
    return X, y


def without_times(history):
    return [{k: v for k, v in r.items() if "seconds" not in k} for r in history]


@pytest.mark.parametrize("setup", list(SETUPS))
def test_a_resumed_fit_ends_where_the_uninterrupted_one_ends(tiny_bert, tmp_path, setup):
    X, y = data("-1" in setup)
    params = dict(BASE, **SETUPS[setup])
    whole = GLossTextClassifier(tiny_bert, **params).fit(X, y)

    interrupted = GLossTextClassifier(tiny_bert, **params, callbacks=[StopAt(3)])
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(X, y, checkpoint_dir=tmp_path / "ckpt")
    assert not hasattr(interrupted, "classes_")  # the estimator stays unfitted; the work is in the folder
    assert {p.name for p in (tmp_path / "ckpt").iterdir()} == {FIT_FILE, STATE_FILE, MODEL_DIR}

    resumed = GLossTextClassifier(tiny_bert, **params).fit(X, y, checkpoint_dir=tmp_path / "ckpt", resume=True)
    assert [r["epoch"] for r in resumed.history_] == [1, 2, 3, 4]
    assert without_times(resumed.history_) == without_times(whole.history_)
    assert resumed.best_epoch_ == whole.best_epoch_
    np.testing.assert_array_equal(resumed.predict_proba(X), whole.predict_proba(X))
    np.testing.assert_array_equal(resumed.transform(X), whole.transform(X))


def test_a_resumed_few_shot_fit_ships_the_same_encoder_midpoint(tiny_bert, tmp_path, monkeypatch):
    """Too few labels to hold out, on labels the pre-trained encoder does not separate: the step budget runs to
    its end and the fit ships the midpoint of its starting and trained weights. Resumed, the start is still the
    pre-trained encoder, not the checkpoint's weights."""
    import skgloss.classifier

    monkeypatch.setattr(skgloss.classifier, "_STEP_BUDGET", 12)  # 24 rows in batches of 8: 4 epochs
    X, _ = data(False)
    y = np.random.default_rng(1).permutation(np.repeat(["a", "b"], len(X) // 2))
    params = dict(BASE, validation_fraction="auto")
    whole = GLossTextClassifier(tiny_bert, **params).fit(X, y)
    assert whole.cv_results_["n_folds"] == 0 and whole.cv_results_["encoder_mix"] == 0.5 and whole.n_iter_ == 4
    with pytest.raises(KeyboardInterrupt):
        GLossTextClassifier(tiny_bert, **params, callbacks=[StopAt(3)]).fit(X, y, checkpoint_dir=tmp_path / "c")
    resumed = GLossTextClassifier(tiny_bert, **params).fit(X, y, checkpoint_dir=tmp_path / "c", resume=True)
    np.testing.assert_array_equal(resumed.transform(X), whole.transform(X))
    np.testing.assert_array_equal(resumed.predict_proba(X), whole.predict_proba(X))


def test_the_checkpointed_model_is_the_one_the_fit_returns(tiny_bert, tmp_path):
    """With validation rows, model/ holds the selected epoch: after the last epoch, the fitted model."""
    X, y = data(True)
    clf = GLossTextClassifier(tiny_bert, **BASE, **SETUPS["gloss, -1 rows, validation"])
    clf.fit(X, y, checkpoint_dir=tmp_path / "ckpt")
    saved = GLossTextClassifier.from_pretrained(tmp_path / "ckpt" / MODEL_DIR, device="cpu")
    assert saved.best_epoch_ == clf.best_epoch_
    np.testing.assert_array_equal(saved.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(saved.label_distributions_, clf.label_distributions_)


def test_checkpointing_does_not_change_the_fit(tiny_bert, tmp_path):
    X, y = data(True)
    params = dict(BASE, **SETUPS["gloss, -1 rows, validation"])
    plain = GLossTextClassifier(tiny_bert, **params).fit(X, y)
    checkpointed = GLossTextClassifier(tiny_bert, **params).fit(X, y, checkpoint_dir=tmp_path / "c")
    np.testing.assert_array_equal(checkpointed.predict_proba(X), plain.predict_proba(X))


def test_resume_without_a_checkpoint_yet_starts_from_the_beginning(tiny_bert, tmp_path):
    X, y = data(False)
    params = dict(BASE, **SETUPS["ce, no validation"], max_epochs=2)
    plain = GLossTextClassifier(tiny_bert, **params).fit(X, y)
    fresh = GLossTextClassifier(tiny_bert, **params).fit(X, y, checkpoint_dir=tmp_path / "new", resume=True)
    np.testing.assert_array_equal(fresh.predict_proba(X), plain.predict_proba(X))
    # resuming a finished fit trains no more and returns the same model
    again = GLossTextClassifier(tiny_bert, **params).fit(X, y, checkpoint_dir=tmp_path / "new", resume=True)
    assert len(again.history_) == 2
    np.testing.assert_array_equal(again.predict_proba(X), plain.predict_proba(X))


def test_random_state_none_resumes_with_the_checkpointed_seed(tiny_bert, tmp_path):
    X, y = data(False)
    params = dict(BASE, **SETUPS["ce, no validation"], random_state=None)
    with pytest.raises(KeyboardInterrupt):
        GLossTextClassifier(tiny_bert, **params, callbacks=[StopAt(2)]).fit(X, y, checkpoint_dir=tmp_path / "c")
    first = GLossTextClassifier(tiny_bert, **params).fit(X, y, checkpoint_dir=tmp_path / "c", resume=True)
    second = GLossTextClassifier(tiny_bert, **params).fit(X, y, checkpoint_dir=tmp_path / "c", resume=True)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


@pytest.mark.parametrize("change, message", [
    ({"params": {"learning_rate": 1e-3}}, "learning_rate=0.002 (now 0.001)"),
    ({"labels": True}, "other texts or labels"),
])
def test_resume_refuses_another_fit(tiny_bert, tmp_path, change, message):
    X, y = data(False)
    params = dict(BASE, **SETUPS["ce, no validation"], max_epochs=1)
    GLossTextClassifier(tiny_bert, **params).fit(X, y, checkpoint_dir=tmp_path / "c")
    if "labels" in change:
        y = y[::-1].copy()
    params.update(change.get("params", {}))
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GLossTextClassifier(tiny_bert, **params).fit(X, y, checkpoint_dir=tmp_path / "c", resume=True)
    # verbose, callbacks and device do not make another fit
    GLossTextClassifier(tiny_bert, **dict(BASE, **SETUPS["ce, no validation"], max_epochs=1, verbose=0,
                                          callbacks=[])).fit(*data(False), checkpoint_dir=tmp_path / "c",
                                                             resume=True)


def test_bad_checkpoint_folders_fail_before_training(tiny_bert, tmp_path):
    X, y = data(False)
    clf = GLossTextClassifier(tiny_bert, **dict(BASE, max_epochs=1, validation_fraction=0))
    clf.fit(X, y, checkpoint_dir=tmp_path / "done")
    with pytest.raises(ValueError, match="holds the checkpoint of an earlier fit: pass resume=True"):
        clf.fit(X, y, checkpoint_dir=tmp_path / "done")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        clf.fit(X, y, checkpoint_dir=tmp_path / "file")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a skgloss checkpoint"):
        clf.fit(X, y, checkpoint_dir=tmp_path / "other")
    assert os.listdir(tmp_path / "other") == ["notes.txt"]
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        clf.fit(X, y, resume=True)
    with pytest.raises(TypeError, match="resume must be True or False"):
        clf.fit(X, y, checkpoint_dir=tmp_path / "x", resume="yes")


CHILD = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from conftest import make_texts
from skgloss import GLossTextClassifier

class KillAt:
    def on_epoch_end(self, epoch, record):
        if epoch == 3:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no exception: the process is gone

X, y = make_texts(12, seed=3)
GLossTextClassifier({model!r}, **{params!r}, callbacks=[KillAt()]).fit(X, y, checkpoint_dir={folder!r})
"""


def test_resume_after_kill_9(tiny_bert, tmp_path):
    X, y = data(False)
    params = dict(BASE, **SETUPS["ce, no validation"])
    script = CHILD.format(tests=str(REPO / "tests"), model=tiny_bert, params=params, folder=str(tmp_path / "c"))
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                           timeout=300)
    assert child.returncode == -9, child.stderr
    resumed = GLossTextClassifier(tiny_bert, **params).fit(X, y, checkpoint_dir=tmp_path / "c", resume=True)
    whole = GLossTextClassifier(tiny_bert, **params).fit(X, y)
    assert [r["epoch"] for r in resumed.history_] == [1, 2, 3, 4]
    np.testing.assert_array_equal(resumed.predict_proba(X), whole.predict_proba(X))


def test_a_damaged_checkpoint_is_one_clear_error(tiny_bert, tmp_path):
    X, y = data(False)
    params = dict(BASE, **SETUPS["ce, no validation"], max_epochs=1)
    GLossTextClassifier(tiny_bert, **params).fit(X, y, checkpoint_dir=tmp_path / "c")
    state = tmp_path / "c" / STATE_FILE
    state.write_bytes(state.read_bytes()[:1000])  # truncated, as by a full disk
    with pytest.raises(ValueError, match="training_state.pt cannot be read"):
        GLossTextClassifier(tiny_bert, **params).fit(X, y, checkpoint_dir=tmp_path / "c", resume=True)
    (tmp_path / "c" / FIT_FILE).unlink()
    with pytest.raises(ValueError, match="checkpoint.json is missing or unreadable"):
        GLossTextClassifier(tiny_bert, **params).fit(X, y, checkpoint_dir=tmp_path / "c", resume=True)
