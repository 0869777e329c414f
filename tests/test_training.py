"""The training loop's device-dependent paths, exercised on whatever machine runs the suite."""

import numpy as np
import pytest
import torch
from conftest import make_texts, prediction_atol

from skgloss import GLossTextClassifier
from skgloss.callbacks import Callback
from skgloss.encoder import accepts_4d_mask, encode, load_encoder
from skgloss.inputs import TokenizedTexts

FAST = dict(max_length=16, batch_size=8, max_epochs=2, learning_rate=2e-3, random_state=0, validation_fraction=0)


def linear_output_dtypes(clf_factory, X, y):
    """Fit, recording the dtype of the first attention projection's output in training steps."""
    seen = set()
    import skgloss.classifier

    real_load = skgloss.classifier.load_encoder

    def spying_load(*a, **kw):
        model, tok = real_load(*a, **kw)
        query = model.encoder.layer[0].attention.self.query
        query.register_forward_hook(lambda m, i, o: seen.add(o.dtype) if m.training else None)
        return model, tok

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(skgloss.classifier, "load_encoder", spying_load)
        clf = clf_factory().fit(X, y)
    return clf, seen


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16),
                                              ("fp16", torch.float16)])
def test_precision_runs_the_encoder_in_that_format(tiny_bert, precision, dtype):
    X, y = make_texts(8)
    clf, seen = linear_output_dtypes(lambda: GLossTextClassifier(tiny_bert, precision=precision, **FAST), X, y)
    assert clf.precision_ == precision
    assert seen == {dtype}
    assert clf.head_.weight.dtype == torch.float32  # weights stay float32
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    assert all(np.isfinite(h["loss"]) for h in clf.history_)


def test_bf16_fit_learns_the_toy_task(tiny_bert):
    X, y = make_texts(20)
    clf = GLossTextClassifier(tiny_bert, precision="bf16", **{**FAST, "max_epochs": 6}).fit(X, y)
    X_test, y_test = make_texts(20, seed=5)
    assert clf.score(X_test, y_test) >= 0.9


def test_compile_trains_through_torch_compile_with_the_same_result(tiny_bert, monkeypatch):
    X, y = make_texts(6)
    plain = GLossTextClassifier(tiny_bert, **FAST).fit(X, y).predict_proba(X)
    calls = []
    real = torch.compile

    def spy(model, **kw):
        calls.append((type(model).__name__, kw))
        return real(model, **kw)

    monkeypatch.setattr(torch, "compile", spy)
    clf = GLossTextClassifier(tiny_bert, compile={"backend": "eager"}, **FAST).fit(X, y)
    assert calls == [("BertModel", {"backend": "eager"})]
    assert type(clf.encoder_).__name__ == "BertModel"  # the plain module is kept and saved
    np.testing.assert_allclose(clf.predict_proba(X), plain, atol=prediction_atol(clf, floor=1e-5))


def test_compile_parameter_is_validated(tiny_bert):
    X, y = make_texts(4)
    with pytest.raises(ValueError, match="compile"):
        GLossTextClassifier(tiny_bert, compile="yes", **FAST).fit(X, y)


class Recorder(Callback):
    def __init__(self, stop_after=None):
        self.stop_after = stop_after
        self.info, self.epochs, self.end = None, [], None

    def on_fit_begin(self, info):
        self.info = info

    def on_epoch_end(self, epoch, record):
        self.epochs.append((epoch, dict(record)))
        return self.stop_after is not None and epoch >= self.stop_after

    def on_fit_end(self, history):
        self.end = history


def test_callbacks_see_every_epoch_and_can_stop_the_fit(tiny_bert):
    X, y = make_texts(8)
    rec = Recorder(stop_after=2)
    clf = GLossTextClassifier(tiny_bert, callbacks=[rec], **{**FAST, "max_epochs": 5,
                                                             "validation_fraction": 0.25}).fit(X, y)
    assert clf.n_iter_ == 2 and [e for e, _ in rec.epochs] == [1, 2]
    assert [r for _, r in rec.epochs] == clf.history_ and rec.end == clf.history_
    assert rec.info["max_epochs"] == 5 and rec.info["n_validation"] == 4 and rec.info["precision"] == clf.precision_
    assert clf.best_epoch_ in (0, 1, 2)  # the starting point competes as epoch 0


def test_a_callback_that_answers_numpys_true_stops_the_fit():
    """A stop rule written with numpy (``loss >= np.mean(...)``) returns np.True_, which `is True` missed."""
    from skgloss.callbacks import call_callbacks

    class Numpy(Callback):
        def on_epoch_end(self, epoch, record):
            return np.float64(record["loss"]) >= np.mean([1.0, 2.0])

    assert call_callbacks([Numpy()], "on_epoch_end", 1, {"loss": 2.0})
    assert not call_callbacks([Numpy()], "on_epoch_end", 1, {"loss": 1.0})
    assert not call_callbacks([Recorder()], "on_epoch_end", 1, {"loss": 1.0})  # None: go on


