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

from dimee_core.cache import Cache, load_model_files
from dimee_core.costs import TIERS
from dimee_core.evaluate import DIMEEConfig
from dimee_core.predict import LiveModel, ModelOutputs, Route, csv_row, route
from dimee_core import words
from ui import compute, memo, units
from ui.text import md

MAX_REMEMBERED = 64  # texts whose outputs a session keeps
MAX_CSV_ROWS = 5000
# reading a CSV holds ~10x its bytes at once (a 50 MB one peaked at 628 MB RSS): the
# server reads no larger upload (the CLI's predict --file has no such limit)
MAX_CSV_BYTES = 50 * 2**20


@dataclass
class _Loaded:
    model: LiveModel
    lock: threading.Lock  # fast tokenizers must not be used by two threads at once


@memo.cached(show_spinner="Loading the model (once per server)…", max_entries=4)
def _loaded(cache: Cache) -> _Loaded:  # a rebuilt cache gets a new model
    return _Loaded(LiveModel(cache), threading.Lock())


@memo.cached(show_spinner=False, max_entries=8)
def task(cache: Cache) -> str:
    """"single" or "pair", from the model's sha256-verified config: no PyTorch, so the
    page draws while the model still loads (CacheError when it has none or fails)."""
    return str(load_model_files(cache).config["task"])


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

    return _remember(("text", str(cache.path), memo.stamp(cache), text, pair), run)


def _csv_key(cache: Cache, data: bytes, columns: tuple[str, str | None]) -> tuple:
    return ("csv", str(cache.path), memo.stamp(cache), hashlib.sha256(data).hexdigest(),
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


def warm_up(cache: Cache, cfg: DIMEEConfig) -> None:
    """Server start (ui.warmup, after the Overview's caches): first what the Live page
    draws from on the default data set at its defaults ``cfg`` (the model's task, the
    opening illustrative setting and its evaluation), then what a first text waits for
    (PyTorch, the model, one forward pass: the first is the slowest)."""
    from ui import teaching

    if cache.model_status is not None:  # no model shipped: Live says so, nothing to load
        return
    task(cache)
    compute.results(cache, teaching.illustration(cache, cfg).config)
    loaded = _loaded(cache)
    with loaded.lock:
        loaded.model.run(["warm up"])


# ---------------------------------------------------------------- is it sure, is it right

ANSWERERS = (("cloud", "The final exit (all in cloud)"), ("dimee", "DIMEE's route"),
             ("dimee_plus", "DIMEE+'s route"))
TRUTH_KEY = "live_truth"  # widget key of the user's true label for the current text
MARKED = "_live_marked"  # {text: {"truth": label, answerer: right?}}: this session's marks


def answers(probs: np.ndarray, routes: dict[str, list[Route]], names: list[str]
            ) -> dict[str, tuple[str, int, float]]:
    """(label, exit, that exit's confidence) of each answerer for one text: the final
    exit and the exit each route takes its answer from (``probs``: [L, C])."""
    exits = {"cloud": len(probs), **{k: routes[k][0].exit_layer for k in ("dimee",
                                                                          "dimee_plus")}}
    return {k: (names[int(probs[e - 1].argmax())], e, float(probs[e - 1].max()))
            for k, e in exits.items()}


def verdicts(given: dict[str, tuple[str, int, float]], truth: str) -> dict[str, bool]:
    """Whether each answerer's label is the user's ``truth``."""
    return {k: label == truth for k, (label, _, _) in given.items()}


def unsure(confidence: float, alpha: float) -> str:
    """' — unsure (below α = 0.9)' for an answer whose exit is not sure of itself."""
    return f" — unsure (below α = {alpha:g})" if confidence < alpha else ""


def truth_panel(text: str, given: dict[str, tuple[str, int, float]],
                names: list[str]) -> None:
    """Let the user mark the text's true label; say which answers would have been right,
    and keep a tally over this session's marked texts."""
    ss = st.session_state
    if ss.get("_live_truth_text") != text:  # a new text starts unmarked
        ss[TRUTH_KEY] = None
        ss["_live_truth_text"] = text
    truth = st.segmented_control(
        "Do you know the true label? Mark it to see which routes would have been right",
        names, format_func=md, key=TRUTH_KEY)  # options are Markdown: label names escaped
    marked = ss.setdefault(MARKED, {})
    if truth is None:
        marked.pop(text, None)
    else:
        right = verdicts(given, truth)
        marked[text] = {"truth": truth, **right}
        st.markdown(" · ".join(
            f"{label}: **{md(given[k][0])}** from exit {given[k][1]}, "
            + (":green[**right**]" if right[k] else ":red[**wrong**]")
            for k, label in ANSWERERS))
    if marked:
        n = len(marked)
        st.caption(f"Your {words.count(n, 'marked text')} this session: "
                   + ", ".join(f"{label} right on {sum(m[k] for m in marked.values())} of {n}"
                               for k, label in ANSWERERS) + ".")


ROW_PX, MAX_ROWS_SHOWN = 35, 6  # st.dataframe's row height (header row alike)


def table_height(rows: int) -> int:
    """A dataframe height that fits ``rows`` rows and the header, no empty rows below
    (scrolls beyond MAX_ROWS_SHOWN)."""
    return ROW_PX * (min(rows, MAX_ROWS_SHOWN) + 1) + 3
