"""Every Plotly chart of the app goes through :func:`chart`, so all share one config
(``ui.charts.config``: the toolbar only where a chart can zoom, only on hover).

:func:`figure` builds a chart once per server for equal inputs: a rerun (a slider
press) redraws every chart of the page, and building a ``go.Figure`` (Plotly validates
every property) cost 5-16 ms of CPU each, mostly for figures whose inputs had not
changed (the price curve, tier bars while the routing stays)."""

from __future__ import annotations

import hashlib
import pickle
from typing import Any, Callable

import plotly.graph_objects as go
import streamlit as st

from ui import charts


def chart(fig: go.Figure, key: str, **kw):
    """``st.plotly_chart`` with the house config (returns its selection event)."""
    return st.plotly_chart(fig, key=key, config=charts.config(fig), **kw)


@st.cache_resource(max_entries=256, show_spinner=False)
def _built(name: str, digest: str, _build: Callable[..., go.Figure], _args: tuple,
           _kwargs: dict) -> go.Figure:
    return _build(*_args, **_kwargs)


def figure(build: Callable[..., go.Figure], *args: Any, **kwargs: Any) -> go.Figure:
    """``build(*args, **kwargs)`` (a pure figure builder), shared by every run and session
    that passes the same inputs, so a figure is rebuilt exactly when one of them changed.
    The key is a digest of the pickled inputs (pickled only to be compared, never read
    back): equal bytes mean identical data frames, arrays and numbers, with nothing
    sampled (Streamlit's own hashing samples large frames). Read-only for callers
    (``st.plotly_chart`` copies it)."""
    try:
        raw = pickle.dumps((args, sorted(kwargs.items())), pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return build(*args, **kwargs)  # an input pickle cannot take: build it every time
    return _built(f"{build.__module__}.{build.__qualname__}",
                  hashlib.blake2b(raw, digest_size=20).hexdigest(), build, args, kwargs)
