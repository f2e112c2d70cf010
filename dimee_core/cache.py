"""On-disk cache of per-layer exit outputs: format, validating loader, atomic writer.

One folder per dataset::

    meta.json            schema version, dataset/model provenance, split sizes, defaults
    calibration.npz      labels [N] int, probs [N, L, C] float, feats [N, L, d] float
    test.npz             same arrays for the held-out test split
    texts.json           {"calibration": [...], "test": [...]} input texts for drill-down
    model/               optional: config.json + weights.safetensors (LoRA adapters, exit
                         heads, per-layer PCA), sha256 recorded in meta.json["model"]

Each npz may also hold ``lengths [N]`` (tokens the model processed per sample).

Only ``.npz`` (read with ``allow_pickle=False``) and JSON are ever read, so a hostile
cache cannot execute code; every problem raises :class:`CacheError` naming the file.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA_VERSION = 1
SPLITS = ("calibration", "test")
META_FILE = "meta.json"
TEXTS_FILE = "texts.json"
MAX_FEATURE_DIM = 64
MAX_FILE_BYTES = 512 * 1024 * 1024  # refuse absurd files before reading them
PROB_SUM_TOL = 1e-2  # float16/float32 rounding of softmax outputs
MODEL_DIR = "model"
MODEL_CONFIG = "config.json"
MODEL_WEIGHTS = "weights.safetensors"
MAX_MODEL_BYTES = 64 * 1024 * 1024  # adapters + heads + PCA are a few MB
REQUIRED_MODEL_CONFIG = ("base_model", "num_classes", "num_layers", "max_length",
                         "lora_r", "lora_alpha", "task")
REQUIRED_META = ("schema_version", "name", "label_names", "model_id", "num_layers",
                 "feature_dim", "splits")


class CacheError(ValueError):
    """A cache folder or file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Split:
    """One labelled split: ``probs[i, l, c]`` is exit l+1's probability of class c."""

    labels: np.ndarray  # [N] int64
    probs: np.ndarray  # [N, L, C] float32
    feats: np.ndarray  # [N, L, d] float16/float32, pooled hidden state after PCA
    texts: tuple[str, ...]
    lengths: np.ndarray | None = None  # [N] int32 tokens processed; None in old caches

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])

    def take(self, idx: np.ndarray) -> "Split":
        """Sub- or re-sample rows (used by benchmarks and bootstrap helpers)."""
        idx = np.asarray(idx)
        texts = tuple(self.texts[i] for i in idx) if self.texts else ()
        lengths = self.lengths[idx] if self.lengths is not None else None
        return Split(self.labels[idx], self.probs[idx], self.feats[idx], texts, lengths)


@dataclass(frozen=True)
class Cache:
    meta: dict[str, Any]
    calibration: Split
    test: Split
    path: Path | None = None
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @property
    def num_layers(self) -> int:
        return int(self.meta["num_layers"])

    @property
    def label_names(self) -> list[str]:
        return list(self.meta["label_names"])

    @property
    def num_classes(self) -> int:
        return len(self.meta["label_names"])

    @property
    def model_status(self) -> str | None:
        """None when the cache ships a model; else why the live features are off."""
        if not isinstance(self.meta.get("model"), dict):
            return ("this cache holds the model's outputs only (it was built without "
                    "adapters, or before caches shipped their model)")
        if self.path is None or not (self.path / MODEL_DIR / MODEL_WEIGHTS).is_file():
            return "the cache's model/ folder is missing"
        return None


@dataclass(frozen=True)
class ModelFiles:
    """A cache's shipped model: JSON config and named arrays (LoRA, heads, PCA)."""

    config: dict[str, Any]
    tensors: dict[str, np.ndarray]


def _fail(path: Path, problem: str) -> CacheError:
    return CacheError(f"{path}: {problem}")


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise _fail(path, "file is missing")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise _fail(path, "file is too large")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"not valid UTF-8 JSON ({exc})") from None


