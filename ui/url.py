"""The URL as the session's shareable, navigable state: when a run adopts the URL and how a
run writes it back.

Streamlit's frontend pushes a browser-history entry whenever a run changes the query
string (and replaces the entry instead while it replays a Back/Forward). So:
- a run writes the URL at most once, at its end, and only when it changed: one entry
  per deliberate change;
- a Back/Forward reruns the script with that entry's query string: that run *adopts*
  the URL (settings, data set, each page's own parameters), like a session's first run;
- a page switch: the frontend drops our parameters and pushes the bare page URL; that
  run restores them into the same entry (``replaceState``) instead of pushing a second.

Each value is validated on arrival by its owner (``Param.parse`` raises ValueError with
a plain reason): a bad one gets one escaped warning and leaves the current value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlencode

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ui.text import md

_EXTRA = "_url_extra"  # {param: value} a page adds to the URL for its own state, this run
_MODE = "_url_mode"  # why this run runs: "first", "history" (Back/Forward) or "run"
_PAGE = "_url_page"  # the page the previous run showed
_REPLACED = "_url_replaced"  # how many entries this session rewrote


def query() -> dict[str, str]:
    """The query string this run was started with (last value of a repeated key)."""
    return {k: st.query_params[k] for k in st.query_params}


def start_run(first: bool) -> None:
    """Decide, before anything reads a setting, whether this run adopts the URL: on a
    session's first run and on a browser Back/Forward."""
    ctx = get_script_run_ctx()
    history = bool(getattr(ctx, "is_history_navigation", False))
    st.session_state[_MODE] = "first" if first else "history" if history else "run"


def adopting() -> bool:
    """True while this run takes its values from the URL (first run, Back/Forward)."""
    return st.session_state.get(_MODE) in ("first", "history")


def publish(params: Mapping[str, str]) -> None:
    """A page's own parameters for this run's URL (written once, at the run's end)."""
    st.session_state.setdefault(_EXTRA, {}).update(params)


def take_published() -> dict[str, str]:
    """The page parameters published this run (and forget them: next run starts empty)."""
    return st.session_state.pop(_EXTRA, {})


def write(want: dict[str, str]) -> None:
    """Make the URL say ``want``, once per run and only when it differs: a new history
    entry for a change made on this page; the current entry rewritten on arrival and
    after a page switch (the frontend pushed the bare page URL: one entry per switch)."""
    ss = st.session_state
    page = getattr(get_script_run_ctx(), "page_script_hash", None)
    switched, ss[_PAGE] = ss.get(_PAGE) not in (None, page), page
    if query() == want:
        return
    mode = ss.get(_MODE)
    if mode == "first" or (mode == "run" and switched):
        _replace(want)
    else:  # the frontend replaces instead of pushing while it replays Back/Forward
        st.query_params.from_dict(want)


def _replace(want: dict[str, str]) -> None:
    """Rewrite the current history entry's query string in the browser (Streamlit can
    only push). The server keeps the old one for this run; the next run brings the
    browser's URL back."""
    qs = json.dumps("?" + urlencode(want)).replace("<", "\\u003c")  # inert in <script>
    n = st.session_state[_REPLACED] = st.session_state.get(_REPLACED, 0) + 1
    with st.container(key="url_replace"):  # new text each time, or it would not rerun
        st.html(f"<style>.st-key-url_replace {{display: none}}</style><script>/* {n} */"
                f"history.replaceState(history.state, '', location.pathname + {qs});"
                "</script>", unsafe_allow_javascript=True)


# ---------------------------------------------------------------- a page's own parameters

@dataclass(frozen=True)
class Param:
    """One page parameter: URL name == widget key; ``parse`` raises ValueError with a
    plain reason; ``fmt`` turns the widget's value back into URL text."""

    key: str
    parse: Callable[[str], Any]
    fmt: Callable[[Any], str] = str


def adopt(params: tuple[Param, ...]) -> None:
    """On a run that adopts the URL, set each present parameter's widget value (before
    the widget is drawn); a bad value: one escaped warning, the current value stays."""
    if not adopting():
        return
    ss, q = st.session_state, query()
    for p in params:
        if p.key not in q:
            continue
        try:
            value = p.parse(q[p.key])
        except ValueError as exc:
            st.warning(f"URL parameter {p.key}={md(repr(q[p.key]))} {md(exc)}; keeping "
                       f"the current value.")
            continue
        if ss.get(p.key) != value:  # writing a widget's key forces it on the browser
            ss[p.key] = value


def mirror(params: tuple[Param, ...]) -> None:
    """Put the widgets' current values into this run's URL."""
    ss = st.session_state
    publish({p.key: p.fmt(ss[p.key]) for p in params if p.key in ss})


# ---------------------------------------------------------------- parsers

def choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return raw
    return parse


def subset(options: tuple[str, ...]) -> Callable[[str], list[str]]:
    """A comma-separated subset, kept in the options' order ('' = none)."""
    def parse(raw: str) -> list[str]:
        got = [p for p in raw.split(",") if p] if raw else []
        bad = [p for p in got if p not in options]
        if bad:
            raise ValueError(f"may only list {', '.join(options)}")
        return [o for o in options if o in got]
    return parse


def number(lo: float, hi: float, whole: bool = False) -> Callable[[str], float | int]:
    def parse(raw: str) -> float | int:
        try:
            v = int(raw) if whole else float(raw)
        except ValueError:
            raise ValueError(f"is not a {'whole ' if whole else ''}number") from None
        if not lo <= v <= hi:  # NaN fails too
            raise ValueError(f"must lie in [{lo:g}, {hi:g}]")
        return v
    return parse


def text(limit: int) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if len(raw) > limit:
            raise ValueError(f"is longer than {limit} characters")
        return raw
    return parse


def joined(values: list[str]) -> str:
    return ",".join(values)


def num(value: Any) -> str:
    """A number as URL text: the shortest that reads back exactly ("1", not "1.0")."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
