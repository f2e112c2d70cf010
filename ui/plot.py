"""Every Plotly chart of the app goes through :func:`chart`, so all share one config
(``ui.charts.config``: the toolbar only where a chart can zoom, only on hover)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ui import charts


def chart(fig: go.Figure, key: str, **kw):
    """``st.plotly_chart`` with the house config (returns its selection event)."""
    return st.plotly_chart(fig, key=key, config=charts.config(fig), **kw)
