"""What-if: every knob live, the accuracy/cost frontier, clusters and the guaranteed optimiser."""

import streamlit as st

import app

from ui import (charts, confusion, guarantee, optimiser, pins, plot, unit_figures, units,
                widgets)

COUNT = lambda title: st.column_config.NumberColumn(title, format="localized")  # "1,234"
ctx = app.current()
cache, cfg = ctx.cache, ctx.cfg
st.title("What-if: change the costs, see the routing")
st.caption("Every knob is in the sidebar (costs and presets, offload mode, split points "
           "m and n, clusters k, α, policy with its ε or μ); each change re-solves the "
           "tier choice of every cluster and rescores the test split instantly (k-means "
           "only reruns when m, k or the features change).")

applied = st.container()  # the applied recommendation, first: filled once results are in
st.header("DIMEE now")
res = widgets.results_or_error(cache, cfg) if widgets.dimee_kpis(cache, cfg) else None
if res is not None:
    ev = res.evaluation
    st.header("DIMEE+ now")
    real, latencies = widgets.unit_summaries(cache, cfg)
    widgets.kpi_row(ev.methods["dimee_plus"], prefix="DIMEE+ ",
                    real=units.real_pair(real, "dimee_plus"))
    guarantee.status_caption(cache, cfg)
    with applied:
        guarantee.applied_section(cfg, ev, real)
    widgets.risk_warnings(ev, real)
    with st.expander("How DIMEE+ routes each cluster (a confidence gate on the phone; the "
                     "edge may escalate)"):
        st.caption("DIMEE+ keeps DIMEE's clusters but may give a cluster a confidence gate: "
                   "the phone answers the cluster's samples whose own confidence reaches "
                   "the gate and sends the rest to the edge. "
                   + (f"The edge hands a sample on to the cloud when its confidence is "
                      f"below β = {res.beta_plus:g}." if res.beta_plus else
                      "At this setting the edge never hands a sample on to the cloud.")
                   + " With every cluster gated at β it would be the confidence cascade.")
        st.dataframe(res.clusters_plus[["cluster", "size", "test_size", "tier"]],
                     hide_index=True, column_config={
                         "size": COUNT("Calibration size"), "test_size": COUNT("Test size"),
                         "tier": "DIMEE+ option"}, key="wi_plus_clusters")

    param = "μ" if cfg.policy == "reward" else "ε"
    st.header("Accuracy vs cost")
    unit_figures.frontier(cache, cfg, ev, real, param)

    left, right = st.columns(2)
    with left:
        st.header("Tier distribution")
        plot.chart(plot.figure(charts.tier_shares_bar, {
            label: ev.methods[k].tier_shares
            for k, label in (("dimee", "DIMEE"), ("dimee_plus", "DIMEE+"),
                             ("cascade", "Cascade"), ("oracle", "Oracle"))}), key="wi_tiers")
    with right:
        st.header("Clusters")
        plot.chart(plot.figure(charts.cluster_chart, res.clusters), key="wi_clusters")
    st.caption("Clusters are groups of calibration samples that looked alike to the phone "
               "after layer m. Bars show how many of each are easy (the phone's exit is "
               "already sure), medium or hard; the label says where DIMEE sends the group.")
    cc = st.column_config.NumberColumn
    st.dataframe(res.clusters, hide_index=True, column_config={
        "acc_mobile": cc("Acc. on phone", format="percent"),
        "acc_edge": cc("Acc. on edge", format="percent"),
        "acc_cloud": cc("Acc. in cloud", format="percent"),
        "size": COUNT("Calibration size"), "test_size": COUNT("Test size"),
        "tier": "Chosen tier"})

    confusion.section(cache, ev)
    pins.pin_button(ctx.dataset)
    units.network_section(cache, cfg, latencies)

    optimiser.section(cache, cfg)
    widgets.config_panel(cache, cfg, res, key="wi", real=real)
