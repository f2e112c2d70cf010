"""Peak memory of the upload path (ui/upload.py) for the worst archives the 200 MB cap
allows: a decompression bomb refused from its declared sizes, and the largest cache an
upload may hold (64 MB of arrays), loaded as the dashboard then loads it again, plus one
deep copy (a conservative bound: ui.memo.load shares one object, st.cache_data would
copy). Each case runs in a fresh process; prints peak RSS.

    python bench/bench_upload.py
"""

from __future__ import annotations

import copy
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _npz(n: int, L: int = 6, C: int = 64, d: int = 64) -> bytes:
    probs = np.full((n, L, C), 1 / C, np.float32)
    buf = io.BytesIO()
    np.savez_compressed(buf, labels=np.zeros(n, np.int64), probs=probs,
                        feats=np.zeros((n, L, d), np.float16))
    return buf.getvalue()


def make(kind: str, path: Path) -> None:
    from dimee_core.cache import SCHEMA_VERSION

    meta = {"schema_version": SCHEMA_VERSION, "name": "big", "label_names":
            [f"c{i}" for i in range(64)], "model_id": "x", "num_layers": 6,
            "feature_dim": 64, "splits": {}}
    if kind == "bomb":  # a 1 MB archive whose npz arrays inflate to 2 x 0.55 GB
        n = 55_000_000 // (6 * 64 * 4) * 10
    else:  # the largest cache an upload accepts: its whole array budget
        from ui.upload import MAX_ARRAY_BYTES

        n = MAX_ARRAY_BYTES // 2 // (6 * 64 * 4 + 6 * 64 * 2 + 8)
    blob = _npz(n)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("big/meta.json", __import__("json").dumps(meta))
        z.writestr("big/calibration.npz", blob)
        z.writestr("big/test.npz", blob)


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would carry the parent's over exec)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def run(kind: str) -> None:
    from dimee_core.cache import CacheError, load_cache
    from ui import upload

    archive = Path(sys.argv[3])
    session = upload.SessionFolder(Path(tempfile.mkdtemp()))
    base = _peak_mb()
    try:
        with open(archive, "rb") as fh:
            data = fh.read()  # Streamlit holds the uploaded file in memory
        folder = upload.receive(data, "big.zip", session)
        cache = load_cache(folder)  # the dashboard's cached load
        second = copy.deepcopy(cache)  # the bound's second copy (no pickle round trip)
        outcome = f"accepted ({second.calibration.n} + {second.test.n} samples)"
    except CacheError as exc:
        outcome = f"refused: {str(exc)[:90]}"
    peak = _peak_mb()
    upload.release(session)
    print(f"{kind:>8}: archive {archive.stat().st_size / 2**20:6.1f} MB, peak RSS "
          f"{peak:6.0f} MB (interpreter + imports {base:.0f} MB); {outcome}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        run(sys.argv[2])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for kind in ("bomb", "largest"):
                path = Path(tmp) / f"{kind}.zip"
                make(kind, path)
                subprocess.run([sys.executable, __file__, "run", kind, str(path)], check=True)
