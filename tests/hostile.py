"""Builders of hostile input shared by the regression tests and the fuzz suite:
small valid caches to corrupt, hand-made .npy headers and zip archives with patched
flags, methods and checksums."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np

from dimee_core.writer import write_cache

from .conftest import synthetic_split

META = {"name": "toy", "title": "Toy data", "label_names": ["a", "b", "c"],
        "model_id": "test", "num_layers": 6, "feature_dim": 8, "splits": {}}
ROUTING = {"m": 2, "n": 4, "k": 3, "features": "conf", "epsilon": 0.3, "chosen_by": "a note"}


def small_cache(folder: Path, n: int = 30, routing: dict = ROUTING, **meta) -> Path:
    """A valid cache with ``n`` samples per split (the final exit's accuracy recorded)."""
    cal, test = synthetic_split(n, seed=1), synthetic_split(n, seed=2)
    acc = (test.probs.argmax(2) == test.labels[:, None]).mean(0)
    meta = {**META, "test_exit_accuracy": [round(float(a), 4) for a in acc], **meta}
    return write_cache(folder, meta, cal, test, routing=routing)


def npy(shape: tuple[int, ...], descr: str = "<f4", payload: bytes = b"",
        version: tuple[int, int] = (1, 0), fortran: bool = False) -> bytes:
    """An .npy file whose header declares ``shape``/``descr`` followed by ``payload``
    (which need not match: that is the point)."""
    header = repr({"descr": descr, "fortran_order": fortran, "shape": tuple(shape)})
    header = header.encode("latin1")
    pre = 10 if version == (1, 0) else 12
    pad = (-(pre + len(header) + 1)) % 64
    header += b" " * pad + b"\n"
    size = struct.pack("<H", len(header)) if version == (1, 0) else struct.pack(
        "<I", len(header))
    return b"\x93NUMPY" + bytes(version) + size + header + payload


def npy_of(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def patch_zip(data: bytes, flags: int | None = None, method: int | None = None,
              crc: int | None = None, file_size: int | None = None) -> bytes:
    """Overwrite fields of every local and central header (zipfile trusts the central
    directory; the local one is patched too so both agree)."""
    out = bytearray(data)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = out.find(sig)
        while at >= 0:
            f = at + off  # flags, method, time, date, crc, csize, usize
            if flags is not None:
                out[f:f + 2] = struct.pack("<H", flags)
            if method is not None:
                out[f + 2:f + 4] = struct.pack("<H", method)
            if crc is not None:
                out[f + 8:f + 12] = struct.pack("<I", crc)
            if file_size is not None:
                out[f + 16:f + 20] = struct.pack("<I", file_size)
            at = out.find(sig, at + 4)
    return bytes(out)


def npz_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def edit_meta(folder: Path, **changes) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    meta.update(changes)
    (folder / "meta.json").write_text(json.dumps(meta))


def write_routing(folder: Path, settings) -> None:
    """Replace a cache's routing.json, unchecked (hostile settings welcome)."""
    (folder / "routing.json").write_text(json.dumps(settings))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth
