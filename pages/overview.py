"""Overview: the 30-second answer first, then the current settings, then every data set."""

import streamlit as st

import app

from dimee_core import words
from ui import answer, kpis, onepage, price, warmup
from ui.text import md

ctx = app.current()
cache, cfg = ctx.cache, ctx.cfg
st.title("DIMEE Studio — overview")
st.caption(f"**{md(cache.meta.get('title', cache.name))}** · model "
           f"{md(cache.meta.get('model_id'))} "
           f"with an answer head after each of its {cache.num_layers} layers: the phone "
           f"runs the first m layers, the edge up to layer n, the cloud all "
           f"{cache.num_layers} (each setting below names its own m and n). All numbers "
           f"are on the {words.count(cache.test.n, 'held-out test sample')}.")

# Each section in its own container: an element's place (its delta path) then depends only
# on what its own section drew, so a section that draws one element more or less (another
# unit's answer, a warning) does not shift the rest. The browser reuses every element
# whose place and content are unchanged instead of re-rendering it; a shifted chart was
# redrawn from scratch (three Plotly charts on every unit switch).
with st.container(key="ov_answer"):
    st.header("The answer for this data set")
    try:
        rec = answer.recommended_answer(cache, cfg)
    except ValueError as exc:
        kpis.show_error(exc, "This data set's stored setting")
        rec = None
    if rec is not None:
        onepage.downloads(cache)
with st.container(key="ov_price"):
    st.subheader("The price of certainty")
    price.section(cache, "ov", curve_open=True)
warmup.first_screen_sent()

# Everything below fits routers at the sidebar's knobs: its modules (scikit-learn, SciPy)
# are imported only now, so the stored answer above reaches the browser first.
from dimee_core import explore  # noqa: E402
from ui import charts, guarantee, plot, units, widgets  # noqa: E402

with st.container(key="ov_headline"):
    widgets.headline_panel(cache)

st.header("At your settings")
st.caption("The answer above runs each method at its own stored, certified setting; this "
           "section runs DIMEE, DIMEE+ and the cascade at the sidebar's knobs "
           f"(m = {cfg.m}, n = {cfg.n}, k = {cfg.k}), so their numbers can differ. The line "
           "under DIMEE+ says which of them a guarantee covers here.")
applied = st.container()  # the applied recommendation, first: filled once results are in
with st.container(key="ov_dimee"):
    st.subheader("DIMEE")
    res = widgets.results_or_error(cache, cfg) if widgets.dimee_kpis(cache, cfg, True) else None
if res is not None:
    ev = res.evaluation
    with st.container(key="ov_dimee_plus"):
        st.subheader("DIMEE+")
        real, latencies = widgets.unit_summaries(cache, cfg)
        widgets.kpi_row(ev.methods["dimee_plus"], prefix="DIMEE+ ",
                        real=units.real_pair(real, "dimee_plus"))
        widgets.kpi_caption(ev.methods["dimee_plus"], name="DIMEE+",
                            real=units.real_pair(real, "dimee_plus"))
        guarantee.status_caption(cache, cfg)
        with applied:
            guarantee.applied_section(cfg, ev, real)
        widgets.risk_warnings(ev, real)

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Where the samples go")
        widgets.sankey_panel(res, cache.test.n, rec.method if rec else "dimee_plus",
                             key="ov_sankey_method")
    with right:
        st.subheader("DIMEE vs DIMEE+")
        shares = {"DIMEE": ev.methods["dimee"].tier_shares,
                  "DIMEE+": ev.methods["dimee_plus"].tier_shares}
        plot.chart(plot.figure(charts.tier_shares_bar, shares), key="ov_tiers")
        st.caption(charts.shares_summary(shares) + " DIMEE+ may also keep a cluster's most "
                   "confident samples on the phone (a confidence gate per cluster) and let "
                   "the edge hand a sample on to the cloud when its own answer is unsure.")

    st.subheader("DIMEE beside every baseline")
    table = units.table_in_unit(explore.methods_table(ev), real)
    widgets.methods_dataframe(table)
    st.caption("All in cloud is the reference (0 pp, 0 %). The oracle knows the answers and "
               "is only a bound; random uses DIMEE's tier shares without its judgement.")
    plot.chart(plot.figure(charts.methods_scatter, table,
                           units.reduction_title(units.shown(real))), key="ov_methods")
    st.caption("Each method at the current settings: further right is cheaper, lower is "
               "more accurate than the full model in the cloud. The table above holds the "
               "same numbers.")
    widgets.config_panel(cache, cfg, res, key="ov", real=real)

with st.container(key="ov_shipped"):
    st.header("Every shipped data set")
    shipped = answer.shipped_recommendations()
    widgets.summary_table(shipped)
    st.subheader("The price of certainty, every shipped data set")
    price.table([c for c, _ in shipped])