def _validate_meta(meta: Any, path: Path) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise _fail(path, "top level must be a JSON object")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise _fail(path, f"missing keys {missing}")
    if meta["schema_version"] != SCHEMA_VERSION:
        raise _fail(path, f"schema_version {meta['schema_version']!r} is not supported "
                          f"(expected {SCHEMA_VERSION})")
    names = meta["label_names"]
    if not (isinstance(names, list) and len(names) >= 2
            and all(isinstance(x, str) for x in names)):
        raise _fail(path, "label_names must be a list of at least two strings")
    for key in ("num_layers", "feature_dim"):
        v = meta[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise _fail(path, f"{key} must be a positive integer, got {v!r}")
    if meta["num_layers"] < 3:
        raise _fail(path, "num_layers must be at least 3 (mobile < edge < cloud)")
    if meta["feature_dim"] > MAX_FEATURE_DIM:
        raise _fail(path, f"feature_dim {meta['feature_dim']} exceeds {MAX_FEATURE_DIM}")
    if not isinstance(meta["splits"], dict):
        raise _fail(path, "splits must be an object of split sizes")
    return meta


def _load_split(folder: Path, split: str, meta: dict[str, Any], texts: Any) -> Split:
    path = folder / f"{split}.npz"
    if not path.is_file():
        raise _fail(path, "file is missing")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise _fail(path, "file is too large")
    if not zipfile.is_zipfile(path):  # else np.load would try to unpickle it
        raise _fail(path, "not a readable .npz archive (not a zip file)")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("labels", "probs", "feats", "lengths")
                      if k in z.files}
    except ValueError as exc:  # object arrays need pickle: refused
        raise _fail(path, f"refused to load ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise _fail(path, f"not a readable .npz archive ({exc})") from None
    for key in ("labels", "probs", "feats"):
        if key not in arrays:
            raise _fail(path, f"array '{key}' is missing")
    labels, probs, feats = arrays["labels"], arrays["probs"], arrays["feats"]
    L, C, d = meta["num_layers"], len(meta["label_names"]), meta["feature_dim"]
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise _fail(path, f"labels must be a 1-D integer array, got {labels.dtype} "
                          f"{labels.shape}")
    n = labels.shape[0]
    if n < 1:
        raise _fail(path, "split is empty")
    if probs.shape != (n, L, C) or probs.dtype.kind != "f":
        raise _fail(path, f"probs must be float [{n}, {L}, {C}], got {probs.dtype} "
                          f"{list(probs.shape)}")
    if feats.shape != (n, L, d) or feats.dtype.kind != "f":
        raise _fail(path, f"feats must be float [{n}, {L}, {d}], got {feats.dtype} "
                          f"{list(feats.shape)}")
    if labels.min() < 0 or labels.max() >= C:
        raise _fail(path, f"labels must lie in [0, {C - 1}], found "
                          f"[{labels.min()}, {labels.max()}]")
    if not np.isfinite(probs).all():
        raise _fail(path, "probs contain NaN or infinity")
    if not np.isfinite(feats).all():
        raise _fail(path, "feats contain NaN or infinity")
    if probs.min() < 0:
        raise _fail(path, "probs contain negative values")
    sums = probs.sum(axis=2, dtype=np.float64)
    worst = float(np.abs(sums - 1.0).max())
    if worst > PROB_SUM_TOL:
        raise _fail(path, f"probs do not sum to 1 over classes (worst deviation {worst:.3g})")
    lengths = arrays.get("lengths")
    if lengths is not None:
        if lengths.shape != (n,) or lengths.dtype.kind not in "iu" or lengths.min() < 1:
            raise _fail(path, f"lengths must be [{n}] positive integers, got {lengths.dtype} "
                              f"{list(lengths.shape)}")
        lengths = lengths.astype(np.int32)
    expected = meta["splits"].get(split)
    if expected is not None and expected != n:
        raise _fail(path, f"meta.json says {expected} samples, file holds {n}")
    split_texts: tuple[str, ...] = ()
    if texts is not None:
        raw = texts.get(split) if isinstance(texts, dict) else None
        if not isinstance(raw, list) or len(raw) != n or not all(isinstance(t, str) for t in raw):
            raise _fail(folder / TEXTS_FILE, f"'{split}' must be a list of {n} strings")
        split_texts = tuple(raw)
    return Split(labels.astype(np.int64), probs.astype(np.float32, copy=False),
                 feats, split_texts, lengths)


def load_cache(folder: str | os.PathLike[str]) -> Cache:
    """Load and validate a cache folder; raise :class:`CacheError` on any problem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CacheError(f"{folder}: not a cache folder (directory does not exist)")
    meta = _validate_meta(_read_json(folder / META_FILE), folder / META_FILE)
    texts = _read_json(folder / TEXTS_FILE) if (folder / TEXTS_FILE).exists() else None
    if texts is not None and not isinstance(texts, dict):
        raise _fail(folder / TEXTS_FILE, "top level must be a JSON object")
    cal = _load_split(folder, "calibration", meta, texts)
    test = _load_split(folder, "test", meta, texts)
    return Cache(meta=meta, calibration=cal, test=test, path=folder,
                 defaults=dict(meta.get("defaults") or {}))


def _read_inside(folder: Path, rel: str, limit: int) -> bytes:
    """Bytes of folder/rel, refusing symlinks anywhere on the way (never leave the cache)."""
    path = folder
    for part in rel.split("/"):
        path = path / part
        if path.is_symlink():
            raise _fail(path, "is a symbolic link: refused (files must live inside the cache)")
    if not path.is_file():
        raise _fail(path, "file is missing")
    if path.stat().st_size > limit:
        raise _fail(path, "file is too large")
    return path.read_bytes()


def load_model_files(cache: Cache) -> ModelFiles:
    """Read and verify a cache's ``model/``: sha256 of both files against meta.json,
    safetensors only (never pickle). Raises :class:`CacheError`."""
    import hashlib

    from safetensors.numpy import load as load_safetensors

    problem = cache.model_status
    if problem is not None:
        raise CacheError(problem)
    assert cache.path is not None
    record = cache.meta["model"]
    blobs = {}
    for name, key in ((MODEL_CONFIG, "config_sha256"), (MODEL_WEIGHTS, "weights_sha256")):
        data = _read_inside(cache.path, f"{MODEL_DIR}/{name}", MAX_MODEL_BYTES)
        digest = hashlib.sha256(data).hexdigest()
        if digest != record.get(key):
            raise CacheError(f"{MODEL_DIR}/{name}: sha256 {digest[:12]}… does not match "
                             f"meta.json: the model was modified, refusing to load it")
        blobs[name] = data
    try:
        config = json.loads(blobs[MODEL_CONFIG].decode("utf-8"))
        tensors = load_safetensors(blobs[MODEL_WEIGHTS])
    except Exception as exc:  # safetensors raises its own error types on corrupt bytes
        raise CacheError(f"{MODEL_DIR}: unreadable ({exc})") from None
    if not isinstance(config, dict) or any(k not in config for k in REQUIRED_MODEL_CONFIG):
        raise CacheError(f"{MODEL_DIR}/{MODEL_CONFIG}: needs keys {list(REQUIRED_MODEL_CONFIG)}")
    return ModelFiles(config, tensors)


def list_caches(root: str | os.PathLike[str]) -> list[Path]:
    """Sub-folders of ``root`` that look like caches (have a meta.json), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / META_FILE).is_file())


