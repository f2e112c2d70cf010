import io
import os
import json
import zipfile

import numpy as np
import pytest

from dimee_core.cache import CacheError, load_cache
from dimee_core.splits import Split
from dimee_core.writer import write_cache

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


@pytest.mark.slow
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
    ("num_layers", "six", r"num_layers must be an integer in \[1, "),
    ("label_names", ["only"], "label_names must be a list"),
    ("feature_dim", 512, r"feature_dim must be an integer in \[1, 64\], got 512"),
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


@pytest.mark.slow
def test_shipped_caches_load_and_are_real(shipped):
    assert shipped.calibration.n >= 1000 and shipped.test.n >= 1000
    assert shipped.num_layers == 6 and shipped.meta["model_id"] == "all-MiniLM-L6-v2"
    assert set(shipped.calibration.texts).isdisjoint(shipped.test.texts)
    # the final exit of a fine-tuned model is far better than chance
    acc = (shipped.test.probs[:, -1].argmax(1) == shipped.test.labels).mean()
    assert acc > 1.5 / shipped.num_classes


# ---------------------------------------------------------------- hostile caches (issue 10)

from . import hostile  # noqa: E402


@pytest.fixture
def toy(tmp_path):
    return hostile.small_cache(tmp_path / "toy")


def _set_member(folder, split, name, data, method=zipfile.ZIP_DEFLATED):
    members = hostile.npz_members(folder / f"{split}.npz")
    members[name] = data
    (folder / f"{split}.npz").write_bytes(hostile.zip_bytes(members, method))


def test_member_without_npy_header(toy):
    _set_member(toy, "test", "probs.npy", b"no header here")
    with pytest.raises(CacheError, match="test.npz: not a readable .npz"):
        load_cache(toy)


def test_corrupt_deflate_data(toy):
    path = toy / "calibration.npz"
    data = bytearray(path.read_bytes())
    start = data.find(b"probs.npy") + len("probs.npy")
    data[start + 40:start + 200] = bytes(160)  # zeroes in the deflate stream
    path.write_bytes(bytes(data))
    with pytest.raises(CacheError, match="calibration.npz: not a readable .npz"):
        load_cache(toy)


def test_huge_declared_shape_is_refused_before_allocating(toy):
    import tracemalloc

    # 2 x 10^9 x 6 x 3 float32 = 134 GiB declared; a few bytes of data follow
    _set_member(toy, "calibration", "probs.npy",
                hostile.npy((2 * 10**9, 6, 3), "<f4", b"\0" * 64))
    tracemalloc.start()
    with pytest.raises(CacheError, match="'probs' declares 144000000000 bytes"):
        load_cache(toy)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20


@pytest.mark.parametrize("member, descr, message", [
    ("probs.npy", "|O", "object arrays need pickle"),
    ("probs.npy", "<c8", "must be a 3-D float array"),
    ("labels.npy", "<f4", "must be a 1-D integer array"),
    ("feats.npy", "<f16", "must be a 3-D float array"),
    ("lengths.npy", "<i4", "header declares"),  # 30 declared, no data
])
def test_npy_headers_are_checked(toy, member, descr, message):
    shape = (30,) if member in ("labels.npy", "lengths.npy") else (30, 6, 3)
    _set_member(toy, "test", member, hostile.npy(shape, descr))
    with pytest.raises(CacheError, match=message):
        load_cache(toy)


def test_array_budget_counts_both_splits(toy):
    c = load_cache(toy)
    need = sum(a.nbytes for s in (c.calibration, c.test) for a in (s.labels, s.probs, s.feats))
    load_cache(toy, max_array_bytes=need)
    with pytest.raises(CacheError, match="test.npz:.*declares"):
        load_cache(toy, max_array_bytes=need - 1)


@pytest.mark.parametrize("patch, message", [
    (dict(flags=1), "is encrypted"),
    (dict(method=99), "unsupported compression method"),
    (dict(crc=0), "not a readable .npz"),
])
def test_zip_level_tricks_in_an_npz(toy, patch, message):
    path = toy / "test.npz"
    path.write_bytes(hostile.patch_zip(path.read_bytes(), **patch))
    with pytest.raises(CacheError, match=message):
        load_cache(toy)


@pytest.mark.parametrize("text, message", [
    ('{"a": ' + hostile.nested(5000) + '}', "nested too deeply"),
    ('{"a": ' + hostile.nested(500) + '}', "nested deeper than 32"),
    ('{"a": ' + "9" * 5000 + '}', "not valid UTF-8 JSON"),
    ('{"a": NaN}', "NaN is not allowed"),
    ('{"a": 1e999}', "out of range"),
    ('{"a": "\\ud800"}', "lone surrogate"),
], ids=["deep-5000", "deep-500", "huge-int", "nan", "inf", "surrogate"])
def test_hostile_json(toy, text, message):
    meta = json.loads((toy / "meta.json").read_text())
    raw = json.dumps(meta)[:-1] + ", " + text[1:]
    (toy / "meta.json").write_text(raw)
    with pytest.raises(CacheError, match=message):
        load_cache(toy)


def test_lone_surrogate_in_title_is_refused(toy):
    raw = (toy / "meta.json").read_text().replace('"Toy data"', '"Toy \\ud800 data"')
    (toy / "meta.json").write_text(raw)
    with pytest.raises(CacheError, match="lone surrogate"):
        load_cache(toy)


@pytest.mark.parametrize("change, message", [
    ({"schema_version": True}, "schema_version True is not supported"),
    ({"schema_version": 1.0}, "schema_version 1.0 is not supported"),
    ({"title": 5}, "title must be a non-empty string"),
    ({"splits": {"test": "30"}}, "splits must be an object of split sizes"),
    ({"test_exit_accuracy": [2] * 6}, "test_exit_accuracy must list"),
    ({"model": "yes"}, "model must record"),
])
def test_meta_types(toy, change, message):
    hostile.edit_meta(toy, **change)
    with pytest.raises(CacheError, match=message):
        load_cache(toy)


