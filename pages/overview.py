"""Overview: the stakeholder view of DIMEE at the current settings."""

import streamlit as st

from dimee_core import explore
from ui import charts, sidebar, widgets

ctx = sidebar.current()
cache, cfg = ctx.cache, ctx.cfg
st.title("DIMEE Studio — overview")
st.caption(f"**{cache.meta.get('title', cache.name)}** · model {cache.meta.get('model_id')} "
           f"with an answer head after each of its {cache.num_layers} layers. The phone "
           f"runs layers 1–{cfg.m}, the edge up to {cfg.n}, the cloud all "
           f"{cache.num_layers}. All numbers are on the {cache.test.n} held-out test samples.")

st.subheader("DIMEE at the current settings")
res = widgets.results_or_error(cache, cfg) if widgets.dimee_kpis(cache, cfg, True) else None
if res is not None:
    ev = res.evaluation
    dimee = ev.methods["dimee"]
    st.subheader("DIMEE+ at the current settings")
    widgets.kpi_row(ev.methods["dimee_plus"], prefix="DIMEE+ ")
    widgets.kpi_caption(ev.methods["dimee_plus"], name="DIMEE+")
    widgets.headline_panel(cache)

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Where the samples go")
        st.plotly_chart(charts.sankey(dimee.tier_shares, n_samples=cache.test.n),
                        key="ov_sankey")
        st.caption("Every request starts on the phone, which runs the first layers and "
                   "decides from what it sees whether to answer itself or to send it on.")
    with right:
        st.subheader("DIMEE vs DIMEE+")
        st.plotly_chart(charts.tier_shares_bar({
            "DIMEE": dimee.tier_shares, "DIMEE+": ev.methods["dimee_plus"].tier_shares}),
            key="ov_tiers")
        st.caption("DIMEE+ may also keep a cluster's most confident samples on the phone "
                   "(a confidence gate per cluster) and let the edge hand a sample on to "
                   "the cloud when its own answer is unsure (paying the edge → cloud "
                   "transfer).")

    st.subheader("DIMEE beside every baseline")
    table = explore.methods_table(ev)
    widgets.methods_dataframe(table)
    st.caption("All in cloud is the reference (0 pp, 0 %). The oracle knows the answers and "
               "is only a bound; random uses DIMEE's tier shares without its judgement.")
    st.plotly_chart(charts.methods_scatter(table), key="ov_methods")
    st.caption("Each method at the current settings: further right is cheaper, lower is "
               "more accurate than the full model in the cloud.")
    widgets.config_panel(cache, cfg, res, key="ov")