def test_callbacks_are_validated_and_survive_clone(tiny_bert):
    from sklearn.base import clone

    X, y = make_texts(4)
    with pytest.raises(TypeError, match=r"callbacks\[0\]"):
        GLossTextClassifier(tiny_bert, callbacks=[object()], **FAST).fit(X, y)
    with pytest.raises(TypeError, match="list"):
        GLossTextClassifier(tiny_bert, callbacks=Recorder(), **FAST).fit(X, y)
    c = clone(GLossTextClassifier(tiny_bert, callbacks=[Recorder()]))
    assert isinstance(c.callbacks[0], Recorder)


def test_saving_drops_callbacks(tiny_bert, tmp_path):
    X, y = make_texts(4)
    clf = GLossTextClassifier(tiny_bert, callbacks=[Recorder()], **{**FAST, "max_epochs": 1}).fit(X, y)
    loaded = GLossTextClassifier.from_pretrained(clf.save_pretrained(tmp_path / "m"))
    assert loaded.callbacks is None and loaded.precision_ == clf.precision_


def test_four_d_masks_give_the_same_embeddings(tiny_bert):
    enc, tok = load_encoder(tiny_bert)
    short, _ = make_texts(2, n_words=2)
    long_, _ = make_texts(2, n_words=9)
    tokens = TokenizedTexts(tok, short + long_, 16)
    batch = tokens.collate(np.arange(8))
    assert (batch["attention_mask"] == 0).any()  # padded
    assert accepts_4d_mask(enc, batch, "mean")
    enc.eval()
    with torch.no_grad():
        torch.testing.assert_close(encode(enc, batch, "mean", mask_4d=True), encode(enc, batch, "mean"))


def test_a_model_that_refuses_4d_masks_is_detected():
    class TwoDOnly(torch.nn.Module):
        def forward(self, input_ids, attention_mask, **kw):
            if attention_mask.ndim != 2:
                raise ValueError("expects a 2-D mask")
            return type("Out", (), {"last_hidden_state": torch.ones(*input_ids.shape, 3)})()

    batch = {"input_ids": torch.ones(2, 3, dtype=torch.long), "attention_mask": torch.tensor([[1, 1, 0], [1, 1, 1]])}
    assert not accepts_4d_mask(TwoDOnly(), batch, "mean")


def test_float32_solve_stays_close_to_the_float64_oracle(monkeypatch):
    """MPS has no float64: there G-Loss solves in float32. Its error against float64, measured here."""
    import skgloss.losses.gloss as gloss_module
    from skgloss.losses import g_loss

    torch.manual_seed(0)
    y = torch.tensor([0] * 12 + [1] * 12 + [2] * 8)
    h = torch.randn(32, 16)
    h[y == 1] += 0.8
    results = {}
    for dtype in (torch.float64, torch.float32):
        monkeypatch.setattr(gloss_module, "solve_dtype", lambda device, d=dtype: d)
        x = h.clone().requires_grad_(True)
        loss = g_loss(x, y, sigma=0.6, generator=torch.Generator().manual_seed(1))
        loss.backward()
        results[dtype] = (loss.item(), x.grad.clone())
    (l64, g64), (l32, g32) = results[torch.float64], results[torch.float32]
    assert abs(l32 - l64) <= 1e-5 * max(1.0, abs(l64))
    assert (g32 - g64).abs().max() <= 1e-4 * max(1e-6, g64.abs().max())


def test_the_schedule_covers_each_epoch_whatever_batches_it_runs():
    from skgloss.training import EpochSchedule

    plain = EpochSchedule(5, 3, 0.1)  # every epoch runs its 5 planned batches: the plain step count
    factors = []
    for epoch in (1, 2, 3):
        plain.start_epoch(epoch, 5, 5 * (epoch - 1))
        factors += [plain.factor(s) for s in range(5 * (epoch - 1), 5 * epoch)]
    warmup, total = 2, 15
    assert factors == pytest.approx([(s + 1) / (warmup + 1) if s < warmup else (total - s) / (total - warmup)
                                     for s in range(15)])
    for n in (2, 9):  # skipped batches, or class-aware batches that overflow
        schedule = EpochSchedule(5, 3, 0.1)
        step = 0
        for epoch in (1, 2, 3):
            schedule.start_epoch(epoch, n, step)
            ends = [schedule.factor(step + i + 1) for i in range(n)]
            step += n
            assert min(ends[:-1] if epoch == 3 else ends) > 0  # no step of the fit runs at rate 0
        assert schedule.factor(step) == 0.0  # and the rate reaches 0 with the last one


def test_a_fit_that_skips_batches_still_ends_its_schedule_at_zero(tiny_bert, monkeypatch):
    """6 labeled rows among 40, no pseudo-labels: most random batches have nothing to learn from and are skipped.
    The learning rate still decays to zero at the last step of max_epochs (it stopped at half its peak)."""
    import skgloss.training as training

    seen = {}
    make = training._optimizer

    def spy(*args, **kwargs):
        seen["opt"], seen["sched"] = make(*args, **kwargs)
        return seen["opt"], seen["sched"]

    monkeypatch.setattr(training, "_optimizer", spy)
    X, y = make_texts(20, seed=1)
    y = y.copy()
    y[6:] = -1
    clf = GLossTextClassifier(tiny_bert, pseudo_label_threshold=None, **{**FAST, "max_epochs": 3}).fit(X, y)
    assert sum(h["steps"] for h in clf.history_) < 3 * 5  # batches were skipped
    assert seen["sched"].get_last_lr()[0] == 0.0