# ---------------------------------------------------------------- writing

def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file so that readers see either the old or the new content."""
    _atomic_write_bytes(Path(path), text.encode("utf-8"))


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


def write_cache(folder: str | os.PathLike[str], meta: dict[str, Any],
                calibration: Split, test: Split, model: ModelFiles | None = None) -> Path:
    """Write a complete cache folder atomically (a new folder swapped into place).

    The result is validated by :func:`load_cache` before it replaces anything, so a
    bad build never overwrites a good cache.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(meta, schema_version=SCHEMA_VERSION,
                splits=dict(meta.get("splits") or {}, calibration=calibration.n,
                            test=test.n))
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp",
                                    dir=folder.parent))
    try:
        for name, split in (("calibration", calibration), ("test", test)):
            _atomic_write_bytes(staging / f"{name}.npz", _npz_bytes(split))
        if model is not None:
            import hashlib

            (staging / MODEL_DIR).mkdir()
            blobs = _model_bytes(model)
            for name, data in blobs.items():
                _atomic_write_bytes(staging / MODEL_DIR / name, data)
            meta["model"] = {
                "config_sha256": hashlib.sha256(blobs[MODEL_CONFIG]).hexdigest(),
                "weights_sha256": hashlib.sha256(blobs[MODEL_WEIGHTS]).hexdigest(),
                "base_model_sha256": model.config.get("base_model_sha256"),
                "bytes": sum(len(b) for b in blobs.values()),
            }
        texts = {"calibration": list(calibration.texts), "test": list(test.texts)}
        atomic_write_text(staging / TEXTS_FILE, json.dumps(texts, ensure_ascii=False))
        atomic_write_text(staging / META_FILE, json.dumps(meta, indent=2, ensure_ascii=False))
        load_cache(staging)  # never swap in something we could not read back
        old = None
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
        os.replace(staging, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder
