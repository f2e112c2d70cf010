"""On-disk cache of per-layer exit outputs: format and validating loader (``writer``
writes one atomically; ``npz`` reads arrays defensively).

One folder per dataset::

    meta.json            schema version, dataset/model provenance, split sizes (the build)
    routing.json         optional: tuned routing settings and their guarantee (``tuned``)
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

import hashlib
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import model_spec, tuned
from .io import CacheError, fail, parse_json, read_json, regular_file, short
from .npz import read_npz
from .splits import Split

SCHEMA_VERSION = 1
SPLITS = ("calibration", "test")
META_FILE = "meta.json"
TEXTS_FILE = "texts.json"
MAX_FEATURE_DIM = 64
MAX_ARRAY_BYTES = 1024 * 1024 * 1024  # all arrays of a cache, unpacked (declared sizes)
MAX_CACHE_ENTRIES = 64  # files in a cache folder (or its model/)
MAX_NAME_CHARS = 1000  # name, title, model id, a label name
MAX_CLASSES = 10_000
MAX_LAYERS = 1024
MAX_TOKENS = 1 << 20
MAX_TEXT_CHARS = 100_000  # one stored text; a model reads a few hundred tokens of it
MAX_TEXTS_BYTES = 200 * 1024 * 1024  # texts.json: parsing holds ~3x its size at once
ACCURACY_TOL = 1e-3  # meta.json rounds accuracies to 4 decimals
PROB_SUM_TOL = 1e-2  # float16/float32 rounding of softmax outputs
MODEL_DIR = "model"
MODEL_CONFIG = "config.json"
MODEL_WEIGHTS = "weights.safetensors"
MAX_MODEL_BYTES = 64 * 1024 * 1024  # adapters + heads + PCA are a few MB
REQUIRED_META = ("schema_version", "name", "label_names", "model_id", "num_layers",
                 "feature_dim", "splits")


@dataclass(frozen=True)
class Cache:
    meta: dict[str, Any]
    calibration: Split
    test: Split
    path: Path | None = None
    defaults: dict[str, Any] = field(default_factory=dict)  # routing.json (``tuned``)
    warnings: tuple[str, ...] = ()  # well-formed but suspicious (see load_cache)

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
    def build_id(self) -> str:
        """Short fingerprint of this build: its provenance (meta.json; an old cache's
        re-tunable ``defaults`` left out) and both splits' labels and exit probabilities.
        A rebuild changes it; ``tune`` and ``migrate`` do not."""
        h = hashlib.sha256(json.dumps({k: v for k, v in self.meta.items()
                                       if k != tuned.LEGACY_KEY},
                                      sort_keys=True, default=str).encode("utf-8"))
        for split in (self.calibration, self.test):
            h.update(np.ascontiguousarray(split.labels).tobytes())
            h.update(np.ascontiguousarray(split.probs).tobytes())
        return h.hexdigest()[:16]

    @property
    def model_status(self) -> str | None:
        """None when the cache ships a model; else why the live features are off."""
        if not isinstance(self.meta.get("model"), dict):
            return ("this cache holds the model's outputs only (it was built without "
                    "adapters, or before caches shipped their model)")
        weights = None if self.path is None else self.path / MODEL_DIR / MODEL_WEIGHTS
        if weights is None or weights.is_symlink() or not weights.is_file():
            return "the cache's model/ folder is missing"
        return None


@dataclass(frozen=True)
class ModelFiles:
    """A cache's shipped model: JSON config and named arrays (LoRA, heads, PCA)."""

    config: dict[str, Any]
    tensors: dict[str, np.ndarray]


# ---------------------------------------------------------------- reading, defensively
# Every limit is checked on what a file *declares* before anything is allocated, so a
# hostile cache costs at most the bytes below, never an unbounded allocation.

