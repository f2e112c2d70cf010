"""Writing a cache folder atomically: a staged copy, validated by the loader, swapped
into place so that NAME always holds a complete cache (see :func:`write_cache`)."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .cache import (META_FILE, MODEL_CONFIG, MODEL_DIR, MODEL_WEIGHTS, SCHEMA_VERSION, TEXTS_FILE,
                    ModelFiles, load_cache, old_path, recover)
from . import tuned
from .io import DIR_MODE, atomic_write_bytes, atomic_write_text, fsync_dir
from .splits import Split


def _npz_bytes(split: Split) -> bytes:
    buf = io.BytesIO()
    extra = {} if split.lengths is None else {"lengths": split.lengths.astype(np.int32)}
    np.savez_compressed(buf, labels=split.labels.astype(np.int64),
                        probs=split.probs.astype(np.float32),
                        feats=split.feats.astype(np.float16), **extra)
    return buf.getvalue()


def _model_bytes(model: ModelFiles) -> dict[str, bytes]:
    from safetensors.numpy import save as save_safetensors

    tensors = {k: np.ascontiguousarray(v) for k, v in model.tensors.items()}
    return {MODEL_CONFIG: json.dumps(model.config, indent=2).encode("utf-8"),
            MODEL_WEIGHTS: save_safetensors(tensors)}


def _rename_exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``);
    False where the OS or file system cannot, so the caller falls back."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _discard(path: Path) -> None:
    """Delete a folder so that no half-deleted copy keeps a recognisable name: rename it
    to a trash name first (a kill mid-delete leaves only trash, removed next time)."""
    if not os.path.lexists(path):
        return
    trash = Path(tempfile.mkdtemp(prefix=f"{path.name}.", suffix=".trash", dir=path.parent))
    os.rename(path, trash / "x")
    shutil.rmtree(trash, ignore_errors=True)


def clean_leftovers(folder: str | os.PathLike[str]) -> None:
    """Remove what interrupted builds of ``folder`` left beside it: staging folders
    (``.NAME.*.tmp``), trash (``.NAME.*.trash``) and a previous version (``.NAME.old``)
    once NAME itself is complete again."""
    folder = Path(folder)
    recover(folder)
    if not folder.parent.is_dir():
        return
    for p in folder.parent.iterdir():
        if p.name.startswith(f".{folder.name}.") and p.name.endswith((".tmp", ".trash")):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
    if (folder / META_FILE).is_file():
        _discard(old_path(folder))


def write_cache(folder: str | os.PathLike[str], meta: dict[str, Any],
                calibration: Split, test: Split, model: ModelFiles | None = None,
                routing: dict[str, Any] | None = None) -> Path:
    """Write a complete cache folder atomically (a new folder swapped into place);
    ``routing``: its tuned settings (``routing.json``, see :mod:`dimee_core.tuned`).

    The result is validated by :func:`load_cache` before it replaces anything, so a
    bad build never overwrites a good cache. On Linux the staged folder and the old one
    trade places in one atomic exchange, so NAME always holds a complete cache. Elsewhere
    the swap is two renames (NAME -> .NAME.old, staging -> NAME); a process killed between
    them leaves the old version complete at .NAME.old, which :func:`load_cache`,
    :func:`list_caches` and the next build put back. Leftovers of earlier interrupted
    builds are removed first. Files are 0644, folders 0755.
    """
    if tuned.LEGACY_KEY in meta:
        raise ValueError("meta.json records the build: pass tuned settings as routing=")
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(folder)
    meta = dict(meta, schema_version=SCHEMA_VERSION,
                splits=dict(meta.get("splits") or {}, calibration=calibration.n,
                            test=test.n))
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp",
                                    dir=folder.parent))
    try:
        os.chmod(staging, DIR_MODE)
        for name, split in (("calibration", calibration), ("test", test)):
            atomic_write_bytes(staging / f"{name}.npz", _npz_bytes(split))
        if model is not None:
            (staging / MODEL_DIR).mkdir(mode=DIR_MODE)
            blobs = _model_bytes(model)
            for name, data in blobs.items():
                atomic_write_bytes(staging / MODEL_DIR / name, data)
            meta["model"] = {
                "config_sha256": hashlib.sha256(blobs[MODEL_CONFIG]).hexdigest(),
                "weights_sha256": hashlib.sha256(blobs[MODEL_WEIGHTS]).hexdigest(),
                "base_model_sha256": model.config.get("base_model_sha256"),
                "bytes": sum(len(b) for b in blobs.values()),
            }
        texts = {"calibration": list(calibration.texts), "test": list(test.texts)}
        atomic_write_text(staging / TEXTS_FILE, json.dumps(texts, ensure_ascii=False))
        atomic_write_text(staging / META_FILE, json.dumps(meta, indent=2, ensure_ascii=False))
        if routing is not None:
            tuned.save(staging, routing, meta["num_layers"], calibration.n)
        load_cache(staging)  # never swap in something we could not read back
        fsync_dir(staging)
        if os.path.lexists(folder) and _rename_exchange(staging, folder):
            fsync_dir(folder.parent)
            _discard(staging)  # now the previous version
            return folder
        old = old_path(folder)
        if os.path.lexists(folder):
            os.rename(folder, old)  # old is absent: clean_leftovers discarded it
        os.rename(staging, folder)
        fsync_dir(folder.parent)
        _discard(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        recover(folder)
        raise
    return folder


def migrate(folder: str | os.PathLike[str]) -> bool:
    """Move an old cache's settings from ``meta.json["defaults"]`` into ``routing.json``
    (validated, both files written atomically, routing.json first so that a kill in
    between loses nothing). The build's identity (``Cache.build_id``) is unchanged.
    False when there is nothing to move."""
    folder = Path(folder)
    cache = load_cache(folder)  # validates both files as they are
    if tuned.LEGACY_KEY not in cache.meta:
        return False
    if not os.path.lexists(tuned.path_of(folder)):
        tuned.save(folder, tuned.legacy(cache.meta), cache.num_layers, cache.calibration.n)
    meta = {k: v for k, v in cache.meta.items() if k != tuned.LEGACY_KEY}
    atomic_write_text(folder / META_FILE, json.dumps(meta, indent=2, ensure_ascii=False))
    return True
