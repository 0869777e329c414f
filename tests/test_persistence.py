"""Saving is atomic and complete; loading verifies the folder (skgloss.persistence)."""

import json
import os
import shutil

import numpy as np
import pytest
from conftest import make_texts, prediction_atol

from skgloss import GLossTextClassifier
from skgloss.persistence import FORMAT_VERSION, ModelFolderError, check_output_folder

FAST = dict(max_length=16, batch_size=8, max_epochs=1, learning_rate=2e-3, validation_fraction=0, random_state=0)


@pytest.fixture(scope="module")
def models(tiny_bert):
    """A fully labeled model and a semi-supervised one (with a corpus graph), and their texts."""
    X, y = make_texts(10)
    y_semi = y.copy()
    y_semi[::3] = -1
    return (GLossTextClassifier(tiny_bert, **FAST).fit(X, y),
            GLossTextClassifier(tiny_bert, **FAST).fit(X, y_semi), X)


@pytest.fixture
def saved(models, tmp_path):
    clf, _, X = models
    return clf.save_pretrained(tmp_path / "model"), clf, X


def edit_config(folder, change):
    path = folder / "skgloss.json"
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def test_the_manifest_lists_every_file_with_size_and_sha256(saved):
    folder, _, _ = saved
    meta = json.loads((folder / "skgloss.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {"skgloss.json"}
    assert set(meta["manifest"]) == on_disk
    assert "head.safetensors" in on_disk and "encoder/tokenizer_config.json" in on_disk
    assert all(e["size"] == (folder / n).stat().st_size and len(e["sha256"]) == 64
               for n, e in meta["manifest"].items())


def test_saving_over_another_model_leaves_exactly_the_new_models_files(models, tmp_path):
    clf, semi, X = models
    folder = semi.save_pretrained(tmp_path / "m")
    assert (folder / "corpus.safetensors").is_file()
    clf.save_pretrained(folder)
    assert not (folder / "corpus.safetensors").exists()
    loaded = GLossTextClassifier.from_pretrained(folder)
    assert not hasattr(loaded, "graph_")
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary folder left behind


def test_an_interrupted_save_leaves_the_old_model_whole(models, tmp_path, monkeypatch):
    clf, semi, X = models
    folder = semi.save_pretrained(tmp_path / "m")
    import safetensors.torch

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "save_file", interrupted)  # the head file, after the new encoder
    with pytest.raises(KeyboardInterrupt):
        clf.save_pretrained(folder)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    loaded = GLossTextClassifier.from_pretrained(folder)
    np.testing.assert_allclose(loaded.predict_proba(X), semi.predict_proba(X), atol=1e-6)
    assert hasattr(loaded, "graph_")


def test_saving_refuses_the_current_folder(models, tmp_path, monkeypatch):
    clf, _, _ = models
    (tmp_path / "skgloss.json").write_text("{}")  # even a model folder: replacing it would pull the cwd away
    monkeypatch.chdir(tmp_path)
    for target in (".", str(tmp_path), str(tmp_path.parent)):
        with pytest.raises(ModelFolderError, match="current folder"):
            clf.save_pretrained(target)


@pytest.mark.parametrize("kind", ["file", "foreign folder"])
def test_saving_refuses_to_replace_what_is_not_a_model(models, tmp_path, kind):
    clf, _, _ = models
    target = tmp_path / "out"
    if kind == "file":
        target.write_text("keep me")
        match = "is a file"
    else:
        target.mkdir()
        (target / "notes.txt").write_text("keep me")
        match = "holds other files"
    with pytest.raises(ModelFolderError, match=match):
        check_output_folder(target)
    with pytest.raises(ModelFolderError, match=match):
        clf.save_pretrained(target)
    assert "keep me" in (target.read_text() if kind == "file" else (target / "notes.txt").read_text())


def test_a_label_json_cannot_hold_fails_before_anything_is_written(tiny_bert, tmp_path):
    X, y = make_texts(5)
    import datetime

    # dates sort and fit, but are not JSON scalars (a tuple would be a label set: multi-label y)
    y = np.array([datetime.date(2020 + (label == "fruit"), 1, 1) for label in y], dtype=object)
    clf = GLossTextClassifier(tiny_bert, **FAST).fit(X, y)
    with pytest.raises(TypeError, match="JSON"):
        clf.save_pretrained(tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage, match", [
    (lambda f: [os.remove(f / "encoder" / n) for n in os.listdir(f / "encoder") if "token" in n or "vocab" in n],
     "is missing: the manifest"),
    (lambda f: (f / "head.safetensors").write_bytes((f / "head.safetensors").read_bytes()[:-7]), "is damaged"),
    (lambda f: (f / "head.safetensors").write_bytes(b"x" * (f / "head.safetensors").stat().st_size),
     "sha256 differs"),
    (lambda f: edit_config(f, lambda m: m.update(format_version=FORMAT_VERSION + 1)), "upgrade skgloss"),
    (lambda f: edit_config(f, lambda m: m["params"].update(lam=7)), r"skgloss.json: lam == 7, must be <= 1"),
    (lambda f: edit_config(f, lambda m: m["params"].update(shiny=True)), r"unknown parameters \['shiny'\]"),
    (lambda f: edit_config(f, lambda m: m.update(classes=["a", "b", "c"])), r"'weight' has shape \(2, 32\), "
                                                                             r"expected \(3, 32\)"),
    (lambda f: edit_config(f, lambda m: m.pop("classes")), "'classes' is missing"),
    (lambda f: (f / "skgloss.json").write_text("{not json"), "is not valid JSON"),
    (lambda f: shutil.rmtree(f), "is not a folder"),
])
def test_a_damaged_folder_is_refused_with_the_file_named(saved, damage, match):
    folder, _, _ = saved
    damage(folder)
    with pytest.raises(ModelFolderError, match=match):
        GLossTextClassifier.from_pretrained(folder)