def _no_symlinks(folder: Path) -> None:
    """Refuse a cache that holds any symbolic link (never read outside the folder)."""
    for sub in (folder, folder / MODEL_DIR):
        if sub != folder and (sub.is_symlink() or not sub.is_dir()):
            continue  # a linked model/ was already refused as an entry of folder
        try:
            entries = list(itertools.islice(os.scandir(sub), MAX_CACHE_ENTRIES + 1))
        except OSError as exc:
            raise fail(sub, f"cannot be listed ({exc.strerror})") from None
        if len(entries) > MAX_CACHE_ENTRIES:
            raise fail(sub, f"holds more than {MAX_CACHE_ENTRIES} entries")
        for entry in entries:
            if entry.is_symlink():
                raise fail(sub / entry.name, "is a symbolic link: refused (files must "
                                              "live inside the cache)")


def _positive_int(meta: dict[str, Any], key: str, path: Path, hi: int) -> int:
    v = meta[key]
    if type(v) is not int or not 1 <= v <= hi:
        raise fail(path, f"{key} must be an integer in [1, {hi}], got {short(v)}")
    return v


def _validate_meta(meta: Any, path: Path) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise fail(path, "top level must be a JSON object")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise fail(path, f"missing keys {missing}")
    if type(meta["schema_version"]) is not int or meta["schema_version"] != SCHEMA_VERSION:
        raise fail(path, f"schema_version {short(meta['schema_version'])} is not "
                          f"supported (expected {SCHEMA_VERSION})")
    for key in ("name", "model_id", "title"):
        v = meta.get(key, "-")
        if not isinstance(v, str) or not v.strip() or len(v) > MAX_NAME_CHARS:
            raise fail(path, f"{key} must be a non-empty string of at most "
                              f"{MAX_NAME_CHARS} characters")
    names = meta["label_names"]
    if not (isinstance(names, list) and 2 <= len(names) <= MAX_CLASSES
            and all(isinstance(x, str) and len(x) <= MAX_NAME_CHARS for x in names)):
        raise fail(path, f"label_names must be a list of 2 to {MAX_CLASSES} strings")
    _positive_int(meta, "num_layers", path, MAX_LAYERS)
    _positive_int(meta, "feature_dim", path, MAX_FEATURE_DIM)
    if meta["num_layers"] < 3:
        raise fail(path, "num_layers must be at least 3 (mobile < edge < cloud)")
    splits = meta["splits"]
    if not isinstance(splits, dict) or not all(
            type(v) is int and v >= 0 for k, v in splits.items() if k in SPLITS):
        raise fail(path, "splits must be an object of split sizes")
    acc = meta.get("test_exit_accuracy")
    if acc is not None and not (isinstance(acc, list) and len(acc) == meta["num_layers"]
                                and all(type(a) in (int, float) and 0 <= a <= 1
                                        for a in acc)):
        raise fail(path, "test_exit_accuracy must list one accuracy in [0, 1] per layer")
    model = meta.get("model")
    if model is not None and not (isinstance(model, dict) and all(
            isinstance(model.get(k), str) for k in ("config_sha256", "weights_sha256"))):
        raise fail(path, "model must record config_sha256 and weights_sha256")
    return meta


