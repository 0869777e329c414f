"""Saving and loading fitted models: atomic, complete and verified.

A model folder (format 1) holds:

- ``skgloss.json``: the parameters, ``classes_``, the fitted metadata and a
  manifest, which lists every other file of the folder with its size and
  sha256; for a model fitted by ``skgloss fit``, also the columns it read
  (``"data"``: ``text_column``, ``label_column``), which ``skgloss predict``
  and ``evaluate`` then default to;
- ``head.safetensors``: the linear head (``weight`` (C, d), ``bias`` (C,));
- ``corpus.safetensors``, when the fit kept a corpus graph: the embeddings
  (n, d), the label distributions ``F`` (n, C) and the graph's CSR arrays;
- ``transduction.safetensors``, when a fit with ``-1`` rows kept no corpus
  graph (it set them aside): its label distributions (n, C), the fitted
  model's probabilities for every row of the fit's ``X``;
- ``README.md``: the model card (:mod:`skgloss.model_card`), for people
  and for the Hugging Face Hub;
- ``encoder/``: the encoder and its tokenizer, by Hugging Face's
  ``save_pretrained`` (safetensors), which is also a sentence-transformers
  model with the fit's pooling and ``max_length``
  (:func:`skgloss.encoder.save_encoder`).

**Saving** (:func:`save_model`) writes the whole model into a hidden
temporary folder beside the target, ``skgloss.json`` last, and only then
puts it in the target's place; the previous model there (if any) is moved
aside first and deleted once the new one is in place. A crash or Ctrl-C
leaves the old model or the new one, never a mix, and the folder holds
exactly the new model's files. It refuses to replace a file, or a folder
that is neither empty nor a skgloss model.

**Loading** (:func:`load_model`) trusts nothing: it checks the format
version (a newer major format is refused), the manifest (every listed file
present, with its size and sha256), every parameter through the same
validation as ``fit``, the tokenizer's files, and the head's and corpus's
shapes against ``classes_``. Each failure is one :class:`ModelFolderError`
naming the file. Folders written before format 1 (no manifest) still load,
with a warning that their files could not be verified.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import warnings
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from . import __version__

__all__ = ["FORMAT_VERSION", "ModelFolderError", "check_output_folder", "load_model", "save_model", "data_columns"]

#: The folder format this version writes, and the newest it reads.
FORMAT_VERSION = 1
CONFIG_FILE = "skgloss.json"
HEAD_FILE = "head.safetensors"
CORPUS_FILE = "corpus.safetensors"
TRANSDUCTION_FILE = "transduction.safetensors"
ENCODER_DIR = "encoder"
#: A tokenizer needs its config and one vocabulary file, whichever the model family uses.
_TOKENIZER_CONFIG = "tokenizer_config.json"
_VOCABULARY_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                     "tokenizer.model")
_REQUIRED_META = {"params": dict, "classes": list, "classes_dtype": str, "history_": list, "n_iter_": Integral}


class ModelFolderError(ValueError):
    """A model folder that cannot be written or loaded as it is; the message names the file."""


# ------------------------------------------------------------------ saving
def check_output_folder(folder) -> Path:
    """Check, before any work, that a model can be saved to ``folder``.

    Returns the folder as a ``Path``. Raises :class:`ModelFolderError` when
    ``folder`` is an existing file, a folder that is neither empty nor a
    skgloss model (saving would replace it), or lies under a file or
    a folder this process cannot write to.
    """
    folder = Path(folder)
    if folder.is_file():
        raise ModelFolderError(f"{folder} is a file; give a folder to save the model in")
    if Path.cwd().resolve().is_relative_to(folder.resolve()):
        raise ModelFolderError(f"{folder} is the current folder or holds it; saving replaces the whole folder, "
                               "so give a folder beside or below it")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / CONFIG_FILE).is_file():
        raise ModelFolderError(f"{folder} is a folder that holds other files and no {CONFIG_FILE}: saving would "
                               "replace it; give a new or empty folder, or a skgloss model folder")
    parent = folder.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ModelFolderError(f"{folder}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ModelFolderError(f"{folder}: no permission to write in {parent}")
    return folder


def _sha256(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _manifest(folder):
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CONFIG_FILE)
    return {p.relative_to(folder).as_posix(): {"size": p.stat().st_size, "sha256": _sha256(p)} for p in files}


def _to_json(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (str, bool, Integral, Real)):
        return v
    raise TypeError(f"cannot save a label or class_weight key of type {type(v).__name__} in JSON")


def _plain(v):
    """numpy scalars (a grid from ``np.arange``, say) as Python numbers, inside dicts and lists too."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_plain(x) for x in v)
    return v


