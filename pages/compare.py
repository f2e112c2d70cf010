"""Compare: two named cost scenarios side by side, same routing settings."""

from dataclasses import replace

import streamlit as st

from dimee_core import explore
from dimee_core.costs import PRESETS
from ui import charts, sidebar, widgets

CURRENT = "Current sidebar costs"
ctx = sidebar.current()
cache, cfg = ctx.cache, ctx.cfg
st.title("Compare two scenarios")
st.caption("Same dataset, split points, clusters and policy; only the cost model differs. "
           "DIMEE re-picks the tier of every cluster for each scenario.")

choices = [CURRENT, *PRESETS]
cols = st.columns(2)
picked = []
for col, side, default in zip(cols, "ab", ("5G: cheap uplink", "Congested uplink")):
    with col:
        name = st.text_input("Scenario name", default.split(":")[0], key=f"cmp_name_{side}",
                             persist_state="session")
        preset = st.selectbox("Costs", choices, index=choices.index(default),
                              key=f"cmp_preset_{side}", persist_state="session")
        costs = cfg.costs if preset == CURRENT else PRESETS[preset]
        picked.append((name or side.upper(), replace(cfg, costs=costs)))

results = [widgets.results_or_error(cache, c) for _, c in picked]
if all(r is not None for r in results):
    dimee = [r.evaluation.methods["dimee"] for r in results]
    for col, (name, c), r in zip(cols, picked, dimee):
        with col:
            st.header(name)
            widgets.kpi_row(r, per_row=2)
            st.caption(f"o_edge {c.costs.o_edge:g}, o_cloud {c.costs.o_cloud:g}, o_edge→cloud "
                       f"{c.costs.o_edge_cloud:g}, λ mobile/edge/cloud {c.costs.lambda_mobile:g}"
                       f"/{c.costs.lambda_edge:g}/{c.costs.lambda_cloud:g}, {c.costs.mode}")
    names = tuple(n for n, _ in picked)
    if names[0] == names[1]:
        names = (f"{names[0]} (A)", f"{names[1]} (B)")
    st.header("Where the samples go")
    st.plotly_chart(charts.tier_shares_bar(
        {f"{n} · {label}": res.evaluation.methods[key].tier_shares
         for n, res in zip(names, results)
         for key, label in (("dimee", "DIMEE"), ("dimee_plus", "DIMEE+"))}, height=260),
        key="cmp_tiers")
    st.header(f"Difference ({names[1]} − {names[0]})")
    diff = explore.compare_results(*dimee).rename(columns={"a": names[0], "b": names[1]})
    st.dataframe(diff, hide_index=True, column_config={
        c: st.column_config.NumberColumn(format="%.2f") for c in (*names, "difference")})
    st.caption("Costs are in each scenario's own units, so compare cost *reduction* (%) "
               "across scenarios rather than raw mean cost.")
