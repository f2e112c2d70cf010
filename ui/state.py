"""The shared settings in ``st.session_state``, mirrored in the URL.

A run adopts the URL on a session's first run and on a Back/Forward (``ui.url``): each
value is parsed by ``ui.settings``; anything malformed falls back to the default (or the
current value) with a warning. The run writes the settings back to the URL at its end.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dimee_core.cache import Cache
from dimee_core.costs import CostModel
from dimee_core.config import DIMEEConfig
from ui import settings, url
from ui.text import md


def init(cache: Cache) -> None:
    """Fill missing settings with defaults; on a run that adopts the URL (a session's
    first run, a Back/Forward) take the URL's values, each validated: a bad one gets a
    warning and the default (first run) or the current value. Values that no longer fit
    this dataset (after a switch) are clamped."""
    ss, dflt, q = st.session_state, settings.defaults(cache), url.query()
    adopt, refused = url.adopting(), []
    for key in settings.SETTINGS:  # dict order puts m before n, so n's bounds see the final m
        if adopt and key in q:
            try:
                value = settings.parse(cache, key, q[key], ss.get("m"))
            except ValueError as exc:
                value = ss.get(key, dflt[key])
                what = "the current value" if key in ss else "the default"
                refused.append((key, exc, what, value))
            if ss.get(key) != value:  # writing a widget's key forces it on the browser
                ss[key] = value
        elif key not in ss:
            ss[key] = dflt[key]
    clamp(cache)
    ss["_settings_ready"] = True
    if adopt:  # worded after clamp(): say the value actually used
        ss["_url_warnings"] = [_refusal(key, q[key], exc, what, value, ss[key])
                               for key, exc, what, value in refused]


def _refusal(key: str, raw: str, exc: ValueError, what: str, fallback: Any,
             used: Any) -> str:
    """One warning for a refused URL value, naming the value the page now uses."""
    head = f"URL parameter {key}={md(repr(raw))} {md(exc)}; using "
    if used == fallback:
        return head + f"{what} {md(settings.fmt(used))}."
    return head + (f"{md(settings.fmt(used))} ({what} {md(settings.fmt(fallback))} does not "
                   f"fit the other settings).")


def clamp(cache: Cache) -> None:
    """Keep split points and k valid for the current dataset (n > m always)."""
    ss = st.session_state
    for key in ("m", "n", "k"):  # m first: n's bounds depend on it
        lo, hi = settings.bounds(cache, key, ss["m"] if key == "n" else None)
        value = int(min(max(ss[key], lo), hi))
        if value != ss[key]:  # writing a widget's key forces its value on the browser:
            ss[key] = value   # only when it must change, or a newer drag gets undone


def reset(cache: Cache) -> None:
    """Every shared setting back to this data set's defaults."""
    st.session_state.update(settings.defaults(cache))


def url_warnings() -> list[str]:
    return st.session_state.get("_url_warnings", [])


def sync_url(dataset: str | None) -> None:
    """Mirror the current settings and the page's own parameters into the URL (once, at
    the end of the run; ui.url decides between a new history entry and none)."""
    want = {key: settings.fmt(st.session_state[key]) for key in settings.SETTINGS
            if key in st.session_state}
    if dataset:
        want["ds"] = dataset
    want.update(url.take_published())  # a page's own state, this run only
    url.write(want)


def config(cache: Cache) -> DIMEEConfig:
    """The DIMEEConfig of the current settings (ValueError if the costs are invalid)."""
    return settings.config_from(cache, st.session_state)


def apply_costs(costs: CostModel) -> None:
    """Write a cost model into the widgets' state (used by presets and callbacks)."""
    for key, field in settings.COSTS:
        st.session_state[key] = float(getattr(costs, field))
    st.session_state["mode"] = costs.mode


def apply_config(cfg: DIMEEConfig) -> None:
    """Write a whole config into the widgets' state (e.g. the optimiser's pick)."""
    st.session_state.update(settings.config_settings(cfg))


def matching_preset() -> str:
    return settings.matching_preset(st.session_state)
