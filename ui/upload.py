"""Uploaded cache archives: checks, extraction, per-session temp folders, clean-up.

An archive is checked from what it declares (member count, names, sizes, flags,
compression) before a byte is inflated; members are streamed to disk with a byte cap,
and the cache inside is loaded with a small array budget (its .npz members' declared
sizes are checked before they are inflated), so an accepted or rejected upload costs a
bounded amount of memory. Each session gets a private folder under one per-server root;
a rejected upload is deleted at once, a session's folder when the session ends
(``st.cache_resource(scope="session", on_release=...)``), the root when the server stops
(app.py's lifespan, atexit), and roots of servers that were killed at the next start.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import streamlit as st

from dimee_core.cache import META_FILE, CacheError, load_cache
from dimee_core.npz import check_member, check_zip_directory

MAX_ZIP_BYTES = 200 * 1024 * 1024  # unpacked total of an archive (declared sizes)
MAX_ZIP_FILES = 16
MAX_NAME_CHARS = 200  # a member's full name
MAX_JSON_BYTES = 32 * 1024 * 1024  # meta.json / texts.json (parsed JSON costs ~5x)
MAX_ARRAY_BYTES = 64 * 1024 * 1024  # unpacked arrays of an uploaded cache (~20x vitaminc)
CHUNK = 1024 * 1024
ROOT_PREFIX = "dimee-uploads-"
UPLOAD_ROOT = Path(tempfile.gettempdir()) / f"{ROOT_PREFIX}{os.getpid()}"
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f:]")


def _members(zf: zipfile.ZipFile, max_bytes: int) -> list[tuple[zipfile.ZipInfo, str]]:
    """Every file member with its safe relative name; CacheError on anything declared
    that could escape, collide, or cost too much."""
    files, seen = [], set()
    for info in zf.infolist():
        raw = info.filename
        shown = repr(raw[:60] + ("…" if len(raw) > 60 else ""))
        if len(raw) > MAX_NAME_CHARS:
            raise CacheError(f"a name in the archive is longer than {MAX_NAME_CHARS} "
                             f"characters ({shown})")
        name = raw.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if (name.startswith("/") or ".." in parts or _UNSAFE_CHARS.search(name)
                or any(p in ("", ".") for p in name.rstrip("/").split("/"))):
            raise CacheError(f"unsafe path in archive: {shown}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise CacheError(f"symbolic links are not allowed: {shown}")
        if info.is_dir():
            continue
        check_member(info, Path("archive"), max_bytes)
        if name.endswith(".json") and info.file_size > MAX_JSON_BYTES:
            raise CacheError(f"{shown} unpacks to more than {MAX_JSON_BYTES // 2**20} MB")
        if name in seen:
            raise CacheError(f"the archive holds {shown} twice")
        seen.add(name)
        files.append((info, name))
    if not files:
        raise CacheError("the archive is empty")
    if len(files) > MAX_ZIP_FILES:
        raise CacheError(f"the archive holds {len(files)} files; a cache has at most "
                         f"{MAX_ZIP_FILES}")
    if sum(i.file_size for i, _ in files) > max_bytes:
        raise CacheError(f"the archive unpacks to more than {max_bytes // 2**20} MB")
    for _, name in files:  # a file "a" and a file "a/b" cannot both exist
        for parent in PurePosixPath(name).parents:
            if str(parent) in seen:
                raise CacheError(f"the archive holds {str(parent)[:60]!r} both as a file "
                                 f"and as a folder")
    return files


def _copy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    """Stream one member to disk, never past its declared size."""
    left = info.file_size
    with zf.open(info) as src, open(target, "xb") as out:
        while chunk := src.read(min(CHUNK, left + 1)):
            left -= len(chunk)
            if left < 0:
                raise CacheError(f"{info.filename[:60]!r} unpacks to more than it declares")
            out.write(chunk)


def extract_zip(data: BinaryIO | bytes, dest: Path, max_bytes: int = MAX_ZIP_BYTES) -> Path:
    """Unpack an archive into the existing empty folder ``dest``; return the cache folder
    (``dest`` or its single top-level folder). CacheError on anything unsafe; the caller
    removes ``dest`` then."""
    import io

    fh = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        check_zip_directory(fh, MAX_ZIP_FILES * 4)
        with zipfile.ZipFile(fh) as zf:
            for info, name in _members(zf, max_bytes):
                target = dest.joinpath(*PurePosixPath(name).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                _copy(zf, info, target)
    except CacheError:
        raise
    except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
            RuntimeError) as exc:  # ValueError: no zip directory, too many members
        raise CacheError(f"the upload is not a valid .zip archive ({str(exc)[:100]})") from None
    except OSError as exc:
        raise CacheError(f"the archive cannot be unpacked ({exc.strerror})") from None
    if (dest / META_FILE).is_file():
        return dest
    subdirs = [p for p in dest.iterdir() if p.is_dir()]
    if len(subdirs) == 1 and (subdirs[0] / META_FILE).is_file():
        return subdirs[0]
    raise CacheError("no meta.json at the archive root or in its single top-level folder")


def public_message(exc: Exception, folder: Path, shown_as: str) -> str:
    """An error text with the server-side folder replaced by what the user knows."""
    return str(exc).replace(str(folder), shown_as)


# ---------------------------------------------------------------- folders and clean-up

@dataclass
class SessionFolder:
    """A session's private upload folder (removed when the session ends)."""

    path: Path


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def new_session_folder() -> SessionFolder:
    UPLOAD_ROOT.mkdir(mode=0o700, exist_ok=True)
    return SessionFolder(Path(tempfile.mkdtemp(prefix="session-", dir=UPLOAD_ROOT)))


def release(folder: SessionFolder) -> None:
    _remove(folder.path)


@st.cache_resource(scope="session", on_release=release, show_spinner=False)
def session_folder() -> SessionFolder:
    """This session's upload folder: created on first use, removed when the session
    disconnects or ends (Streamlit clears session-scoped resources then)."""
    return new_session_folder()


def receive(data: BinaryIO | bytes, name: str, session: SessionFolder) -> Path:
    """Check, unpack and validate an uploaded archive into the session's folder, which
    then holds only this upload (a new upload replaces the previous one). Returns the
    cache folder; CacheError (without server paths) leaves nothing on disk."""
    session.path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for old in session.path.iterdir():
        _remove(old)
    dest = Path(tempfile.mkdtemp(prefix="upload-", dir=session.path))
    try:
        folder = extract_zip(data, dest)
        load_cache(folder, max_array_bytes=MAX_ARRAY_BYTES)
    except CacheError as exc:
        _remove(dest)
        raise CacheError(public_message(exc, dest, name)) from None
    except BaseException:
        _remove(dest)
        raise
    return folder


def remove_all() -> None:
    """Server stop: remove every upload of this server."""
    _remove(UPLOAD_ROOT)


def remove_orphans() -> None:
    """Server start: remove upload roots of servers that no longer run (killed ones)."""
    for root in Path(tempfile.gettempdir()).glob(f"{ROOT_PREFIX}*"):
        pid = root.name[len(ROOT_PREFIX):]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            _remove(root)
        except PermissionError:  # another user's live server
            continue


atexit.register(remove_all)
