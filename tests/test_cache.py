import io
import json
import zipfile

import numpy as np
import pytest

from dimee_core.cache import CacheError, Split, load_cache, write_cache

from .conftest import synthetic_split

META = {"name": "toy", "label_names": ["a", "b", "c"], "model_id": "test",
        "num_layers": 6, "feature_dim": 8, "splits": {}}


@pytest.fixture
def cache_dir(tmp_path):
    return write_cache(tmp_path / "toy", dict(META), synthetic_split(50, seed=1),
                       synthetic_split(40, seed=2))


def test_round_trip(tmp_path):
    cal, test = synthetic_split(50, seed=1), synthetic_split(40, seed=2)
    folder = write_cache(tmp_path / "toy", dict(META), cal, test)
    c = load_cache(folder)
    assert c.meta["splits"] == {"calibration": 50, "test": 40}
    np.testing.assert_array_equal(c.calibration.labels, cal.labels)
    np.testing.assert_allclose(c.test.probs, test.probs, rtol=0, atol=0)
    np.testing.assert_allclose(c.test.feats, test.feats.astype(np.float16))
    assert c.test.texts == test.texts
    assert not list(tmp_path.glob(".*tmp*")), "staging folders must be cleaned up"


def test_rewrite_replaces_atomically(cache_dir):
    write_cache(cache_dir, dict(META, name="toy2"), synthetic_split(30), synthetic_split(30))
    assert load_cache(cache_dir).name == "toy2"


def test_failed_write_keeps_old_cache(cache_dir):
    bad = synthetic_split(30)
    bad = Split(bad.labels + 10, bad.probs, bad.feats, bad.texts)  # labels out of range
    with pytest.raises(CacheError, match="labels must lie"):
        write_cache(cache_dir, dict(META), bad, synthetic_split(30))
    assert load_cache(cache_dir).calibration.n == 50


def _rewrite_npz(path, **changes):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)


def _arr(cache_dir, key, split="calibration"):
    with np.load(cache_dir / f"{split}.npz") as z:
        return z[key].copy()


@pytest.mark.parametrize("mutate, message", [
    (lambda d: (d / "meta.json").unlink(), "meta.json: file is missing"),
    (lambda d: (d / "test.npz").unlink(), "test.npz: file is missing"),
    (lambda d: (d / "meta.json").write_text("{not json"), "not valid UTF-8 JSON"),
    (lambda d: (d / "meta.json").write_text("[1, 2]"), "must be a JSON object"),
    (lambda d: (d / "calibration.npz").write_bytes(b"garbage"), "not a readable .npz"),
    (lambda d: (d / "texts.json").write_text('{"calibration": [], "test": []}'),
     "must be a list of 50 strings"),
])
def test_file_level_errors(cache_dir, mutate, message):
    mutate(cache_dir)
    with pytest.raises(CacheError, match=message):
        load_cache(cache_dir)


@pytest.mark.parametrize("key, value, message", [
    ("schema_version", 99, "schema_version 99 is not supported"),
    ("num_layers", "six", "num_layers must be a positive integer"),
    ("label_names", ["only"], "label_names must be a list"),
    ("feature_dim", 512, "exceeds 64"),
    ("name", None, None),
])
def test_meta_errors(cache_dir, key, value, message):
    meta = json.loads((cache_dir / "meta.json").read_text())
    if message is None:
        del meta[key]
        message = r"missing keys \['name'\]"
    else:
        meta[key] = value
    (cache_dir / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CacheError, match=message):
        load_cache(cache_dir)


def test_array_errors(cache_dir):
    path = cache_dir / "calibration.npz"
    probs = _arr(cache_dir, "probs")
    cases = [
        ({"probs": probs[:, :5]}, "probs must be float"),
        ({"probs": np.where(np.arange(3) == 0, np.nan, probs)}, "NaN or infinity"),
        ({"probs": probs * 2}, "do not sum to 1"),
        ({"probs": -probs}, "negative"),
        ({"labels": _arr(cache_dir, "labels").astype(np.float32)}, "1-D integer"),
        ({"labels": _arr(cache_dir, "labels") + 3}, "labels must lie in"),
        ({"feats": np.full((50, 6, 8), np.inf, np.float16)}, "feats contain NaN"),
        ({"feats": None}, "array 'feats' is missing"),
    ]
    original = path.read_bytes()
    for change, message in cases:
        path.write_bytes(original)
        _rewrite_npz(path, **change)
        with pytest.raises(CacheError, match=message) as err:
            load_cache(cache_dir)
        assert "calibration.npz" in str(err.value)


def test_pickled_arrays_are_refused(cache_dir):
    path = cache_dir / "test.npz"
    buf = io.BytesIO()
    np.savez(buf, labels=np.array([object()], dtype=object), probs=_arr(cache_dir, "probs", "test"),
             feats=_arr(cache_dir, "feats", "test"))
    path.write_bytes(buf.getvalue())
    with pytest.raises(CacheError, match="refused to load"):
        load_cache(cache_dir)
    assert zipfile.is_zipfile(path)


def test_missing_folder(tmp_path):
    with pytest.raises(CacheError, match="not a cache folder"):
        load_cache(tmp_path / "nope")


def test_size_mismatch_with_meta(cache_dir):
    meta = json.loads((cache_dir / "meta.json").read_text())
    meta["splits"]["test"] = 41
    (cache_dir / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CacheError, match="says 41 samples, file holds 40"):
        load_cache(cache_dir)


def test_shipped_caches_load_and_are_real(shipped):
    assert shipped.calibration.n >= 1000 and shipped.test.n >= 1000
    assert shipped.num_layers == 6 and shipped.meta["model_id"] == "all-MiniLM-L6-v2"
    assert set(shipped.calibration.texts).isdisjoint(shipped.test.texts)
    # the final exit of a fine-tuned model is far better than chance
    acc = (shipped.test.probs[:, -1].argmax(1) == shipped.test.labels).mean()
    assert acc > 1.5 / shipped.num_classes
