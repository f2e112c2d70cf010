"""ui/memo.py: one caching decorator, keyed on the cache folder, its files' stamp and
the arguments' repr."""

from __future__ import annotations

import os

from ui import memo


def test_each_cached_function_keeps_its_own_entries_and_a_rewrite_refreshes(tmp_path):
    """Two functions with the same shared body must not answer for each other (Streamlit
    keys a cache on the function's name); a new meta.json or routing.json is a new key."""
    (tmp_path / "meta.json").write_text("{}")
    calls = []

    @memo.cached("data")
    def first(folder, x):
        calls.append(("first", x))
        return "first", x

    @memo.cached("data")  # the same kind: one body, told apart by fn's name only
    def second(folder, x):
        calls.append(("second", x))
        return "second", x

    folder = str(tmp_path)
    assert first(folder, 1) == ("first", 1) and first(folder, 1) == ("first", 1)
    assert second(folder, 1) == ("second", 1)
    assert first(folder, 2) == ("first", 2)
    assert calls == [("first", 1), ("second", 1), ("first", 2)]
    for name in ("meta.json", "routing.json"):  # a rebuild, then a re-tune
        (tmp_path / name).write_text("{}")
        stamp = os.stat(tmp_path / name).st_mtime + 10
        os.utime(tmp_path / name, (stamp, stamp))
        assert first(folder, 1) == ("first", 1)
    assert calls[3:] == [("first", 1), ("first", 1)]


def test_errors_are_not_kept_and_the_stamp_reads_both_record_files(tmp_path):
    (tmp_path / "meta.json").write_text("{}")
    calls = []

    @memo.cached()
    def flaky(source, fail):
        calls.append(fail)
        if fail:
            raise ValueError("not now")
        return len(calls)

    for _ in range(2):
        try:
            flaky(str(tmp_path), True)
        except ValueError:
            pass
    assert calls == [True, True]  # an error is computed again, never cached
    assert flaky(str(tmp_path), False) == 3
    assert memo.stamp(str(tmp_path)) == (os.stat(tmp_path / "meta.json").st_mtime, 0.0)
