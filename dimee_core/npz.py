"""Hardened reading of .npz archives (and zip directories): every limit is checked on
what the archive *declares* before anything is allocated, and arrays are read without
``np.load`` (never pickle). Problems raise :class:`~dimee_core.io.CacheError`."""

from __future__ import annotations

import math
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npformat

from .io import MAX_FILE_BYTES, CacheError, fail, regular_file

MAX_NPZ_MEMBERS = 16
NPY_HEADER_MAX = 16384  # numpy refuses headers over 10000 bytes anyway
MAX_MEMBER_NAME = 255


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
        raise fail(path, f"member {info.filename[:60]!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise fail(path, f"member {info.filename[:60]!r} uses an unsupported compression "
                          f"method ({info.compress_type})")
    if info.file_size > limit:
        raise fail(path, f"member {info.filename[:60]!r} declares {info.file_size} bytes "
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
            raise fail(path, f"refused to load '{key}' (object arrays need pickle)")
        if (dtype.names is not None or dtype.subdtype is not None
                or dtype.kind not in kinds or dtype.itemsize > 8 or len(shape) != ndim):
            kind = "integer" if kinds == "iu" else "float"
            raise fail(path, f"'{key}' must be a {ndim}-D {kind} array, got {dtype.str} "
                              f"with {len(shape)} dimensions")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if nbytes > budget:
            raise fail(path, f"'{key}' declares {nbytes} bytes; at most {budget} are allowed")
        if header_len + nbytes != info.file_size:
            raise fail(path, f"'{key}' holds {info.file_size - header_len} data bytes, its "
                              f"header declares {nbytes}")
        out = np.empty(count, dtype)
        view = memoryview(out.view(np.uint8) if count else bytearray())
        got = 0
        while got < nbytes:
            n = fh.readinto(view[got:])
            if not n:
                raise fail(path, f"'{key}' is truncated")
            got += n
        if fh.read(1):  # also makes zipfile check the CRC at the member's end
            raise fail(path, f"'{key}' has trailing data")
    return out.reshape(shape, order="F" if fortran else "C")


def read_npz(path: Path, budget: int) -> tuple[dict[str, np.ndarray], int]:
    """The known arrays of an .npz and the bytes they used, without np.load."""
    regular_file(path, MAX_FILE_BYTES)
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
        raise fail(path, f"not a readable .npz archive ({type(exc).__name__}: "
                          f"{str(exc)[:120]})") from None
    return arrays, sum(a.nbytes for a in arrays.values())