def json_params(est) -> dict:
    """``est.get_params()`` as JSON data (callbacks, being code, become None; a RandomState None; numpy scalars
    Python numbers)."""
    params = {name: _plain(value) for name, value in est.get_params().items()}
    params["model_name_or_path"] = os.fspath(params["model_name_or_path"])
    params["device"] = str(params["device"])
    params["callbacks"] = None  # code, not data
    if isinstance(params["random_state"], np.random.RandomState):
        params["random_state"] = None
    if isinstance(params["class_weight"], dict):
        params["class_weight"] = {"__pairs__": [[_to_json(k), float(v)] for k, v in params["class_weight"].items()]}
    return params


def _metadata(est):
    return {
        "format_version": FORMAT_VERSION,
        "skgloss_version": __version__,
        "params": json_params(est),
        "classes": [_to_json(c) for c in est.classes_.tolist()],
        "classes_dtype": est.classes_.dtype.str if est.classes_.dtype != object else "object",
        "sigma_": est.sigma_,
        "history_": est.history_,
        "n_iter_": est.n_iter_,
        "best_epoch_": est.best_epoch_,
        "start_score_": est.start_score_,
        "cv_results_": getattr(est, "cv_results_", None),
        "n_features_in_": getattr(est, "n_features_in_", None),
        "n_samples_fit_": getattr(est, "n_samples_fit_", None),
        "n_labeled_fit_": getattr(est, "n_labeled_fit_", None),
        "world_size_": getattr(est, "world_size_", 1),
        "inference_": getattr(est, "inference_", None),
        "multilabel_": bool(getattr(est, "multilabel_", False)),
        "feature_names_in_": (list(est.feature_names_in_) if hasattr(est, "feature_names_in_") else None),
    }


def _write_model(est, folder, data=None, title="skgloss model"):
    from safetensors.numpy import save_file as save_numpy
    from safetensors.torch import save_file

    from .encoder import save_encoder
    from .model_card import model_card

    meta = _metadata(est)  # first: a label JSON cannot hold fails before anything is written
    (folder / "README.md").write_text(model_card(est, meta["params"], title=title), encoding="utf-8")
    save_encoder(est.encoder_, est.tokenizer_, folder / ENCODER_DIR, pooling=est.pooling, max_length=est.max_length)
    save_file({k: v.detach().cpu().contiguous() for k, v in est.head_.state_dict().items()}, str(folder / HEAD_FILE))
    if hasattr(est, "graph_"):
        G = est.graph_.tocsr()
        save_numpy({"embeddings": np.ascontiguousarray(est.corpus_embeddings_),
                    "label_distributions": np.ascontiguousarray(est.label_distributions_, dtype=np.float64),
                    "graph_indptr": G.indptr.astype(np.int64), "graph_indices": G.indices.astype(np.int64),
                    "graph_data": G.data.astype(np.float64)}, str(folder / CORPUS_FILE))
    elif getattr(est, "label_distributions_", None) is not None:
        save_numpy({"label_distributions": np.ascontiguousarray(est.label_distributions_, dtype=np.float64)},
                    str(folder / TRANSDUCTION_FILE))
    if data:
        meta["data"] = dict(data)
    meta["manifest"] = _manifest(folder)
    (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2))


def save_model(est, folder, *, data=None) -> Path:
    """Save a fitted :class:`~skgloss.GLossTextClassifier` to ``folder``, atomically.

    See the module docstring for the layout and the guarantees. ``data``
    (a dict of JSON values, e.g. the columns the training file's texts and
    labels came from) is kept in ``skgloss.json`` under ``"data"``. A
    symbolic link to a model folder stays a link: the folder it points to
    is replaced. Returns the folder as a ``Path``.
    """
    folder = check_output_folder(folder).absolute()
    if folder.is_symlink():  # replace the link's target, not the link (moving the link aside left both behind)
        folder = folder.resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    tmp = folder.with_name(f".{folder.name}.saving-{tag}")
    try:
        tmp.mkdir()
        _write_model(est, tmp, data, title=folder.name)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{tag}")
            os.replace(folder, old)
            try:
                os.replace(tmp, folder)
            except BaseException:
                os.replace(old, folder)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


