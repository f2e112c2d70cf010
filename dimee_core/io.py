"""Below everything: the error a malformed project file raises, strict JSON and atomic
writes. Every reader and writer of cache, profile and report files goes through here."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

MAX_JSON_DEPTH = 32
MAX_FILE_BYTES = 512 * 1024 * 1024  # refuse absurd files before reading them
# Files are meant to be shared (served by the dashboard, copied by users).
FILE_MODE, DIR_MODE = 0o644, 0o755


class CacheError(ValueError):
    """A cache folder or file is missing, malformed or inconsistent."""


def fail(path: Path, problem: str) -> CacheError:
    return CacheError(f"{path}: {problem}")


def short(v: Any) -> str:
    """A value for an error message: repr, cut short (hostile values can be huge)."""
    text = repr(v) if not isinstance(v, int) or abs(v) < 10**30 else "a huge integer"
    return text if len(text) <= 60 else text[:57] + "..."


def regular_file(path: Path, limit: int) -> None:
    if path.is_symlink():
        raise fail(path, "is a symbolic link: refused (files must live inside the cache)")
    if not path.is_file():
        raise fail(path, "file is missing")
    if path.stat().st_size > limit:
        raise fail(path, f"file is too large (over {limit / 2**20:g} MB)")


# ---------------------------------------------------------------- strict JSON

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
                raise fail(path, "holds a string that is not valid Unicode (a lone "
                                  "surrogate)") from None
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_JSON_DEPTH:
            raise fail(path, f"is nested deeper than {MAX_JSON_DEPTH} levels")
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
        raise fail(path, f"not valid UTF-8 JSON ({reason})") from None
    _check_tree(obj, path)
    return obj


def read_json(path: Path, limit: int = MAX_FILE_BYTES) -> Any:
    """A regular file (no symlink, at most ``limit`` bytes) parsed as strict JSON."""
    regular_file(path, limit)
    return parse_json(path.read_bytes(), path)


# ---------------------------------------------------------------- atomic writes

def fsync_dir(path: Path) -> None:
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


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a file so that readers see either the old or the new content."""
    path = Path(path)
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
    atomic_write_bytes(path, text.encode("utf-8"))
