"""Pinned settings: keep several whole settings of one data set (more than Compare's two)
and see them side by side, with a parallel-coordinates view of their knobs and results."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dimee_core.cache import Cache
from ui import compute, insight_charts, plot, settings, undo
from ui.settings import SETTINGS
from ui.text import md

KEY = "_pins"  # session: [{"ds": data set, "name": str, "settings": {key: value}}]
MAX_PINS = 8


def describe(s: dict[str, Any]) -> str:
    """A pinned setting in one short line: 'm=2 n=4 k=12 budget ε=0.5'."""
    knob = {"budget": f"ε={s['eps']:g}", "reward": f"μ={s['mu']:g}",
            "pools": f"α={s['alpha']:g}"}
    return f"m={s['m']} n={s['n']} k={s['k']} {s['policy']} {knob.get(s['policy'], '')}".strip()


def _pin(dataset: str) -> None:
    ss = st.session_state
    pins = ss.setdefault(KEY, [])
    snap = {key: ss[key] for key in SETTINGS}
    if any(p["ds"] == dataset and p["settings"] == snap for p in pins):
        return  # already pinned
    ours = [p for p in pins if p["ds"] == dataset]
    if len(ours) >= MAX_PINS:
        pins.remove(ours[0])  # the oldest of this data set makes room
    ss["_pin_count"] = ss.get("_pin_count", 0) + 1  # numbers never repeat in a session
    pins.append({"ds": dataset, "name": f"#{ss['_pin_count']} {describe(snap)}",
                 "settings": snap})


def pin_button(dataset: str) -> None:
    n = sum(p["ds"] == dataset for p in st.session_state.get(KEY, []))
    st.button(f"Pin this setting ({n} pinned; see them on Compare)", key="pin_setting",
              on_click=_pin, args=(dataset,), icon=":material/push_pin:",
              help=f"Keep the sidebar's whole setting to compare up to {MAX_PINS} side by "
                   "side on the Compare page.")


def _unpin(index: int) -> None:
    st.session_state[KEY].pop(index)


def _load(index: int) -> None:
    chosen = st.session_state[KEY][index]
    undo.bulk(f"pinned {chosen['name']}", lambda: st.session_state.update(chosen["settings"]))


def table(cache: Cache, pins: list[dict]) -> pd.DataFrame:
    """Each pin's knobs and both methods' test results (the app's own cached evaluation)."""
    rows = []
    for p in pins:
        s = p["settings"]
        ev = compute.results(cache, settings.config_from(cache, s)).evaluation
        d, plus = ev.methods["dimee"], ev.methods["dimee_plus"]
        rows.append({"name": p["name"], "m": s["m"], "n": s["n"], "k": s["k"],
                     "alpha": s["alpha"], "policy": s["policy"], "eps": s["eps"],
                     "mu": s["mu"], "drop_pp": d.accuracy_drop_pp,
                     "reduction_pct": d.cost_reduction_pct,
                     "plus_drop_pp": plus.accuracy_drop_pp,
                     "plus_reduction_pct": plus.cost_reduction_pct})
    return pd.DataFrame(rows)


def section(cache: Cache, dataset: str) -> None:
    """Compare's pinned settings: table, parallel coordinates, load or remove each."""
    st.header("Pinned settings")
    all_pins = st.session_state.get(KEY, [])
    mine = [(i, p) for i, p in enumerate(all_pins) if p["ds"] == dataset]
    if not mine:
        st.caption("Nothing pinned for this data set yet: set the sidebar's knobs on "
                   "What-if and press **Pin this setting** to keep up to "
                   f"{MAX_PINS} settings here side by side.")
        return
    try:
        df = table(cache, [p for _, p in mine])
    except ValueError as exc:
        st.error(f"A pinned setting cannot be evaluated: {md(exc, 400)}")
        return
    cc = st.column_config.NumberColumn
    st.dataframe(df, hide_index=True, key="pins_table", column_config={
        "name": "Pinned setting", "alpha": cc("α", format="%.3f"),
        "eps": cc("ε (pp)", format="%.2f"), "mu": cc("μ", format="%.2f"),
        "drop_pp": cc("DIMEE drop (pp)", format="%+.2f"),
        "reduction_pct": cc("DIMEE saved %", format="%.1f"),
        "plus_drop_pp": cc("DIMEE+ drop (pp)", format="%+.2f"),
        "plus_reduction_pct": cc("DIMEE+ saved %", format="%.1f")})
    if len(df) > 1:
        plot.chart(insight_charts.pinned_parcoords(df), key="pins_parcoords")
        st.caption("Each line is one pinned setting, from its knobs (left) to DIMEE's test "
                   "accuracy drop and cost saving (right); drag along an axis to keep only "
                   "the lines within a range.")
    cols = st.columns(min(len(mine), 4))
    for j, (i, p) in enumerate(mine):
        with cols[j % len(cols)]:
            st.caption(md(p["name"]))
            tag = p["name"].split(" ")[0]
            st.button(f"Load {tag} into the sidebar", key=f"pin_load_{j}", on_click=_load,
                      args=(i,))
            st.button(f"Remove {tag}", key=f"pin_drop_{j}", on_click=_unpin, args=(i,))