def test_a_folder_without_manifest_loads_with_a_warning_but_still_needs_its_tokenizer(saved):
    folder, clf, X = saved
    edit_config(folder, lambda m: (m.pop("manifest"), m.pop("format_version")))
    with pytest.warns(UserWarning, match="no manifest"):
        loaded = GLossTextClassifier.from_pretrained(folder)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    (folder / "encoder" / "tokenizer_config.json").unlink()
    with pytest.raises(ModelFolderError, match="no complete tokenizer"), pytest.warns(UserWarning):
        GLossTextClassifier.from_pretrained(folder)


def test_a_newer_major_version_without_format_is_refused(saved):
    folder, _, _ = saved
    edit_config(folder, lambda m: (m.pop("format_version"), m.update(skgloss_version="99.0.0")))
    with pytest.raises(ModelFolderError, match="newer than this skgloss"):
        GLossTextClassifier.from_pretrained(folder)


def test_a_damaged_corpus_is_refused(models, tmp_path):
    _, semi, _ = models
    folder = semi.save_pretrained(tmp_path / "m")
    from safetensors.numpy import load_file, save_file

    c = load_file(str(folder / "corpus.safetensors"))
    c["label_distributions"] = c["label_distributions"][:, :1].copy()
    save_file(c, str(folder / "corpus.safetensors"))
    edit_config(folder, lambda m: m.pop("manifest"))  # as if the manifest had not caught it
    with pytest.raises(ModelFolderError, match="'label_distributions' has shape"), pytest.warns(UserWarning):
        GLossTextClassifier.from_pretrained(folder)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_the_saved_encoder_is_a_sentence_transformers_model(tiny_bert, tmp_path, pooling):
    """``SentenceTransformer(folder / "encoder")`` embeds as ``transform`` does, with the fit's pooling."""
    st = pytest.importorskip("sentence_transformers")
    X, y = make_texts(10)
    # precision="fp32": these are fp32 comparisons; "auto" computes in bf16 on a CPU with native bf16 (AMX, AVX512-BF16)
    clf = GLossTextClassifier(tiny_bert, **{**FAST, "pooling": pooling, "precision": "fp32"}).fit(X, y)
    folder = clf.save_pretrained(tmp_path / "m")
    pooling_config = json.loads((folder / "encoder" / "1_Pooling" / "config.json").read_text())
    assert pooling_config["pooling_mode_mean_tokens"] is (pooling == "mean")
    model = st.SentenceTransformer(str(folder / "encoder"), device="cpu")
    long = [" ".join(X[:6])]  # longer than max_length=16 tokens: both cut it at the same place
    emb = model.encode(X + long, convert_to_numpy=True, batch_size=8)
    np.testing.assert_allclose(emb, clf.transform(X + long), atol=1e-5)
    assert model.max_seq_length == FAST["max_length"]
    assert GLossTextClassifier.from_pretrained(folder).predict(X).tolist() == clf.predict(X).tolist()


def test_the_model_card_says_what_the_model_is(tiny_bert, tmp_path):
    from skgloss.model_card import _is_hub_id

    X, y = make_texts(40)
    clf = GLossTextClassifier(tiny_bert, **{**FAST, "validation_fraction": 0.25, "max_epochs": 2}).fit(X, y)
    folder = clf.save_pretrained(tmp_path / "my-classifier")
    card = (folder / "README.md").read_text()
    front, body = card.split("---\n")[1], card.split("---\n", 2)[2]
    assert "library_name: skgloss" in front and "pipeline_tag: text-classification" in front
    assert "base_model" not in front  # a local folder is no Hub id
    assert body.startswith("\n# my-classifier")
    assert "| classes | 2: `fruit`, `vehicle` |" in body and "| training texts | 80 (80 labeled, 0 unlabeled) |" in body
    epoch = clf.best_epoch_
    score = clf.start_score_ if epoch == 0 else clf.history_[epoch - 1]["val_score"]
    assert f"validation accuracy {score:.4f}" in body and f"sigma={clf.sigma_:.4g}" in body
    assert '"lam": 0.8' in body and "from_pretrained" in body
    meta = json.loads((folder / "skgloss.json").read_text())
    assert "README.md" in meta["manifest"]  # verified on load like every other file
    loaded = GLossTextClassifier.from_pretrained(folder)
    assert (loaded.n_samples_fit_, loaded.n_labeled_fit_) == (80, 80)
    assert _is_hub_id("sentence-transformers/all-MiniLM-L6-v2") and _is_hub_id("bert-base-uncased")
    assert not _is_hub_id(str(tmp_path)) and not _is_hub_id("./models/x") and not _is_hub_id("a/b/c")


