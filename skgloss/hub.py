"""Model folders on the Hugging Face Hub: download by repo id, upload a fitted model.

Both go through ``huggingface_hub`` (installed with transformers), so its
cache (``HF_HOME`` / ``HF_HUB_CACHE``, or ``cache_dir``), its offline mode
(``HF_HUB_OFFLINE=1``, or ``local_files_only=True``: only what the cache
holds) and its token (``huggingface-cli login``, ``HF_TOKEN``, or ``token``)
work as they do for transformers. What is downloaded is then checked like
any model folder (:func:`skgloss.persistence.load_model`: manifest, sizes
and sha256 of every file).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["resolve_model_folder", "push_folder"]


def _looks_like_repo_id(name: str) -> bool:
    parts = name.split("/")
    return 1 <= len(parts) <= 2 and all(parts) and not name.startswith((".", "~")) and "\\" not in name


def resolve_model_folder(name_or_path, *, revision=None, cache_dir=None, local_files_only=False, token=None) -> Path:
    """A local folder for ``name_or_path``: the folder itself, or the Hub repo's snapshot in the cache.

    Raises ``ValueError`` for a path that does not exist and is no repo id,
    and for a repo that cannot be had (not in the cache when offline, not
    found, no access), naming it and what to do.
    """
    name = os.fspath(name_or_path)
    path = Path(name).expanduser()
    if path.exists() or not _looks_like_repo_id(name):
        return path  # load_model says what is wrong with a local path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    from . import __version__

    try:
        return Path(snapshot_download(name, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only,
                                      token=token, library_name="skgloss", library_version=__version__))
    except LocalEntryNotFoundError:
        raise ValueError(f"{name!r} is not a local folder, and the Hub repo of that name is not in the cache "
                         "(offline, or local_files_only=True): download it once with a connection, or give "
                         "the folder") from None
    except HfHubHTTPError as exc:
        raise ValueError(f"{name!r}: the Hub did not give the model ({exc})") from None


def push_folder(save, repo_id, *, commit_message=None, private=None, token=None, revision=None,
                create_pr=False):
    """Save with ``save(folder)`` into a temporary folder and upload it as the Hub repo ``repo_id``.

    The repo is created if needed (``private`` as given); the upload is one
    commit that replaces the repo's files with the model's (files the model
    no longer has are deleted). Returns ``huggingface_hub``'s ``CommitInfo``.
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, token=token)
    with tempfile.TemporaryDirectory(prefix="skgloss-push-") as tmp:
        folder = Path(tmp) / "model"
        save(folder)
        return api.upload_folder(repo_id=repo_id, folder_path=folder, token=token, revision=revision,
                                 create_pr=create_pr, delete_patterns="*",
                                 commit_message=commit_message or "Upload skgloss model")
