"""Undo for the bulk changes (the optimiser's Apply or a frontier click, Reset to
defaults, a cost preset): each rewrites many knobs at once, so the settings before it
are kept and one button puts every knob back, as long as nothing else changed since.
(Back in the browser does the same: each of these changes is one history entry.)"""

from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from ui import settings

_KEY = "_undo"  # (label, data set, settings before, settings after) of the last bulk change


def _settings() -> dict[str, Any]:
    ss = st.session_state
    return {k: ss[k] for k in settings.SETTINGS if k in ss}


def bulk(label: str, change: Callable[[], None]) -> None:
    """Run ``change`` (which writes many settings) and remember how to revert it."""
    before = _settings()
    change()
    st.session_state[_KEY] = (label, st.session_state.get("ds"), before, _settings())


def _undo() -> None:
    entry = st.session_state.pop(_KEY, None)
    if entry is not None:
        st.session_state.update(entry[2])


def button() -> None:
    """'Undo …' while the settings are still exactly what the last bulk change made."""
    entry = st.session_state.get(_KEY)
    if entry is None:
        return
    label, ds, _, after = entry
    if ds != st.session_state.get("ds") or _settings() != after:
        st.session_state.pop(_KEY)  # changed since: undoing would also drop those changes
        return
    st.button(f"Undo: {label}", key="undo", on_click=_undo, icon=":material/undo:",
              help="Puts every knob back to what it was before this change.")
