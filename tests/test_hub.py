"""Hub ids in from_pretrained (through a local huggingface_hub cache, offline) and push_to_hub (its API mocked).

No test reaches the network: loading reads a cache laid out as huggingface_hub
lays it out, and uploading replaces ``HfApi``'s two calls with recorders.
"""

import shutil

import numpy as np
import pytest
from conftest import make_texts

from skgloss import GLossTextClassifier
from skgloss.persistence import ModelFolderError

pytest.importorskip("huggingface_hub")
FAST = dict(max_length=16, batch_size=8, max_epochs=1, learning_rate=2e-3, validation_fraction=0, random_state=0)
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def fitted(tiny_bert):
    X, y = make_texts(8)
    return GLossTextClassifier(tiny_bert, **FAST).fit(X, y), X


def cache_repo(cache, repo_id, folder):
    """Put ``folder`` into a huggingface_hub cache as the ``main`` snapshot of model repo ``repo_id``."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(folder, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return repo / "snapshots" / COMMIT


def test_from_pretrained_takes_a_hub_id_from_the_cache_offline(fitted, tmp_path, monkeypatch):
    import huggingface_hub.constants

    clf, X = fitted
    cached = cache_repo(tmp_path / "cache", "someone/tiny-gloss", clf.save_pretrained(tmp_path / "saved"))
    loaded = GLossTextClassifier.from_pretrained("someone/tiny-gloss", cache_dir=tmp_path / "cache",
                                                 local_files_only=True)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # HF_HUB_OFFLINE=1, as read at import
    again = GLossTextClassifier.from_pretrained("someone/tiny-gloss", cache_dir=tmp_path / "cache")
    assert again.predict(X).tolist() == clf.predict(X).tolist()
    with pytest.raises(ValueError, match="'someone/other' is not a local folder, and the Hub repo"):
        GLossTextClassifier.from_pretrained("someone/other", cache_dir=tmp_path / "cache")
    (cached / "head.safetensors").write_bytes(b"damaged")  # what comes from the Hub is verified too
    with pytest.raises(ModelFolderError, match="head.safetensors"):
        GLossTextClassifier.from_pretrained("someone/tiny-gloss", cache_dir=tmp_path / "cache")


def test_push_to_hub_uploads_the_saved_folder(fitted, tmp_path, monkeypatch):
    from huggingface_hub import HfApi

    clf, X = fitted
    calls = {}

    def create_repo(self, repo_id, **kw):
        calls["create"] = (repo_id, kw)

    def upload_folder(self, *, repo_id, folder_path, **kw):
        calls["upload"] = (repo_id, kw)
        shutil.copytree(folder_path, tmp_path / "uploaded")  # the temporary folder is gone afterwards
        return "commit-info"

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    assert clf.push_to_hub("someone/tiny-gloss", private=True) == "commit-info"
    assert calls["create"] == ("someone/tiny-gloss", {"private": True, "exist_ok": True, "token": None})
    repo_id, kw = calls["upload"]
    assert repo_id == "someone/tiny-gloss" and kw["commit_message"] == "Upload skgloss model"
    uploaded = tmp_path / "uploaded"
    for name in ("skgloss.json", "README.md", "head.safetensors", "encoder/modules.json"):
        assert (uploaded / name).is_file(), name
    # what was uploaded loads back as the same model, by its repo id
    cache_repo(tmp_path / "cache", "someone/tiny-gloss", uploaded)
    loaded = GLossTextClassifier.from_pretrained("someone/tiny-gloss", cache_dir=tmp_path / "cache",
                                                 local_files_only=True)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    with pytest.raises(Exception, match="not fitted"):
        GLossTextClassifier().push_to_hub("someone/x")
