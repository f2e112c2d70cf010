"""Fuzz every parser with generated hostile input (hypothesis, fixed seed, time-boxed):
cache folders, the CLI, uploaded archives and URL values.

A small valid cache is corrupted by one to three generated mutations (meta.json values,
stored routing settings (every field, any JSON type), raw JSON, texts, .npy headers and
payloads, zip fields, flipped or cut bytes, symbolic links, missing files). Properties:
``load_cache`` returns a cache or raises ``CacheError``, nothing else; the CLI never
prints a traceback (run in-process: any exception fails the test) and reports a refusal
as one ``error:`` line; an upload is accepted or refused with ``CacheError`` and a
refused one leaves nothing on disk; a URL value parses or raises ValueError, and shown
escaped it holds no live Markdown.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dimee_core import cli
from dimee_core.cache import CacheError, load_cache
from dimee_core.config import PARAMS, DIMEEConfig
from dimee_core.tuned import RECORD

from . import hostile

# Fixed seed (derandomize), no example database, a per-example deadline far above the
# ~10 ms an example takes so that a hang or a slow allocation fails instead of stalling.
FUZZ = dict(derandomize=True, database=None, deadline=timedelta(seconds=10),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                    HealthCheck.function_scoped_fixture])
FILES = ("meta.json", "texts.json", "calibration.npz", "test.npz", "routing.json")
MEMBERS = ("labels.npy", "probs.npy", "feats.npy", "lengths.npy", "extra.npy", "probs")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.just(10**400)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
    | st.just("\ud800"),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
config_values = (st.integers(-3, 40) | st.floats(-1, 3) | st.sampled_from(
    ["conf", "signals", "embed", "signals+embed", "pools", "reward", "budget", "resume",
     "12", ""]) | json_values)


@st.composite
def meta_change(draw):
    key = draw(st.sampled_from(["schema_version", "name", "title", "label_names", "model_id",
                                "num_layers", "feature_dim", "splits", "test_exit_accuracy",
                                "model", "defaults", "x"]))
    return ("meta", key, draw(json_values))


# every field routing.json may hold (config.PARAMS and tuned.RECORD), plus unknown ones
STORED_KEYS = sorted({p.name for p in PARAMS if p.group != "costs"} | set(RECORD)
                     | {"costs", "dimee_plus", "note"})
stored_values = (config_values | st.sampled_from([0.3, 1.0, 0.1, 2**32, 10**400, "x", True])
                 | st.dictionaries(st.sampled_from(["method", "m", "n", "alpha", "k",
                                                   "target_pp", "fit_fraction", "x"]),
                                   config_values | st.sampled_from(["cascade", "dimee_plus"]),
                                   max_size=4))


@st.composite
def defaults_change(draw):
    key = draw(st.sampled_from(STORED_KEYS))
    if key == "costs":
        value = draw(st.dictionaries(st.sampled_from(
            ["o_cloud", "o_edge", "lambda_cloud", "mode", "warp"]), config_values,
            max_size=3) | json_values)
    else:
        value = draw(stored_values)
    return ("defaults", key, value)


raw_json = st.one_of(
    st.binary(max_size=64), st.text(max_size=64).map(str.encode),
    st.integers(1, 3000).map(lambda d: hostile.nested(d).encode()),
    st.sampled_from([b"null", b"[]", b"{}", b'{"calibration": null}', b"1" * 5000,
                     b'{"calibration": ["x"], "test": [1]}', b"\xff\xfe"]))


@st.composite
def npy_member(draw):
    shape = tuple(draw(st.lists(st.integers(0, 2**40) | st.integers(0, 40), max_size=4)))
    descr = draw(st.sampled_from(["<f4", "<f2", "<f8", "<i8", "<i4", "|u1", "|O", "<c8",
                                  ">f4", "<f16", "|b1", "<U4", "|V8"]))
    payload = draw(st.binary(max_size=256))
    version = draw(st.sampled_from([(1, 0), (2, 0), (3, 0), (9, 9)]))
    return hostile.npy(shape, descr, payload, version, draw(st.booleans()))


@st.composite
def array_member(draw):
    dtype = draw(st.sampled_from([np.float32, np.float16, np.int64, np.int8, np.uint16]))
    shape = tuple(draw(st.lists(st.integers(0, 31), min_size=1, max_size=3)))
    fill = draw(st.sampled_from([0, 1, -1, 1 / 3, 7, np.nan, np.inf]))
    with np.errstate(all="ignore"):
        return hostile.npy_of(np.full(shape, fill).astype(dtype))


mutation = st.one_of(
    meta_change(), defaults_change(),
    st.tuples(st.just("raw"), st.sampled_from(["meta.json", "texts.json"]), raw_json),
    st.tuples(st.just("member"), st.sampled_from(["calibration.npz", "test.npz"]),
              st.sampled_from(MEMBERS), npy_member() | array_member() | st.binary(max_size=99)),
    st.tuples(st.just("flip"), st.sampled_from(FILES), st.integers(0, 10**6),
              st.integers(1, 255)),
    st.tuples(st.just("cut"), st.sampled_from(FILES), st.integers(0, 10**6)),
    st.tuples(st.just("zip"), st.sampled_from(["calibration.npz", "test.npz"]),
              st.sampled_from(["flags", "method", "crc", "file_size"]),
              st.integers(0, 2**16 - 1)),
    st.tuples(st.just("link"), st.sampled_from(FILES + ("model",)), st.booleans()),
    st.tuples(st.just("delete"), st.sampled_from(FILES), st.none()),
)


def _apply(folder: Path, change: tuple) -> None:
    kind, target, *rest = change
    if kind in ("meta", "defaults"):
        file = folder / ("meta.json" if kind == "meta" else "routing.json")
        try:
            doc = json.loads(file.read_text())
        except (OSError, ValueError, RecursionError):
            return  # an earlier mutation broke or removed it
        if not isinstance(doc, dict):
            return
        doc[target] = rest[0]
        file.write_text(json.dumps(doc))
        return
    path = folder / target
    if not path.is_file() or path.is_symlink():
        return  # an earlier mutation removed or replaced it
    if kind == "raw":
        path.write_bytes(rest[0])
    elif kind == "member":
        try:
            members = hostile.npz_members(path)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError):
            members = {}
        members[rest[0]] = rest[1]
        path.write_bytes(hostile.zip_bytes(members))
    elif kind in ("flip", "cut"):
        data = bytearray(path.read_bytes())
        if data:
            at = rest[0] % len(data)
            if kind == "flip":
                data[at] ^= rest[1]
            else:
                del data[at:]
        path.write_bytes(bytes(data))
    elif kind == "zip":
        path.write_bytes(hostile.patch_zip(path.read_bytes(), **{rest[0]: rest[1]}))
    elif kind == "link":
        outside = folder.parent / f"outside-{target}"
        shutil.copy(path, outside) if rest[0] else outside.write_text("{}")
        path.unlink()
        path.symlink_to(outside)
    elif kind == "delete":
        path.unlink()


def _link_model(folder: Path, change: tuple) -> bool:
    if change[:2] == ("link", "model"):
        (folder.parent / "elsewhere").mkdir(exist_ok=True)
        if not os.path.lexists(folder / "model"):
            (folder / "model").symlink_to(folder.parent / "elsewhere")
        return True
    return False


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return hostile.small_cache(tmp_path_factory.mktemp("fuzz") / "toy")


def _hostile_copy(template: Path, changes: list[tuple], root: str) -> Path:
    folder = Path(root) / "toy"
    shutil.copytree(template, folder)
    for change in changes:
        if not _link_model(folder, change):
            _apply(folder, change)
    return folder


@pytest.mark.slow
@settings(max_examples=500, **FUZZ)
@given(changes=st.lists(mutation, min_size=1, max_size=3))
def test_load_cache_raises_only_cache_error(template, changes):
    with tempfile.TemporaryDirectory() as root:
        folder = _hostile_copy(template, changes, root)
        try:
            cache = load_cache(folder)
        except CacheError as exc:
            assert str(exc).strip()
            return
        # accepted: then it is coherent
        assert cache.calibration.probs.shape[1:] == (cache.num_layers, cache.num_classes)
        assert not any(p.is_symlink() for p in folder.rglob("*"))


@pytest.mark.slow
@settings(max_examples=80, **FUZZ)
@given(changes=st.lists(mutation, min_size=1, max_size=2),
       extra=st.sampled_from([[], ["--k", "40"], ["--m", "3", "--n", "3"], ["--json"]]))
def test_cli_never_prints_a_traceback(template, changes, extra, capsys):
    with tempfile.TemporaryDirectory() as root:
        folder = _hostile_copy(template, changes, root)
        rc = cli.main(["evaluate", str(folder), "--bootstrap", "0", *extra])
        out, err = capsys.readouterr()
        assert rc in (0, 2)
        if rc == 2:
            assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
        else:
            assert "dimee" in out.lower() and (not err or err.startswith("warning: "))
        assert "Traceback" not in err


@pytest.mark.slow
@settings(max_examples=300, **FUZZ)
@given(settings_=st.dictionaries(st.sampled_from(STORED_KEYS), stored_values, max_size=6))
def test_stored_settings_of_any_type_load_or_give_one_cache_error(template, settings_):
    """Issue 21, item 4: any type in any stored field gives a valid configuration or one
    CacheError naming routing.json, never a TypeError from deep inside."""
    with tempfile.TemporaryDirectory() as root:
        folder = _hostile_copy(template, [], root)
        hostile.write_routing(folder, settings_)
        try:
            cache = load_cache(folder)
        except CacheError as exc:
            assert "routing.json" in str(exc) and len(str(exc).splitlines()) == 1
            return
        for method in ("dimee", "dimee_plus"):  # accepted: both configurations are usable
            DIMEEConfig.for_cache(cache, method).check(cache.num_layers, cache.calibration.n)


@pytest.mark.slow
@settings(max_examples=40, **FUZZ)
@given(settings_=st.dictionaries(st.sampled_from(STORED_KEYS), stored_values, max_size=4))
def test_evaluate_on_stored_settings_of_any_type_prints_no_traceback(template, settings_,
                                                                      capsys):
    with tempfile.TemporaryDirectory() as root:
        folder = _hostile_copy(template, [], root)
        hostile.write_routing(folder, settings_)
        rc = cli.main(["evaluate", str(folder), "--bootstrap", "0", "--json"])
        out, err = capsys.readouterr()
        assert rc in (0, 2) and "Traceback" not in err
        if rc == 2:
            assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
        else:
            assert json.loads(out)["dataset"] == "toy"


@pytest.mark.slow
def test_mutations_reach_every_kind():
    """The generator is not vacuous: every mutation kind is drawn under the fixed seed."""
    kinds = set()

    @settings(max_examples=300, **FUZZ)
    @given(mutation)
    def draw(change):
        kinds.add(change[0])

    draw()
    assert kinds == {"meta", "defaults", "raw", "member", "flip", "cut", "zip", "link",
                     "delete"}


# ---------------------------------------------------------------- archives

member_names = st.one_of(
    st.sampled_from(["meta.json", "texts.json", "calibration.npz", "test.npz", "toy/meta.json",
                     "toy/test.npz", "../x", "/abs", "a", "a/b", "C:/x", "d/", "x\\..\\y",
                     "a" * 300, "toy/", "toy/model/config.json"]),
    st.text(min_size=1, max_size=30))


@st.composite
def archives(draw, template: Path):
    files = {f"toy/{p.name}": p.read_bytes() for p in template.iterdir() if p.is_file()}
    for _ in range(draw(st.integers(0, 3))):
        files[draw(member_names)] = draw(st.binary(max_size=64) | st.sampled_from(
            list(files.values())))
    if draw(st.booleans()):
        files.pop(draw(st.sampled_from(sorted(files))), None)
    data = hostile.zip_bytes(files, draw(st.sampled_from([zipfile.ZIP_DEFLATED,
                                                          zipfile.ZIP_STORED])))
    kind = draw(st.sampled_from(["none", "patch", "flip", "cut"]))
    if kind == "patch":
        field = draw(st.sampled_from(["flags", "method", "crc", "file_size"]))
        data = hostile.patch_zip(data, **{field: draw(st.integers(0, 2**16 - 1))})
    elif kind in ("flip", "cut") and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + (bytes([data[at] ^ 0x5A]) + data[at + 1:] if kind == "flip" else b"")
    return data


@pytest.mark.slow
def test_uploads_raise_only_cache_error_and_leave_nothing(template):
    from ui import upload

    @settings(max_examples=150, **FUZZ)
    @given(data=archives(template))
    def check(data):
        with tempfile.TemporaryDirectory() as root:
            session = upload.SessionFolder(Path(root) / "session")
            try:
                folder = upload.receive(data, "fuzz.zip", session)
            except CacheError as exc:
                assert root not in str(exc)  # never a server path
                assert os.listdir(session.path) == []
                return
            assert folder.is_relative_to(session.path)
            assert not any(p.is_symlink() for p in session.path.rglob("*"))

    check()


# ---------------------------------------------------------------- URL values

GFM_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)", re.IGNORECASE | re.ASCII)
GFM_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.ASCII)


@pytest.mark.slow
def test_url_values_parse_or_refuse_and_show_inert(shipped_default):
    from ui import settings as ui_settings
    from ui.text import md

    @settings(max_examples=300, **FUZZ)
    @given(key=st.sampled_from(sorted(ui_settings.SETTINGS)),
           raw=st.text(max_size=40) | st.sampled_from(
               ["[Click](https://evil.example/)", "![x](http://h/b.png)", ":red[x]", "1e999",
                "https://evil.example/x", "WWW.evil.example", "a@evil.example", "http://x",
                "nan", "-0", "9" * 5000, "<img src=x>", "$x$", "\\[x](y)", "0x10"]))
    def check(key, raw):
        try:
            value = ui_settings.parse(shipped_default, key, raw)
        except ValueError:
            pass
        else:
            s = ui_settings.SETTINGS[key]
            if s.kind != "choice":
                lo, hi = ui_settings.bounds(shipped_default, key)
                assert lo <= value <= hi
        shown = md(raw)
        assert "\n" not in shown
        unescaped = re.sub(r"\\.", "", shown)  # drop every escaped character
        assert not re.search(r"[\[\]()!<>:`*_$|#\\]", unescaped), shown
        # remark-gfm links literal URLs in the text left once escapes are resolved (its
        # regexes, from Streamlit's bundled mdast-util-gfm-autolink-literal)
        text = re.sub(r"\\(.)", r"\1", shown)
        assert not GFM_URL.search(text) and not GFM_EMAIL.search(text), shown

    check()


@pytest.mark.slow
def test_page_url_values_parse_or_refuse(shipped_default):
    """Samples' and the optimiser's own URL parameters: a value parses into what its
    widget accepts (the formatted value reads back the same) or raises ValueError."""
    from ui import optimiser, samples

    params = {p.key: p for p in (*samples.params(shipped_default.test.n), *optimiser.REQUEST)}
    choices = {"smp_method": samples.ROUTERS, "smp_outcome": samples.OUTCOMES,
               "opt_family": tuple(optimiser.FAMILY_LABELS)}

    @settings(max_examples=300, **FUZZ)
    @given(key=st.sampled_from(sorted(params)),
           raw=st.text(max_size=40) | st.sampled_from(
               ["edge,cloud", "mobile,,edge", "1e999", "nan", "-1", "0", "1", "0.5", "9" * 500,
                "dimee", "dimee_plus", "wrong", "x" * 201, "[x](y)", "3.5"]))
    def check(key, raw):
        p = params[key]
        try:
            value = p.parse(raw)
        except ValueError:
            return
        if key in choices:
            assert value in choices[key]
        elif key in ("smp_tier", "smp_pool"):
            assert isinstance(value, list) and len(set(value)) == len(value)
        elif key == "smp_id":
            assert isinstance(value, int) and 0 <= value < shipped_default.test.n
        elif key == "smp_text":
            assert len(value) <= samples.MAX_TEXT
        else:
            assert 0 <= value <= (1 if key == "opt_delta" else 100)
        assert p.parse(p.fmt(value)) == value

    check()


@pytest.fixture(scope="module")
def shipped_default():
    from .conftest import SHIPPED

    return load_cache(SHIPPED / "rt-snippets")