def test_the_resolved_inference_is_saved_and_an_older_folder_falls_back_to_its_params(models, tmp_path):
    clf, semi, X = models
    assert (clf.inference_, semi.inference_) == ("head", "blend")
    folder = semi.save_pretrained(tmp_path / "semi")
    loaded = GLossTextClassifier.from_pretrained(folder)
    assert loaded.inference == "auto" and loaded.inference_ == "blend"
    np.testing.assert_allclose(loaded.predict_proba(X), semi.predict_proba(X), atol=1e-5)
    # a folder written before inference="auto" has no inference_ and names its mode in params
    edit_config(folder, lambda m: (m.pop("inference_"), m["params"].update(inference="graph")))
    old = GLossTextClassifier.from_pretrained(folder)
    assert old.inference == "graph" and old.inference_ == "graph"


def test_a_float16_memory_bank_is_kept_saved_and_loaded_as_float16(tiny_bert, tmp_path):
    X, y = make_texts(10)
    y = y.copy()
    y[::3] = -1
    clf = GLossTextClassifier(tiny_bert, **FAST, bank_dtype="float16").fit(X, y)
    assert clf.corpus_embeddings_.dtype == np.float16
    full = GLossTextClassifier(tiny_bert, **FAST).fit(X, y)
    assert full.corpus_embeddings_.dtype == np.float32
    np.testing.assert_allclose(clf.corpus_embeddings_, full.corpus_embeddings_, atol=2e-3, rtol=2e-3)
    loaded = GLossTextClassifier.from_pretrained(clf.save_pretrained(tmp_path / "m"))
    assert loaded.bank_dtype == "float16" and loaded.corpus_embeddings_.dtype == np.float16
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=prediction_atol(clf, 1e-6))
    with pytest.raises(ValueError, match="bank_dtype"):
        GLossTextClassifier(tiny_bert, **FAST, bank_dtype="int8").fit(X, y)


def test_numpy_scalar_parameters_save_and_checkpoint_as_numbers(tiny_bert, tmp_path):
    """A grid from np.arange gives GridSearchCV's best estimator numpy scalars: they save, checkpoint and load as
    the numbers they are (json could not write them)."""
    X, y = make_texts(6)
    params = dict(FAST, max_epochs=np.int64(1), lam=np.float32(0.5), learning_rate=np.float64(2e-3))
    clf = GLossTextClassifier(tiny_bert, **params).fit(X, y, checkpoint_dir=tmp_path / "ckpt")
    loaded = GLossTextClassifier.from_pretrained(clf.save_pretrained(tmp_path / "model"), device="cpu")
    assert (loaded.max_epochs, loaded.lam, loaded.learning_rate) == (1, 0.5, 2e-3)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=prediction_atol(clf))


def test_a_loaded_model_trains_on_without_its_base_encoder(tiny_bert, tmp_path):
    """warm_start=True goes on from the fitted encoder, so the folder model_name_or_path named at the first fit
    (another machine's, a cleaned cache) need not exist."""
    X, y = make_texts(6)
    base = shutil.copytree(tiny_bert, tmp_path / "base")
    folder = GLossTextClassifier(base, **FAST).fit(X, y).save_pretrained(tmp_path / "model")
    shutil.rmtree(base)
    loaded = GLossTextClassifier.from_pretrained(folder, device="cpu")
    before = loaded.predict_proba(X)
    loaded.set_params(warm_start=True, learning_rate=0.05).fit(X, y)
    assert np.abs(loaded.predict_proba(X) - before).max() > 1e-3  # it trained, from the loaded model
    with pytest.raises(ValueError, match="model_name_or_path"):
        loaded.set_params(warm_start=False).fit(X, y)  # a fresh start needs the base encoder


def test_saving_through_a_symbolic_link_replaces_the_model_it_points_to(models, tmp_path):
    clf, semi, X = models
    clf.save_pretrained(tmp_path / "release-1")
    (tmp_path / "current").symlink_to(tmp_path / "release-1", target_is_directory=True)
    semi.save_pretrained(tmp_path / "current")
    assert (tmp_path / "current").is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == [
        "current", "release-1"]  # no folder moved aside and left behind
    loaded = GLossTextClassifier.from_pretrained(tmp_path / "release-1", device="cpu")
    assert loaded.transduction_ is not None and np.array_equal(loaded.predict(X), semi.predict(X))
