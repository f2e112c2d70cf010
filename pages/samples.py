"""Samples: filter the test split, pick one, see its path through the layers and tiers."""

import streamlit as st

import app

from dimee_core import explore, words
from dimee_core.costs import TIERS
from ui import charts, downloads, plot, samples, unit_figures, units, widgets
from ui.text import md, md_quote, shorten

ctx = app.current()
cache, cfg = ctx.cache, ctx.cfg
st.title("Samples: follow one request")

res = widgets.results_or_error(cache, cfg)
if res is not None:
    ev = res.evaluation
    widgets.risk_warnings(ev)  # the setting these routes come from
    samples.start(cache.test.n)
    method = st.segmented_control("Router", samples.ROUTERS,
                                  format_func={"dimee": "DIMEE", "dimee_plus": "DIMEE+"}.get,
                                  key="smp_method", persist_state="session") or "dimee"
    routing = ev.routings[method]
    esc = res.escalated if method == "dimee_plus" else None
    table = explore.sample_table(cache, cfg, routing, esc)
    u, per_request = units.unit(), units.per_test_request(cache, cfg, routing)
    if per_request is not None:  # each request in the sidebar's unit, next to its route
        table[u.column] = per_request[0]

    f1, f2, f3, f4 = st.columns([2, 2, 2, 3])
    # chips that all stay visible (a multiselect cut them off in a narrow column)
    tiers = f1.pills("Tier", TIERS, selection_mode="multi", key="smp_tier") or []
    pools = f2.pills("Pool", explore.POOLS, selection_mode="multi", key="smp_pool") or []
    outcome = f3.selectbox("Outcome", samples.OUTCOMES, key="smp_outcome")
    text = f4.text_input("Text contains", key="smp_text", max_chars=samples.MAX_TEXT)
    view = table[table["tier"].isin(tiers) & table["pool"].isin(pools)]
    if outcome != "all":
        view = view[view["correct"] == (outcome == "correct")]
    if text:
        view = view[view["text"].str.contains(text, case=False, regex=False)]
    st.caption(f"{words.number(len(view))} of {words.count(len(table), 'test sample')}. "
               f"Pool = how hard the sample is by "
               f"the early-exit rule (first exit with confidence ≥ α = {cfg.alpha:g}); "
               f"tier = where {'DIMEE' if method == 'dimee' else 'DIMEE+'} actually sent it.")
    picked = st.dataframe(  # a 100 kB text is sent to the browser shortened
        view.assign(text=view["text"].map(shorten)), hide_index=True, height=300,
        on_select="rerun", selection_mode="single-row",
        key="smp_table", column_order=["id", "text", "label", "prediction", "pool", "cluster",
                                       "tier", "correct", u.column],
        column_config={"text": st.column_config.TextColumn("Text", width="large"),
                       u.column: st.column_config.NumberColumn(
                           u.one.capitalize(), format=u.printf, help=u.help)})
    st.download_button("Download these rows (CSV)",
                       lambda: downloads.stamp(view).to_csv(index=False).encode("utf-8"),
                       file_name=f"dimee_{cache.name}_samples.csv", mime="text/csv",
                       on_click="ignore", key="smp_csv")

    rows = picked.selection.rows if picked is not None else []
    ids = view["id"].tolist()
    if not ids:
        st.info("No sample matches these filters.")
    else:
        # a newly clicked table row wins; otherwise keep the picker's own choice
        clicked = int(view.iloc[rows[0]]["id"]) if rows and rows[0] < len(view) else None
        if clicked is not None and clicked != st.session_state.get("_smp_clicked"):
            st.session_state["smp_id"] = clicked
        elif st.session_state.get("smp_id") not in ids:
            st.session_state["smp_id"] = ids[0]
        st.session_state["_smp_clicked"] = clicked
        sid = st.selectbox("Sample", ids, key="smp_id",
                           format_func=lambda i: f"#{i}: {table.at[i, 'text'][:90]}")
        row = table.loc[sid]
        st.markdown(md_quote(row['text']))
        verdict = ":green[**right**]" if row["correct"] else ":red[**wrong**]"
        via = " (via the edge, which escalated it)" if esc is not None and esc[sid] else ""
        st.markdown(f"True label **{md(row['label'])}** · pool **{row['pool']}** · cluster "
                    f"**{row['cluster']}** · sent to **{row['tier']}**{via} · answer from exit "
                    f"{row['exit_layer']}: **{md(row['prediction'])}**, {verdict}")
        traj = explore.trajectory(cache.test, sid, cache.label_names)
        if method == "dimee_plus":
            rule = res.clusters_plus.at[int(row["cluster"]), "tier"]
            conf = traj.set_index("layer")["confidence"]
            st.caption(f"DIMEE+ rule of cluster {row['cluster']}: **{rule}**. This sample's "
                       f"confidence: {conf[cfg.m]:.3f} on the phone (exit {cfg.m}), "
                       f"{conf[cfg.n]:.3f} on the edge (exit {cfg.n}).")
        plot.chart(charts.trajectory_chart(traj, cfg.m, cfg.n, cfg.alpha,
                                           int(row["exit_layer"])), key="smp_traj")
        st.caption("Each dot is the answer the model would give if it stopped at that layer "
                   "(green = right, red cross = wrong). The shaded bands show which device "
                   "holds those layers; the dashed line is α.")
        st.header("What this sample cost")
        if per_request is not None:
            st.metric(f"This request: {u.one}", units.fmt(u, per_request[0][sid]),
                      f"all in cloud: {units.fmt(u, per_request[1][sid])}",
                      delta_color="off", delta_arrow="off", help=u.help)
        unit_figures.breakdown(cache, cfg, TIERS.index(row["tier"]),
                               bool(esc[sid]) if esc is not None else False, sid)
    samples.mirror(cache.test.n)  # filters and the picked sample: a link shows them