def test_texts_null_is_refused(toy):
    (toy / "texts.json").write_text("null")
    with pytest.raises(CacheError, match="texts.json: top level must be a JSON object"):
        load_cache(toy)


@pytest.mark.parametrize("name", ["meta.json", "texts.json", "test.npz"])
def test_symlinked_files_are_refused(toy, tmp_path, name):
    outside = tmp_path / f"outside-{name}"
    (toy / name).rename(outside)
    (toy / name).symlink_to(outside)
    with pytest.raises(CacheError, match=f"{name}: is a symbolic link: refused"):
        load_cache(toy)


def test_symlink_inside_model_folder_is_refused(toy, tmp_path):
    (toy / "model").mkdir()
    (tmp_path / "secret").write_text("x")
    (toy / "model" / "weights.safetensors").symlink_to(tmp_path / "secret")
    with pytest.raises(CacheError, match="weights.safetensors: is a symbolic link"):
        load_cache(toy)


def test_lengths_are_validated(toy):
    _set_member(toy, "test", "lengths.npy", hostile.npy_of(np.zeros(30, np.int32)))
    with pytest.raises(CacheError, match=r"lengths must be \[30\] integers"):
        load_cache(toy)
    _set_member(toy, "test", "lengths.npy", hostile.npy_of(np.full(30, 7, np.int16)))
    assert load_cache(toy).test.lengths.tolist() == [7] * 30


def test_wrong_arrays_give_a_warning(toy):
    """Shuffled labels keep the cache well-formed; the recorded accuracy catches it."""
    c = load_cache(toy)
    recorded = json.loads((toy / "meta.json").read_text())["test_exit_accuracy"][-1]
    final = float((c.test.probs[:, -1].argmax(1) == c.test.labels).mean())
    assert final == pytest.approx(recorded, abs=1e-4) and c.warnings == ()
    probs = np.full_like(c.test.probs, 1 / 3)  # uniform: argmax is always class 0
    _set_member(toy, "test", "probs.npy", hostile.npy_of(probs))
    c = load_cache(toy)
    wrong = float((c.test.labels == 0).mean())
    assert len(c.warnings) == 1
    assert f"{100 * wrong:.2f} %" in c.warnings[0] and f"{100 * recorded:.2f} %" in c.warnings[0]


# ---------------------------------------------------------------- interrupted builds

def _build_killed_at(step: int, target, exchange: bool) -> int:
    """Fork; the child runs write_cache and SIGKILLs itself at its ``step``-th
    file-system call (shutil.rmtree and tempfile go through these too). Returns the
    child's wait status."""
    import shutil
    import signal

    from dimee_core import writer

    pid = os.fork()
    if pid:
        return os.waitpid(pid, 0)[1]
    try:  # the child: never returns into pytest
        calls = [0]

        def killing(fn):
            def wrapped(*args, **kwargs):
                calls[0] += 1
                if calls[0] == step:
                    os.kill(os.getpid(), signal.SIGKILL)
                return fn(*args, **kwargs)
            return wrapped

        if not exchange:
            writer._rename_exchange = lambda a, b: False
        writer._rename_exchange = killing(writer._rename_exchange)
        for name in ("rename", "replace", "fsync", "mkdir", "open", "unlink", "rmdir",
                     "chmod", "fchmod", "write", "close"):
            setattr(os, name, killing(getattr(os, name)))
        shutil.rmtree  # noqa: B018  (uses the patched os functions)
        hostile.small_cache(target, n=20, name="new")
        os._exit(0)
    except BaseException:
        os._exit(3)


@pytest.mark.slow
@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_a_killed_build_leaves_old_or_new_and_the_next_build_cleans_up(tmp_path, exchange):
    """SIGKILL at every file-system step of write_cache, one run per step, until a run
    completes: NAME is always a complete cache (old or new), never listed twice, and
    the next build leaves nothing hidden behind."""
    import signal

    from dimee_core.cache import list_caches

    target = tmp_path / "toy"
    outcomes = set()
    for step in range(1, 1000):
        hostile.small_cache(target, n=20, name="old")
        assert os.listdir(tmp_path) == ["toy"]
        status = _build_killed_at(step, target, exchange)
        if exchange:  # no recovery needed: the path itself is never empty
            assert (target / "meta.json").is_file(), step
        assert [p.name for p in list_caches(tmp_path)] == ["toy"], step
        name = load_cache(target).name
        assert name in ("old", "new"), step
        if os.WIFEXITED(status):
            assert os.WEXITSTATUS(status) == 0 and name == "new"
            break
        assert os.WTERMSIG(status) == signal.SIGKILL
        outcomes.add(name)
        hostile.small_cache(target, n=20, name="next")  # cleans up, then swaps again
        assert os.listdir(tmp_path) == ["toy"], step
        assert load_cache(target).name == "next"
    else:
        pytest.fail("the build never completed")
    assert outcomes == {"old", "new"}  # kills landed both before and after the swap
    assert step > 20, step


def test_list_caches_skips_hidden_folders(tmp_path):
    hostile.small_cache(tmp_path / "toy")
    hostile.small_cache(tmp_path / ".toy.abc.tmp")
    assert [p.name for p in list_caches_(tmp_path)] == ["toy"]


def test_written_files_are_world_readable(tmp_path):
    folder = hostile.small_cache(tmp_path / "toy")
    assert folder.stat().st_mode & 0o777 == 0o755
    assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o644}


def list_caches_(root):
    from dimee_core.cache import list_caches

    return list_caches(root)