# ----------------------------------------------------------------- loading
def data_columns(folder) -> dict:
    """What :func:`save_model` kept under ``"data"`` (``{}`` when nothing, or when ``folder`` is no model)."""
    try:
        meta = json.loads((Path(folder) / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    data = meta.get("data") if isinstance(meta, dict) else None
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} \
        if isinstance(data, dict) else {}


def _read_metadata(folder):
    config = folder / CONFIG_FILE
    if not folder.is_dir():
        left = sorted(folder.parent.glob(f".{folder.name}.old-*")) if folder.parent.is_dir() else []
        hint = f"; an interrupted save left the previous model in {left[0]}" if left else ""
        raise ModelFolderError(f"{folder} is not a folder{hint}")
    if not config.is_file():
        raise ModelFolderError(f"{folder} holds no {CONFIG_FILE}: not a folder written by save_pretrained")
    try:
        meta = json.loads(config.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFolderError(f"{config} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise ModelFolderError(f"{config} holds a {type(meta).__name__}, not a JSON object")
    written = meta.get("format_version")
    if written is None:  # before format 1: only the package version says who wrote it
        try:
            written = int(str(meta.get("skgloss_version", "0")).split(".")[0])
        except ValueError:
            raise ModelFolderError(f"{config}: skgloss_version {meta.get('skgloss_version')!r} is not a version")
        if written > int(__version__.split(".")[0]):
            raise ModelFolderError(f"{config} was written by skgloss {meta['skgloss_version']}, newer than this "
                                   f"skgloss {__version__}; upgrade skgloss to load it")
    elif not isinstance(written, Integral) or isinstance(written, bool):
        raise ModelFolderError(f"{config}: format_version {written!r} is not an integer")
    elif written > FORMAT_VERSION:
        raise ModelFolderError(f"{config} is in model format {written} (skgloss {meta.get('skgloss_version')}); "
                               f"this skgloss {__version__} reads formats up to {FORMAT_VERSION}: upgrade skgloss")
    for key, kind in _REQUIRED_META.items():
        if not isinstance(meta.get(key), kind):
            raise ModelFolderError(f"{config}: {key!r} is missing or not a {kind.__name__}")
    if not meta["classes"]:
        raise ModelFolderError(f"{config}: 'classes' is empty")
    return meta


def _verify_files(folder, meta):
    """The files to read, checked against the manifest (or, without one, as found)."""
    manifest = meta.get("manifest")
    if manifest is None:
        warnings.warn(f"{folder / CONFIG_FILE} has no manifest (written before model format 1): its files "
                      "cannot be verified; save the model again to add one", UserWarning, stacklevel=4)
        return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    if not isinstance(manifest, dict):
        raise ModelFolderError(f"{folder / CONFIG_FILE}: 'manifest' is not a JSON object")
    for name, entry in manifest.items():
        path = folder / name
        if not path.is_file():
            raise ModelFolderError(f"{path} is missing: the manifest of {CONFIG_FILE} lists it")
        if not isinstance(entry, dict) or path.stat().st_size != entry.get("size"):
            raise ModelFolderError(f"{path} is damaged: {path.stat().st_size} bytes where the manifest says "
                                   f"{entry.get('size') if isinstance(entry, dict) else entry}")
        if _sha256(path) != entry.get("sha256"):
            raise ModelFolderError(f"{path} is damaged: its sha256 differs from the manifest's")
    return set(manifest)


def _check_tokenizer(folder, files):
    encoder = f"{ENCODER_DIR}/"
    if f"{encoder}{_TOKENIZER_CONFIG}" not in files or not any(f"{encoder}{v}" in files for v in _VOCABULARY_FILES):
        raise ModelFolderError(f"{folder / ENCODER_DIR} has no complete tokenizer: it needs {_TOKENIZER_CONFIG} "
                               f"and one of {', '.join(_VOCABULARY_FILES)}")


def _read_tensors(path, numpy=False):
    from safetensors import SafetensorError

    if numpy:
        from safetensors.numpy import load_file
    else:
        from safetensors.torch import load_file
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFolderError(f"{path} could not be read: {exc}") from None


def _expect_shape(path, name, array, shape):
    if name not in array:
        raise ModelFolderError(f"{path} holds no {name!r} (it has {sorted(array)})")
    if tuple(array[name].shape) != tuple(shape):
        raise ModelFolderError(f"{path}: {name!r} has shape {tuple(array[name].shape)}, expected {tuple(shape)}")


def load_model(cls, folder, *, device="auto"):
    """Load a model written by :func:`save_model`; see the module docstring for what is checked.

    Returns a fitted ``cls`` whose ``predict_proba`` equals the saved model's.
    """
    import torch
    from scipy import sparse

    from .devices import resolve_device, resolve_precision
    from .encoder import load_encoder
    from .inference import INFERENCE

    folder = Path(folder)
    meta = _read_metadata(folder)
    config = folder / CONFIG_FILE
    params = dict(meta["params"])
    unknown = sorted(set(params) - set(cls._get_param_names()))
    if unknown:
        raise ModelFolderError(f"{config}: unknown parameters {unknown} (written by skgloss "
                               f"{meta.get('skgloss_version')})")
    if isinstance(params.get("class_weight"), dict) and "__pairs__" in params["class_weight"]:
        params["class_weight"] = {k: v for k, v in params["class_weight"]["__pairs__"]}
    params["device"] = device
    est = cls(**params)
    try:
        est._validate_params(check_model=False)
    except (ValueError, TypeError) as exc:
        raise ModelFolderError(f"{config}: {exc}") from None
    files = _verify_files(folder, meta)
    _check_tokenizer(folder, files)
    try:
        dtype = object if meta["classes_dtype"] == "object" else np.dtype(meta["classes_dtype"])
        classes = np.asarray(meta["classes"], dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ModelFolderError(f"{config}: 'classes' do not match 'classes_dtype': {exc}") from None
    if HEAD_FILE not in files:
        raise ModelFolderError(f"{folder / HEAD_FILE} is missing")
    try:
        encoder, tokenizer = load_encoder(folder / ENCODER_DIR)
    except (ValueError, OSError) as exc:
        raise ModelFolderError(f"{folder / ENCODER_DIR} could not be loaded: {exc}") from None
    d, n_classes = int(encoder.config.hidden_size), len(classes)
    head_path = folder / HEAD_FILE
    state = _read_tensors(head_path)
    _expect_shape(head_path, "weight", state, (n_classes, d))
    _expect_shape(head_path, "bias", state, (n_classes,))
    head = torch.nn.Linear(d, n_classes)
    head.load_state_dict({k: state[k] for k in ("weight", "bias")})
    est_device = resolve_device(device)
    fitted = {"classes_": classes, "device_": est_device, "precision_": resolve_precision(est.precision, est_device),
              "sigma_": meta.get("sigma_"), "encoder_": encoder.to(est_device).eval(), "tokenizer_": tokenizer,
              "head_": head.to(est_device).eval(), "history_": meta["history_"], "n_iter_": meta["n_iter_"],
              "best_epoch_": meta.get("best_epoch_"), "start_score_": meta.get("start_score_"),
              "cv_results_": meta.get("cv_results_"), "n_features_out_": d}
    if meta.get("n_features_in_") == 1:
        fitted["n_features_in_"] = 1
    fitted["multilabel_"] = meta.get("multilabel_") is True
    # a folder saved before inference="auto" existed names its mode in params
    fitted["inference_"] = (meta["inference_"] if meta.get("inference_") in INFERENCE
                            else est.inference if est.inference in INFERENCE else "head")
    for key in ("n_samples_fit_", "n_labeled_fit_", "world_size_"):
        if isinstance(meta.get(key), Integral) and not isinstance(meta.get(key), bool):
            fitted[key] = int(meta[key])
    names = meta.get("feature_names_in_")
    if isinstance(names, list) and len(names) == 1 and isinstance(names[0], str):
        fitted["feature_names_in_"] = np.asarray(names, dtype=object)
    if CORPUS_FILE in files:
        path = folder / CORPUS_FILE
        c = _read_tensors(path, numpy=True)
        n = c["embeddings"].shape[0] if "embeddings" in c else 0
        _expect_shape(path, "embeddings", c, (n, d))
        _expect_shape(path, "label_distributions", c, (n, n_classes))
        _expect_shape(path, "graph_indptr", c, (n + 1,))
        nnz = int(c["graph_indptr"][-1]) if n else 0
        for name in ("graph_indices", "graph_data"):
            _expect_shape(path, name, c, (nnz,))
        if nnz and (c["graph_indices"].min() < 0 or c["graph_indices"].max() >= n):
            raise ModelFolderError(f"{path}: 'graph_indices' point outside the {n} corpus rows")
        fitted.update(corpus_embeddings_=c["embeddings"], label_distributions_=c["label_distributions"],
                      graph_=sparse.csr_matrix((c["graph_data"], c["graph_indices"], c["graph_indptr"]),
                                               shape=(n, n)),
                      transduction_=classes[c["label_distributions"].argmax(axis=1)])
    elif TRANSDUCTION_FILE in files:
        path = folder / TRANSDUCTION_FILE
        c = _read_tensors(path, numpy=True)
        n = c["label_distributions"].shape[0] if "label_distributions" in c else 0
        _expect_shape(path, "label_distributions", c, (n, n_classes))
        fitted.update(label_distributions_=c["label_distributions"],
                      transduction_=classes[c["label_distributions"].argmax(axis=1)])
    est._set_fitted(fitted)
    return est
