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

import ctypes
import errno
import hashlib
import io
import itertools
import json
import math
import os
import shutil
import struct
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.lib import format as npformat

SCHEMA_VERSION = 1
SPLITS = ("calibration", "test")
META_FILE = "meta.json"
TEXTS_FILE = "texts.json"
MAX_FEATURE_DIM = 64
MAX_FILE_BYTES = 512 * 1024 * 1024  # refuse absurd files before reading them
MAX_ARRAY_BYTES = 1024 * 1024 * 1024  # all arrays of a cache, unpacked (declared sizes)
MAX_NPZ_MEMBERS = 16
NPY_HEADER_MAX = 16384  # numpy refuses headers over 10000 bytes anyway
MAX_MEMBER_NAME = 255
MAX_CACHE_ENTRIES = 64  # files in a cache folder (or its model/)
MAX_JSON_DEPTH = 32
MAX_NAME_CHARS = 1000  # name, title, model id, a label name
MAX_CLASSES = 10_000
MAX_LAYERS = 1024
MAX_TOKENS = 1 << 20
ACCURACY_TOL = 1e-3  # meta.json rounds accuracies to 4 decimals
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
        """Short fingerprint of this build: its provenance (meta.json without the
        re-tunable ``defaults``) and both splits' labels and exit probabilities. A rebuild
        changes it; re-running ``tune`` does not."""
        h = hashlib.sha256(json.dumps({k: v for k, v in self.meta.items() if k != "defaults"},
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


def _fail(path: Path, problem: str) -> CacheError:
    return CacheError(f"{path}: {problem}")


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
            raise _fail(sub, f"cannot be listed ({exc.strerror})") from None
        if len(entries) > MAX_CACHE_ENTRIES:
            raise _fail(sub, f"holds more than {MAX_CACHE_ENTRIES} entries")
        for entry in entries:
            if entry.is_symlink():
                raise _fail(sub / entry.name, "is a symbolic link: refused (files must "
                                              "live inside the cache)")


def _regular_file(path: Path, limit: int) -> None:
    if path.is_symlink():
        raise _fail(path, "is a symbolic link: refused (files must live inside the cache)")
    if not path.is_file():
        raise _fail(path, "file is missing")
    if path.stat().st_size > limit:
        raise _fail(path, "file is too large")


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"number {text[:20]!r} is out of range")
    return v


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _check_tree(obj: Any, path: Path) -> None:
    """Bounded nesting (deep values break Streamlit's cache hashing and recursion) and
    valid Unicode only (a lone surrogate cannot be encoded for display)."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _fail(path, "holds a string that is not valid Unicode (a lone "
                                  "surrogate)") from None
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_JSON_DEPTH:
            raise _fail(path, f"is nested deeper than {MAX_JSON_DEPTH} levels")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str):
                stack.append((key, depth))
            stack.append((item, depth + 1))


def parse_json(data: bytes, path: Path) -> Any:
    """Strict JSON: UTF-8, finite numbers, bounded nesting, valid Unicode strings."""
    try:
        obj = json.loads(data.decode("utf-8"), parse_float=_finite_float,
                         parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, NaN/Infinity and > 4300-digit integers
        reason = ("nested too deeply" if isinstance(exc, RecursionError)
                  else str(exc)[:200])
        raise _fail(path, f"not valid UTF-8 JSON ({reason})") from None
    _check_tree(obj, path)
    return obj


def _read_json(path: Path) -> Any:
    _regular_file(path, MAX_FILE_BYTES)
    return parse_json(path.read_bytes(), path)


def _positive_int(meta: dict[str, Any], key: str, path: Path, hi: int) -> int:
    v = meta[key]
    if type(v) is not int or not 1 <= v <= hi:
        raise _fail(path, f"{key} must be an integer in [1, {hi}], got {_short(v)}")
    return v


def _short(v: Any) -> str:
    """A value for an error message: repr, cut short (hostile values can be huge)."""
    text = repr(v) if not isinstance(v, int) or abs(v) < 10**30 else "a huge integer"
    return text if len(text) <= 60 else text[:57] + "..."


def _validate_meta(meta: Any, path: Path) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise _fail(path, "top level must be a JSON object")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise _fail(path, f"missing keys {missing}")
    if type(meta["schema_version"]) is not int or meta["schema_version"] != SCHEMA_VERSION:
        raise _fail(path, f"schema_version {_short(meta['schema_version'])} is not "
                          f"supported (expected {SCHEMA_VERSION})")
    for key in ("name", "model_id", "title"):
        v = meta.get(key, "-")
        if not isinstance(v, str) or not v.strip() or len(v) > MAX_NAME_CHARS:
            raise _fail(path, f"{key} must be a non-empty string of at most "
                              f"{MAX_NAME_CHARS} characters")
    names = meta["label_names"]
    if not (isinstance(names, list) and 2 <= len(names) <= MAX_CLASSES
            and all(isinstance(x, str) and len(x) <= MAX_NAME_CHARS for x in names)):
        raise _fail(path, f"label_names must be a list of 2 to {MAX_CLASSES} strings")
    _positive_int(meta, "num_layers", path, MAX_LAYERS)
    _positive_int(meta, "feature_dim", path, MAX_FEATURE_DIM)
    if meta["num_layers"] < 3:
        raise _fail(path, "num_layers must be at least 3 (mobile < edge < cloud)")
    splits = meta["splits"]
    if not isinstance(splits, dict) or not all(
            type(v) is int and v >= 0 for k, v in splits.items() if k in SPLITS):
        raise _fail(path, "splits must be an object of split sizes")
    acc = meta.get("test_exit_accuracy")
    if acc is not None and not (isinstance(acc, list) and len(acc) == meta["num_layers"]
                                and all(type(a) in (int, float) and 0 <= a <= 1
                                        for a in acc)):
        raise _fail(path, "test_exit_accuracy must list one accuracy in [0, 1] per layer")
    model = meta.get("model")
    if model is not None and not (isinstance(model, dict) and all(
            isinstance(model.get(k), str) for k in ("config_sha256", "weights_sha256"))):
        raise _fail(path, "model must record config_sha256 and weights_sha256")
    if not isinstance(meta.get("defaults", {}), (dict, type(None))):
        raise _fail(path, "defaults must be an object")
    return meta


def _validate_defaults(meta: dict[str, Any], n_calibration: int, path: Path
                       ) -> dict[str, Any]:
    """The stored defaults must make a valid configuration for this cache (the CLI and
    the dashboard start from them)."""
    from .evaluate import check_defaults  # evaluate imports this module

    defaults = dict(meta.get("defaults") or {})
    try:
        check_defaults(defaults, meta["num_layers"], n_calibration)
    except (TypeError, ValueError) as exc:
        raise _fail(path, f"defaults are not a valid configuration ({str(exc)[:200]})"
                    ) from None
    return defaults


def check_zip_directory(fh: BinaryIO, max_entries: int) -> None:
    """Raise ValueError for a zip whose central directory is huge, before ``zipfile``
    parses it (one object per entry). Reads the end-of-central-directory record."""
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    tail_len = min(size, 22 + 65535)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise ValueError("no zip end-of-directory record")
    entries, cd_size = struct.unpack("<HI", tail[at + 10:at + 16])
    if entries == 0xFFFF or entries > max_entries:
        raise ValueError(f"more than {max_entries} members")
    if cd_size > max_entries * (46 + MAX_MEMBER_NAME + 64):
        raise ValueError("oversized zip directory")
    fh.seek(0)


def check_member(info: zipfile.ZipInfo, path: Path, limit: int) -> None:
    """What a zip member declares, checked before it is opened."""
    if info.flag_bits & 0x1:
        raise _fail(path, f"member {info.filename[:60]!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _fail(path, f"member {info.filename[:60]!r} uses an unsupported compression "
                          f"method ({info.compress_type})")
    if info.file_size > limit:
        raise _fail(path, f"member {info.filename[:60]!r} declares {info.file_size} bytes "
                          f"unpacked; at most {limit} are allowed")


ARRAYS = {"labels": (1, "iu"), "probs": (3, "f"), "feats": (3, "f"), "lengths": (1, "iu")}


def _npy_header(fh: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = npformat.read_magic(fh)
    if version == (1, 0):
        return npformat.read_array_header_1_0(fh)
    if version == (2, 0):
        return npformat.read_array_header_2_0(fh)
    raise ValueError(f"unsupported .npy version {version}")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, path: Path,
                 budget: int) -> np.ndarray:
    """One array, its header checked against the expected rank, kind and the byte
    budget before any array memory is allocated; read with allow_pickle semantics off."""
    ndim, kinds = ARRAYS[key]
    check_member(info, path, budget + NPY_HEADER_MAX)
    with zf.open(info) as fh:
        shape, fortran, dtype = _npy_header(fh)
        header_len = fh.tell()
        if dtype.hasobject:
            raise _fail(path, f"refused to load '{key}' (object arrays need pickle)")
        if (dtype.names is not None or dtype.subdtype is not None
                or dtype.kind not in kinds or dtype.itemsize > 8 or len(shape) != ndim):
            kind = "integer" if kinds == "iu" else "float"
            raise _fail(path, f"'{key}' must be a {ndim}-D {kind} array, got {dtype.str} "
                              f"with {len(shape)} dimensions")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if nbytes > budget:
            raise _fail(path, f"'{key}' declares {nbytes} bytes; at most {budget} are allowed")
        if header_len + nbytes != info.file_size:
            raise _fail(path, f"'{key}' holds {info.file_size - header_len} data bytes, its "
                              f"header declares {nbytes}")
        out = np.empty(count, dtype)
        view = memoryview(out.view(np.uint8) if count else bytearray())
        got = 0
        while got < nbytes:
            n = fh.readinto(view[got:])
            if not n:
                raise _fail(path, f"'{key}' is truncated")
            got += n
        if fh.read(1):  # also makes zipfile check the CRC at the member's end
            raise _fail(path, f"'{key}' has trailing data")
    return out.reshape(shape, order="F" if fortran else "C")


def _read_npz(path: Path, budget: int) -> tuple[dict[str, np.ndarray], int]:
    """The known arrays of an .npz and the bytes they used, without np.load."""
    _regular_file(path, MAX_FILE_BYTES)
    arrays: dict[str, np.ndarray] = {}
    try:
        with open(path, "rb") as raw:
            check_zip_directory(raw, MAX_NPZ_MEMBERS)
            with zipfile.ZipFile(raw) as zf:
                for info in zf.infolist():
                    key = info.filename[:-4] if info.filename.endswith(".npy") else None
                    if key in ARRAYS and key not in arrays:
                        arrays[key] = _read_member(zf, info, key, path, budget)
                        budget -= arrays[key].nbytes
    except CacheError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError, struct.error, SyntaxError) as exc:
        # corrupt deflate data, a bad CRC, a malformed .npy header
        raise _fail(path, f"not a readable .npz archive ({type(exc).__name__}: "
                          f"{str(exc)[:120]})") from None
    return arrays, sum(a.nbytes for a in arrays.values())


def _load_split(folder: Path, split: str, meta: dict[str, Any], texts: Any,
                budget: int) -> tuple[Split, int]:
    path = folder / f"{split}.npz"
    arrays, used = _read_npz(path, budget)
    for key in ("labels", "probs", "feats"):
        if key not in arrays:
            raise _fail(path, f"array '{key}' is missing")
    labels, probs, feats = arrays["labels"], arrays["probs"], arrays["feats"]
    L, C, d = meta["num_layers"], len(meta["label_names"]), meta["feature_dim"]
    n = labels.shape[0]
    if n < 1:
        raise _fail(path, "split is empty")
    if probs.shape != (n, L, C):
        raise _fail(path, f"probs must be float [{n}, {L}, {C}], got {probs.dtype} "
                          f"{list(probs.shape)}")
    if feats.shape != (n, L, d):
        raise _fail(path, f"feats must be float [{n}, {L}, {d}], got {feats.dtype} "
                          f"{list(feats.shape)}")
    if labels.min() < 0 or labels.max() >= C:
        raise _fail(path, f"labels must lie in [0, {C - 1}], found "
                          f"[{labels.min()}, {labels.max()}]")
    with np.errstate(all="ignore"):
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
        if lengths.shape != (n,) or lengths.min() < 1 or lengths.max() > MAX_TOKENS:
            raise _fail(path, f"lengths must be [{n}] integers in [1, {MAX_TOKENS}], got "
                              f"{lengths.dtype} {list(lengths.shape)}")
        lengths = lengths.astype(np.int32)
    expected = meta["splits"].get(split)
    if expected is not None and expected != n:
        raise _fail(path, f"meta.json says {_short(expected)} samples, file holds {n}")
    split_texts: tuple[str, ...] = ()
    if texts is not None:
        raw = texts.get(split)
        if not isinstance(raw, list) or len(raw) != n or not all(isinstance(t, str) for t in raw):
            raise _fail(folder / TEXTS_FILE, f"'{split}' must be a list of {n} strings")
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
    old = _old_path(folder)
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
    meta = _validate_meta(_read_json(folder / META_FILE), folder / META_FILE)
    texts = None
    if os.path.lexists(folder / TEXTS_FILE):
        texts = _read_json(folder / TEXTS_FILE)
        if not isinstance(texts, dict):
            raise _fail(folder / TEXTS_FILE, "top level must be a JSON object")
    cal, used = _load_split(folder, "calibration", meta, texts, max_array_bytes)
    test, _ = _load_split(folder, "test", meta, texts, max_array_bytes - used)
    defaults = _validate_defaults(meta, cal.n, folder / META_FILE)
    return Cache(meta=meta, calibration=cal, test=test, path=folder, defaults=defaults,
                 warnings=_accuracy_warnings(meta, test))


def _read_inside(folder: Path, rel: str, limit: int) -> bytes:
    """Bytes of folder/rel, refusing symlinks anywhere on the way (never leave the cache)."""
    path = folder
    for part in rel.split("/"):
        path = path / part
        if path.is_symlink():
            raise _fail(path, "is a symbolic link: refused (files must live inside the cache)")
    _regular_file(path, limit)
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


# ---------------------------------------------------------------- writing
# Cache files are meant to be shared (served by the dashboard, copied by users).
FILE_MODE, DIR_MODE = 0o644, 0o755


def _old_path(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.old")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), FILE_MODE)
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
        _discard(_old_path(folder))


def write_cache(folder: str | os.PathLike[str], meta: dict[str, Any],
                calibration: Split, test: Split, model: ModelFiles | None = None) -> Path:
    """Write a complete cache folder atomically (a new folder swapped into place).

    The result is validated by :func:`load_cache` before it replaces anything, so a
    bad build never overwrites a good cache. On Linux the staged folder and the old one
    trade places in one atomic exchange, so NAME always holds a complete cache. Elsewhere
    the swap is two renames (NAME -> .NAME.old, staging -> NAME); a process killed between
    them leaves the old version complete at .NAME.old, which :func:`load_cache`,
    :func:`list_caches` and the next build put back. Leftovers of earlier interrupted
    builds are removed first. Files are 0644, folders 0755.
    """
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
            _atomic_write_bytes(staging / f"{name}.npz", _npz_bytes(split))
        if model is not None:
            import hashlib

            (staging / MODEL_DIR).mkdir(mode=DIR_MODE)
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
        _fsync_dir(staging)
        if os.path.lexists(folder) and _rename_exchange(staging, folder):
            _fsync_dir(folder.parent)
            _discard(staging)  # now the previous version
            return folder
        old = _old_path(folder)
        if os.path.lexists(folder):
            os.rename(folder, old)  # old is absent: clean_leftovers discarded it
        os.rename(staging, folder)
        _fsync_dir(folder.parent)
        _discard(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        recover(folder)
        raise
    return folder
