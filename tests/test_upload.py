"""Uploaded archives (ui/upload.py): one clear CacheError per hostile archive, declared
sizes checked before inflating, nothing left on disk when rejected, when the session
ends or when the server stops."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from dimee_core.cache import CacheError
from ui import upload

from . import hostile
from .conftest import ROOT

SHIPPED = ROOT / "cache" / "rt-snippets"


def _zip(files: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    return hostile.zip_bytes(files, method)


def _cache_files(folder: Path, prefix: str = "") -> dict[str, bytes]:
    return {prefix + p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def session(tmp_path):
    folder = upload.SessionFolder(tmp_path / "session")
    folder.path.mkdir()
    return folder


def _disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@pytest.mark.slow
def test_a_good_archive_is_unpacked_and_validated(session):
    folder = upload.receive(_zip(_cache_files(SHIPPED, "mine/")), "mine.zip", session)
    assert folder.name == "mine" and (folder / "meta.json").is_file()
    assert folder.is_relative_to(session.path)
    # a second upload replaces the first (one upload per session on disk)
    again = upload.receive(_zip(_cache_files(SHIPPED)), "again.zip", session)
    assert not folder.exists() and again.is_dir()
    assert len(list(session.path.iterdir())) == 1


def _long(n):
    return "d/" * (n // 2) + "x"


HOSTILE = {
    "encrypted": (lambda: hostile.patch_zip(_zip({"meta.json": b"{}"}), flags=1), "encrypted"),
    "method": (lambda: hostile.patch_zip(_zip({"meta.json": b"{}"}), method=99),
               "unsupported compression method"),
    "bad crc": (lambda: hostile.patch_zip(_zip({"meta.json": b"{}" * 50}), crc=7),
                "not a valid .zip archive"),
    "long name": (lambda: _zip({"a" * 300: b"x"}), "longer than 200 characters"),
    "deep name": (lambda: _zip({_long(190): b"x"}), "no meta.json"),
    "file and dir": (lambda: _zip({"a": b"1", "a/b": b"2"}), "both as a file and as a folder"),
    "twice": (lambda: _dup_zip(), "twice"),
    "dotdot": (lambda: _zip({"../evil.json": b"{}"}), "unsafe path"),
    "absolute": (lambda: _zip({"/abs/meta.json": b"{}"}), "unsafe path"),
    "backslash": (lambda: _zip({"..\\evil.json": b"{}"}), "unsafe path"),
    "drive": (lambda: _zip({"C:/evil.json": b"{}"}), "unsafe path"),
    "control char": (lambda: _zip({"a\nb.json": b"{}"}), "unsafe path"),
    "symlink": (lambda: _symlink_zip(), "symbolic links are not allowed"),
    "not a zip": (lambda: b"not a zip at all", "not a valid .zip archive"),
    "empty": (lambda: _zip({}), "not a valid .zip archive|the archive is empty"),
    "only dirs": (lambda: _zip({"d/": b""}), "the archive is empty"),
    "too many": (lambda: _zip({f"f{i}": b"" for i in range(17)}), "at most 16"),
    "declares too much": (lambda: hostile.patch_zip(_zip({"meta.json": b"{}"}),
                                                    file_size=300 * 2**20), "declares"),
    "lies about size": (lambda: hostile.patch_zip(_zip({"meta.json": b"{}" * 500}),
                                                  file_size=10),
                        "more than it declares|not a valid .zip archive"),
    "no cache": (lambda: _zip({"x/y.txt": b"1", "z/w.txt": b"2"}), "no meta.json"),
}


def _dup_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("meta.json", b"{}")
        with pytest.warns(UserWarning):
            z.writestr("meta.json", b"{}")
    return buf.getvalue()


def _symlink_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("meta.json")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_archives_give_one_clear_message_and_leave_nothing(session, kind):
    make, message = HOSTILE[kind]
    with pytest.raises(CacheError, match=message) as err:
        upload.receive(make(), "evil.zip", session)
    assert str(session.path) not in str(err.value)  # never a server path
    assert os.listdir(session.path) == []


@pytest.mark.slow
def test_hostile_cache_inside_an_archive_names_the_archive_not_the_server(session):
    files = _cache_files(SHIPPED)
    files["meta.json"] = files["meta.json"].replace(b'"schema_version": 1',
                                                    b'"schema_version": true')
    with pytest.raises(CacheError, match=r"^evil.zip/meta.json: schema_version True") as err:
        upload.receive(_zip(files), "evil.zip", session)
    assert "/tmp" not in str(err.value) and os.listdir(session.path) == []


def test_npz_members_inside_are_checked_before_inflating(session, tmp_path):
    """An npz whose arrays declare more than the upload budget is refused from its
    headers: a 1 KB archive cannot make the server allocate gigabytes."""
    toy = hostile.small_cache(tmp_path / "toy")
    members = hostile.npz_members(toy / "test.npz")
    members["probs.npy"] = hostile.npy((10**8, 6, 3), "<f4")  # 7.2 GB declared
    files = _cache_files(toy)
    files["test.npz"] = _zip(members)
    data = _zip(files)
    assert len(data) < 20_000
    tracemalloc.start()
    with pytest.raises(CacheError, match=r"^evil.zip/test.npz: 'probs' declares 7200000000 bytes"):
        upload.receive(data, "evil.zip", session)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10 * 2**20 and os.listdir(session.path) == []


def test_array_budget_of_an_upload_is_enforced(session, tmp_path, monkeypatch):
    toy = hostile.small_cache(tmp_path / "toy")
    monkeypatch.setattr(upload, "MAX_ARRAY_BYTES", 2000)
    with pytest.raises(CacheError, match="declares"):
        upload.receive(_zip(_cache_files(toy)), "big.zip", session)
    monkeypatch.setattr(upload, "MAX_ARRAY_BYTES", 10**6)
    assert upload.receive(_zip(_cache_files(toy)), "ok.zip", session).is_dir()


@pytest.mark.slow
def test_session_folder_is_removed_when_the_session_ends():
    """Streamlit clears a session's session-scoped resources when it disconnects or
    shuts down (AppSession.clear_session_caches); that must delete its uploads."""
    from streamlit.runtime import caching
    from streamlit.testing.v1 import AppTest

    def script():
        import streamlit as st

        from ui import upload as up

        folder = up.session_folder()
        up.receive(open(st.session_state["archive"], "rb"), "mine.zip", folder)
        st.session_state["folder"] = str(folder.path)

    archive = upload.UPLOAD_ROOT.parent / f"dimee-test-{os.getpid()}.zip"
    archive.write_bytes(_zip(_cache_files(SHIPPED)))
    try:
        at = AppTest.from_function(script)
        at.session_state["archive"] = str(archive)
        at.run()
        assert not at.exception, at.exception
        folder = Path(at.session_state["folder"])
        assert _disk(folder) > 1_000_000
        caching.clear_session_resource_cache("test session id")  # what shutdown calls
        assert not folder.exists()
    finally:
        archive.unlink()


@pytest.mark.slow
def test_server_stop_removes_every_upload(monkeypatch, tmp_path):
    import app
    from ui import warmup

    monkeypatch.setattr(upload, "UPLOAD_ROOT", tmp_path / "dimee-uploads-test")
    monkeypatch.setattr(warmup, "run", lambda: None)
    session = upload.new_session_folder()
    upload.receive(_zip(_cache_files(SHIPPED)), "mine.zip", session)
    assert _disk(upload.UPLOAD_ROOT) > 1_000_000

    async def serve():
        async with app._lifespan(None):
            assert upload.UPLOAD_ROOT.is_dir()

    asyncio.run(serve())
    assert not upload.UPLOAD_ROOT.exists()


def test_uploads_of_killed_servers_are_removed_at_start(monkeypatch, tmp_path):
    monkeypatch.setattr(upload.tempfile, "gettempdir", lambda: str(tmp_path))
    dead, alive = tmp_path / "dimee-uploads-999999999", tmp_path / f"dimee-uploads-{os.getppid()}"
    for root in (dead, alive):
        (root / "session-x").mkdir(parents=True)
    upload.remove_orphans()
    assert not dead.exists() and alive.exists()


def test_server_paths_are_opt_in_and_loopback_only(monkeypatch):
    from ui import datasets

    address = {"server.address": "127.0.0.1"}
    monkeypatch.setattr(datasets.st, "get_option", lambda key: address[key])
    monkeypatch.delenv(datasets.SERVER_PATHS_ENV, raising=False)
    assert not datasets.server_paths_allowed()
    monkeypatch.setenv(datasets.SERVER_PATHS_ENV, "1")
    assert datasets.server_paths_allowed()
    for exposed in ("0.0.0.0", "", None, "192.168.1.5", "::"):
        address["server.address"] = exposed
        assert not datasets.server_paths_allowed(), exposed


def test_shipped_config_binds_loopback():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"


def teardown_module():
    shutil.rmtree(upload.UPLOAD_ROOT, ignore_errors=True)


def test_json_members_are_capped(session, monkeypatch):
    monkeypatch.setattr(upload, "MAX_JSON_BYTES", 100)
    with pytest.raises(CacheError, match="'texts.json' unpacks to more than"):
        upload.receive(_zip({"meta.json": b"{}", "texts.json": b" " * 101}), "t.zip", session)
