"""What-if's error breakdown: which true classes each tier gets wrong."""

from __future__ import annotations

import streamlit as st

from dimee_core.breakdown import class_tier_errors
from dimee_core.cache import Cache
from ui import insight_charts, plot
from ui.text import md

ROUTERS = {"dimee": "DIMEE", "dimee_plus": "DIMEE+"}


def worst(table) -> str:
    """The breakdown's worst cell in words (at least 5 answered, so one slip is not it)."""
    big = table[table["answered"] >= 5]
    if big.empty or big["wrong"].sum() == 0:
        return "No tier gets any class wrong on five or more of its samples."
    r = big.sort_values(["error_rate", "answered"], ascending=False).iloc[0]
    return (f"Most often wrong: the {r['tier']} on true *{md(r['label'])}*, "
            f"{r['wrong']:,} of {r['answered']:,} ({100 * r['error_rate']:.1f} %), mostly "
            f"answering *{md(r['mistaken_for'])}*.")


def section(cache: Cache, evaluation) -> None:
    st.header("Which classes each tier gets wrong")
    method = st.segmented_control("Router", list(ROUTERS), default="dimee_plus",
                                  format_func=ROUTERS.get, key="wi_conf_method",
                                  persist_state="session") or "dimee_plus"
    test = cache.test
    table = class_tier_errors(test.labels, test.probs, evaluation.routings[method],
                              cache.label_names)
    plot.chart(insight_charts.class_tier_heatmap(table, cache.label_names), key="wi_conf")
    st.caption(f"Each cell: of the test samples of that true class that {ROUTERS[method]} "
               f"answers on that tier, how many it gets wrong. {worst(table)}")
    cc = st.column_config
    st.dataframe(table, hide_index=True, key="wi_conf_table", column_config={
        "tier": "Answered on", "label": "True class",
        "answered": cc.NumberColumn("Answered", format="localized"),
        "wrong": cc.NumberColumn("Wrong", format="localized"),
        "error_rate": cc.NumberColumn("Wrong %", format="percent"),
        "mistaken_for": "Mostly mistaken for",
        "mistaken_count": cc.NumberColumn("That many times", format="localized")})