def _load_split(folder: Path, split: str, meta: dict[str, Any], texts: Any,
                budget: int) -> tuple[Split, int]:
    path = folder / f"{split}.npz"
    arrays, used = read_npz(path, budget)
    for key in ("labels", "probs", "feats"):
        if key not in arrays:
            raise fail(path, f"array '{key}' is missing")
    labels, probs, feats = arrays["labels"], arrays["probs"], arrays["feats"]
    L, C, d = meta["num_layers"], len(meta["label_names"]), meta["feature_dim"]
    n = labels.shape[0]
    if n < 1:
        raise fail(path, "split is empty")
    if probs.shape != (n, L, C):
        raise fail(path, f"probs must be float [{n}, {L}, {C}], got {probs.dtype} "
                          f"{list(probs.shape)}")
    if feats.shape != (n, L, d):
        raise fail(path, f"feats must be float [{n}, {L}, {d}], got {feats.dtype} "
                          f"{list(feats.shape)}")
    if labels.min() < 0 or labels.max() >= C:
        raise fail(path, f"labels must lie in [0, {C - 1}], found "
                          f"[{labels.min()}, {labels.max()}]")
    with np.errstate(all="ignore"):
        if not np.isfinite(probs).all():
            raise fail(path, "probs contain NaN or infinity")
        if not np.isfinite(feats).all():
            raise fail(path, "feats contain NaN or infinity")
        if probs.min() < 0:
            raise fail(path, "probs contain negative values")
        sums = probs.sum(axis=2, dtype=np.float64)
        worst = float(np.abs(sums - 1.0).max())
    if worst > PROB_SUM_TOL:
        raise fail(path, f"probs do not sum to 1 over classes (worst deviation {worst:.3g})")
    lengths = arrays.get("lengths")
    if lengths is not None:
        if lengths.shape != (n,) or lengths.min() < 1 or lengths.max() > MAX_TOKENS:
            raise fail(path, f"lengths must be [{n}] integers in [1, {MAX_TOKENS}], got "
                              f"{lengths.dtype} {list(lengths.shape)}")
        lengths = lengths.astype(np.int32)
    expected = meta["splits"].get(split)
    if expected is not None and expected != n:
        raise fail(path, f"meta.json says {short(expected)} samples, file holds {n}")
    split_texts: tuple[str, ...] = ()
    if texts is not None:
        raw = texts.get(split)
        if not isinstance(raw, list) or len(raw) != n or not all(isinstance(t, str) for t in raw):
            raise fail(folder / TEXTS_FILE, f"'{split}' must be a list of {n} strings")
        long = next((i for i, t in enumerate(raw) if len(t) > MAX_TEXT_CHARS), None)
        if long is not None:
            raise fail(folder / TEXTS_FILE, f"'{split}' text {long + 1} is "
                       f"{len(raw[long]):,} characters long (at most {MAX_TEXT_CHARS:,})")
        split_texts = tuple(raw)
    return Split(labels.astype(np.int64), probs.astype(np.float32, copy=False),
                 feats, split_texts, lengths), used


def _accuracy_warnings(meta: dict[str, Any], test: Split) -> tuple[str, ...]:
    """A well-formed cache can still hold the wrong arrays (shuffled labels, uniform
    probabilities): compare the final exit's test accuracy with what the build recorded."""
    recorded = meta.get("test_exit_accuracy")
    if recorded is None:
        return ()
    final = float((test.probs[:, -1].argmax(1) == test.labels).mean())
    if abs(final - recorded[-1]) <= ACCURACY_TOL:
        return ()
    return (f"The final exit's test accuracy recomputed from test.npz is "
            f"{100 * final:.2f} %, but meta.json records {100 * recorded[-1]:.2f} % "
            f"(test_exit_accuracy): the arrays do not match the build that wrote this "
            f"cache, so its numbers cannot be trusted.",)


def recover(folder: str | os.PathLike[str]) -> None:
    """Finish an interrupted swap: a build killed between its two renames leaves the
    previous version complete at ``.NAME.old`` and nothing at NAME; put it back."""
    folder = Path(folder)
    old = old_path(folder)
    if not os.path.lexists(folder) and old.is_dir() and not old.is_symlink():
        try:
            os.rename(old, folder)
        except OSError:  # read-only or raced by another process: leave it to them
            pass


