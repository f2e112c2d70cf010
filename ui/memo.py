"""Light cached services, memoised per server: the decorator every cached service uses,
loading a cache, and reading what ``tune`` stored with it. Nothing here imports
scikit-learn, SciPy or pandas (tests/test_first_screen.py checks it): the Overview's
first screen is drawn from these before :mod:`ui.compute` (fitting, scoring) is imported.

One decorator, :func:`cached`, memoises ``fn(cache, *args)`` on the cache's folder, the
stamp of its files and the ``repr`` of every other argument (a config's or a profile's
repr names every field). A Cache is never hashed by value, and a rebuilt or re-tuned
cache gets fresh entries.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable, TypeVar

import streamlit as st

from dimee_core import answer
from dimee_core.cache import Cache, load_cache
from dimee_core.recommendation import Recommendation
from dimee_core.tokens import with_lengths

APP_DIR = Path(__file__).resolve().parent.parent
STAMPED = ("meta.json", "routing.json")  # the build's record and its tuned settings

F = TypeVar("F", bound=Callable[..., Any])


def mtime(file: Path) -> float:
    try:
        return os.stat(file).st_mtime
    except OSError:
        return 0.0


def stamp(source: Cache | str) -> tuple[float, ...]:
    """Modification times of a cache folder's record files: a rebuilt or re-tuned cache
    invalidates everything cached from it."""
    return tuple(mtime(Path(_folder(source)) / name) for name in STAMPED)


def _folder(source: Cache | str) -> str:
    return str(source.path) if isinstance(source, Cache) else str(source)


def cached(kind: str = "resource", **options: Any) -> Callable[[F], F]:
    """Memoise ``fn(source, *args)`` (source: a Cache or a cache folder) with
    ``st.cache_<kind>``: "data" returns a copy per call, "resource" the shared object.
    The key is (folder, stamp, repr of each arg); source and args reach ``fn`` unhashed.
    Errors are never cached."""
    memo = {"data": st.cache_data, "resource": st.cache_resource}[kind]

    def wrap(fn: F) -> F:
        def entry(folder: str, stamp_: tuple[float, ...], key: tuple[str, ...],
                  _source: Any, _args: tuple) -> Any:
            return fn(_source, *_args)

        # Streamlit keys a function's cache on its module, qualname and source: this
        # shared body needs fn's names, or every decorated function would share one cache.
        entry.__module__, entry.__qualname__ = fn.__module__, fn.__qualname__
        memoised = memo(**{"show_spinner": False, **options})(entry)

        @functools.wraps(fn)
        def call(source: Any, *args: Any) -> Any:
            folder = _folder(source)
            return memoised(folder, stamp(folder), tuple(map(repr, args)), source, args)
        return call  # type: ignore[return-value]
    return wrap


@cached(max_entries=8)  # app.py shows the progress
def load(path: str) -> Cache:
    """Validated cache (CacheError on a bad one; errors are never cached). One shared,
    read-only object: every run reads it, and copying it per run (st.cache_data
    unpickles ~4-14 MB) cost up to 80 ms of each slider move for the all-data-sets table."""
    cache = load_cache(path)
    for split in (cache.calibration, cache.test):
        for array in (split.labels, split.probs, split.feats, split.lengths):
            if array is not None:
                array.flags.writeable = False
    return cache


@cached(show_spinner="Counting tokens per sample…", max_entries=8)
def with_tokens(cache: Cache) -> tuple[Cache, str | None]:
    """The cache with per-sample token counts (stored, or recomputed for old caches, with
    a note saying how)."""
    return with_lengths(cache)


@cached(max_entries=16)
def stored_answer(cache: Cache) -> Recommendation | None:
    """The recommendation ``tune`` stored with the cache (None: none for its current
    build and settings; :func:`ui.compute.recommended` then computes it)."""
    return answer.stored(cache)
