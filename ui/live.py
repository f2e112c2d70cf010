"""The Live page's plumbing: the shipped model once per server, each text's model outputs
once per session, and routing those outputs with the shared cached routers.

A sidebar change re-runs the page: the outputs come from the session, the routers from
``compute.routers`` (k-means cached, re-solved for the new settings), so the model never
runs again for a text it has seen.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Callable

import streamlit as st

import numpy as np

from dimee_core.cache import Cache
from dimee_core.costs import TIERS
from dimee_core.evaluate import DIMEEConfig
from dimee_core.predict import LiveModel, ModelOutputs, Route, csv_row, route
from ui import compute, units

MAX_REMEMBERED = 64  # texts whose outputs a session keeps
MAX_CSV_ROWS = 5000


@dataclass
class _Loaded:
    model: LiveModel
    lock: threading.Lock  # fast tokenizers must not be used by two threads at once


@compute.cached(show_spinner="Loading the model (once per server)…", max_entries=4)
def _loaded(cache: Cache) -> _Loaded:  # a rebuilt cache gets a new model
    return _Loaded(LiveModel(cache), threading.Lock())


def model(cache: Cache) -> LiveModel:
    """The cache's model, shared by every session (CacheError / ModelError when it has
    none or it fails its checks; errors are not cached)."""
    return _loaded(cache).model


def _remember(key: tuple, make: Callable[[], ModelOutputs]) -> ModelOutputs:
    memo = st.session_state.setdefault("_live_outputs", {})
    if key not in memo:
        value = make()
        while len(memo) >= MAX_REMEMBERED:
            memo.pop(next(iter(memo)))  # oldest first
        memo[key] = value
    return memo[key]


def outputs(cache: Cache, text: str, pair: str | None = None) -> ModelOutputs:
    """One text through the model, computed once per session (PredictError on bad input)."""
    loaded = _loaded(cache)

    def run() -> ModelOutputs:
        with loaded.lock:
            return loaded.model.run([text], None if pair is None else [pair])

    return _remember(("text", str(cache.path), compute.stamp(cache), text, pair), run)


def _csv_key(cache: Cache, data: bytes, columns: tuple[str, str | None]) -> tuple:
    return ("csv", str(cache.path), compute.stamp(cache), hashlib.sha256(data).hexdigest(),
            columns)


def batch_outputs(cache: Cache, data: bytes, columns: tuple[str, str | None],
                  texts: list[str], pairs: list[str] | None,
                  on_progress: Callable[[int, int], None]) -> ModelOutputs:
    """An uploaded CSV's texts (from ``columns``) through the model, once per session."""
    loaded = _loaded(cache)

    def run() -> ModelOutputs:
        with loaded.lock:
            return loaded.model.run_chunks(texts, pairs, on_progress=on_progress,
                                           describe=csv_row)

    return _remember(_csv_key(cache, data, columns), run)


def batch_seen(cache: Cache, data: bytes, columns: tuple[str, str | None]) -> bool:
    """Whether this file's texts already went through the model in this session."""
    return _csv_key(cache, data, columns) in st.session_state.get("_live_outputs", {})


def routes(cache: Cache, cfg: DIMEEConfig, out: ModelOutputs) -> dict[str, list[Route]]:
    """DIMEE and DIMEE+ routes at ``cfg`` with the shared fitted routers (no model run)."""
    with compute.routers(cache, cfg) as (dimee, plus):
        return route(out, dimee, plus, cache.label_names)


def figures(cache: Cache, cfg: DIMEEConfig, routes: list[Route], tokens: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Each routed text's cost and all-in-cloud's, in the sidebar's unit: a profile's
    figures from the text's own token count, or the abstract route cost."""
    if not units.in_units():
        ref = cfg.costs.reference_cost(cache.num_layers)
        return np.array([r.cost for r in routes], float), np.full(len(routes), ref)
    tier = np.array([TIERS.index(r.tier) for r in routes])
    return units.per_request(cfg, cache.num_layers, tier,
                             np.array([r.escalated for r in routes]), np.asarray(tokens))