def load_cache(folder: str | os.PathLike[str],
               max_array_bytes: int = MAX_ARRAY_BYTES) -> Cache:
    """Load and validate a cache folder; raise :class:`CacheError` on any problem.

    ``max_array_bytes`` caps the unpacked size of all arrays together (checked from the
    files' declarations before reading). A cache holding a symbolic link is refused."""
    folder = Path(folder)
    recover(folder)
    if not folder.is_dir():
        raise CacheError(f"{folder}: not a cache folder (directory does not exist)")
    _no_symlinks(folder)
    meta = _validate_meta(read_json(folder / META_FILE), folder / META_FILE)
    texts = None
    if os.path.lexists(folder / TEXTS_FILE):
        texts = read_json(folder / TEXTS_FILE, MAX_TEXTS_BYTES)
        if not isinstance(texts, dict):
            raise fail(folder / TEXTS_FILE, "top level must be a JSON object")
    cal, used = _load_split(folder, "calibration", meta, texts, max_array_bytes)
    test, _ = _load_split(folder, "test", meta, texts, max_array_bytes - used)
    defaults = tuned.load(folder, meta, cal.n)
    return Cache(meta=meta, calibration=cal, test=test, path=folder, defaults=defaults,
                 warnings=_accuracy_warnings(meta, test))


def _read_inside(folder: Path, rel: str, limit: int) -> bytes:
    """Bytes of folder/rel, refusing symlinks anywhere on the way (never leave the cache)."""
    path = folder
    for part in rel.split("/"):
        path = path / part
        if path.is_symlink():
            raise fail(path, "is a symbolic link: refused (files must live inside the cache)")
    regular_file(path, limit)
    return path.read_bytes()


def load_model_files(cache: Cache) -> ModelFiles:
    """Read and verify a cache's ``model/``: sha256 of both files against meta.json,
    safetensors only (never pickle). Raises :class:`CacheError`."""
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
    config = parse_json(blobs[MODEL_CONFIG], Path(MODEL_DIR, MODEL_CONFIG))
    weights = blobs[MODEL_WEIGHTS]
    size = int.from_bytes(weights[:8], "little") if len(weights) >= 8 else -1
    if not 0 < size <= len(weights) - 8:
        raise CacheError(f"{MODEL_DIR}/{MODEL_WEIGHTS}: not a safetensors file")
    header = parse_json(weights[8:8 + size], Path(MODEL_DIR, MODEL_WEIGHTS))
    d = cache.calibration.feats.shape[2]
    try:  # the config's fields, then the tensors' names, shapes and dtypes, before any
        config = model_spec.check_config(  # tensor is read
            config, cache.num_layers, cache.label_names, d, record.get("base_model_sha256"))
    except ValueError as exc:
        raise CacheError(f"{MODEL_DIR}/{MODEL_CONFIG}: {exc}") from None
    try:
        model_spec.check_tensors(header, model_spec.expected_tensors(config, d))
    except ValueError as exc:
        raise CacheError(f"{MODEL_DIR}/{MODEL_WEIGHTS}: {exc}") from None
    try:
        tensors = load_safetensors(weights)
    except Exception as exc:  # safetensors raises its own error types on corrupt bytes
        raise CacheError(f"{MODEL_DIR}: unreadable ({exc})") from None
    bad = next((k for k, v in tensors.items() if not np.isfinite(v).all()), None)
    if bad is not None:
        raise CacheError(f"{MODEL_DIR}/{MODEL_WEIGHTS}: tensor {bad} holds NaN or infinity")
    return ModelFiles(config, tensors)


def list_caches(root: str | os.PathLike[str]) -> list[Path]:
    """Sub-folders of ``root`` that look like caches (have a meta.json), sorted by name.
    Hidden folders (a build's staging or previous version) are never listed; an
    interrupted swap is recovered first."""
    root = Path(root)
    if not root.is_dir():
        return []
    for p in root.glob(".*.old"):
        recover(p.with_name(p.name[1:-4]))
    return sorted(p for p in root.iterdir()
                  if not p.name.startswith(".") and (p / META_FILE).is_file())


def stamp(folder: str | os.PathLike[str]) -> float:
    """The latest modification time of meta.json (a rebuild) and routing.json (a
    ``tune``): it changes whenever :func:`load_cache` may return something else."""
    def mtime(path: Path) -> float:
        try:
            return os.stat(path).st_mtime
        except OSError:
            return 0.0
    return max(mtime(Path(folder) / META_FILE), mtime(tuned.path_of(folder)))


def old_path(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.old")
