"""Compare: two full settings (every knob) side by side, for DIMEE and DIMEE+; scenarios
are saved and reloaded as JSON."""

import streamlit as st

import app

from ui import charts, compare, compute, pins, plot, settings, units, widgets
from ui.text import md

ctx = app.current()
cache, cfg = ctx.cache, ctx.cfg
st.title("Compare two scenarios")
st.caption("Each scenario holds a whole setting: split points, clusters, features, α, "
           "policy with its ε or μ, offload mode and every cost. Both start from the "
           "sidebar with two network presets; change any knob below, or load a saved pair.")

compare.init(cache)
compare.file_controls(cache, ctx.dataset)
cols = st.columns(2)
picked = []
for col, side in zip(cols, compare.SIDES):
    with col:
        picked.append(compare.editor(cache, side))

configs, results = [], []
for name, values in picked:
    try:
        c = settings.config_from(cache, values)
        configs.append(c)
        results.append(compute.results(cache, c))
    except ValueError as exc:
        widgets.show_error(exc, f"Scenario {name!r}")
        results.append(None)
if len(results) == 2 and all(r is not None for r in results):
    names = compare.unique_names([n for n, _ in picked])
    # units mode: each routing scored under its scenario's profile (None: abstract)
    profiles = [compare.profile_of(s) for _, s in picked]
    reals = [widgets.unit_summaries(cache, c, p)[0] for c, p in zip(configs, profiles)]
    # a new row of columns: an open knob panel above must not push one side down
    for col, name, r, real, p in zip(st.columns(2), names, results, reals, profiles):
        with col:
            st.header(md(name))
            for key, label in (("dimee", "DIMEE"), ("dimee_plus", "DIMEE+")):
                widgets.kpi_row(r.evaluation.methods[key], prefix=f"{label} ", per_row=2,
                                real=units.real_pair(real, key), profile=p)
            widgets.risk_warnings(r.evaluation, real)
    st.header("Where the samples go")
    shares = {f"{n} · {label}": r.evaluation.methods[key].tier_shares
              for n, r in zip(names, results)
              for key, label in (("dimee", "DIMEE"), ("dimee_plus", "DIMEE+"))}
    plot.chart(charts.tier_shares_bar(shares, height=300), key="cmp_tiers")
    st.caption(charts.shares_summary(shares))
    st.header(f"Difference ({md(names[1])} − {md(names[0])})")
    diff = compare.difference_table(results, names, reals)
    st.dataframe(diff, hide_index=True, column_config={
        c: st.column_config.NumberColumn(format="%.2f") for c in (*names, "difference")})
    st.caption(compare.cost_caption(reals, profiles))

pins.section(cache, ctx.dataset)
