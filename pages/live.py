"""Live: type a text, watch the cache's own model exit layer by layer and get routed."""

import pandas as pd
import streamlit as st

import app

from dimee_core.cache import CacheError
from dimee_core import words
from dimee_core.data import split_display_text
from dimee_core.features import feature_names, routing_features
from dimee_core.model import ModelError
from dimee_core.predict import (EXAMPLE_TIERS, PredictError, csv_columns, examples_by_tier,
                                read_csv_texts, to_frame)
from ui import charts, live, plot, teaching, units, widgets
from ui.text import md, shorten

ctx = app.current()
cache, cfg = ctx.cache, ctx.cfg
names = cache.label_names
st.title("Live: type a text, watch it exit and get routed")
cfg = teaching.lesson_config(cache, cfg)


def _use_example(index: int) -> None:
    text, pair = split_display_text(cache.test.texts[index])
    st.session_state["live_text"] = text
    if pair is not None:
        st.session_state["live_pair"] = pair


def _examples(res) -> None:
    """Easy / medium / hard: test texts DIMEE+ answers on the phone / edge / cloud at the
    current settings (what the router does, not the α rule)."""
    picks = examples_by_tier(cache.test, res.evaluation.routings["dimee_plus"], cfg.m)
    where = {"easy": "on the phone", "medium": "on the edge", "hard": "in the cloud"}
    for col, name in zip(st.columns(len(EXAMPLE_TIERS)), EXAMPLE_TIERS):
        idx = picks[name]
        col.button(f"{name.capitalize()} example", key=f"live_ex_{name}",
                   disabled=idx is None or not cache.test.texts, on_click=_use_example,
                   args=(idx,), use_container_width=True,
                   help=f"A test text DIMEE+ answers {where[name]} at these settings"
                   if idx is not None else f"At these settings DIMEE+ answers no test text "
                                           f"{where[name]}")


def _phone_view(out, cluster: int, res) -> None:
    st.subheader(f"What the phone sees after layer {cfg.m}")
    X = routing_features(out.probs, out.feats, cfg.m, cfg.features)[0]
    cols = feature_names(cfg.features, cfg.m, out.feats.shape[2])
    table = res.clusters.set_index("cluster")
    row = table.loc[cluster]
    st.caption(
        f"The phone ran {words.span('layer', 1, cfg.m)} ({words.span('exit', 1, cfg.m)}) "
        f"and clusters on '{cfg.features}': {words.count(len(cols), 'number')}. k-means puts "
        f"this text in **cluster {cluster}** of {cfg.k}: "
        f"{words.count(int(row['size']), 'calibration text')}, on which exit {cfg.m} (phone) "
        f"is right "
        f"{100 * row['acc_mobile']:.1f} %, exit {cfg.n} (edge) {100 * row['acc_edge']:.1f} %, "
        f"the final exit (cloud) {100 * row['acc_cloud']:.1f} %.")
    # as tall as its rows (up to 6 shown): a fixed height showed empty rows below one
    st.dataframe(pd.DataFrame({"feature": cols, "value": X}), hide_index=True,
                 height=live.table_height(len(cols)),
                 column_config={"value": st.column_config.NumberColumn(format="%.3f")},
                 key="live_features")


def _route_panel(col, title: str, r, cost: float, ref: float, confidence: float) -> None:
    u = units.unit()
    with col:
        st.metric(title, r.tier, f"{u.noun} {units.fmt(u, cost)} of {units.fmt(u, ref)}",
                  delta_color="off", delta_arrow="off",
                  help=f"Its {u.one} against all in cloud (the raw text sent to the cloud, "
                       f"which runs every layer). {u.help}")
        via = " (the edge handed it on)" if r.escalated else ""
        st.markdown(f"Answer **{md(r.label)}** from exit {r.exit_layer}{via}, "
                    f"confidence {confidence:.2f}{live.unsure(confidence, cfg.alpha)}.  \n"
                    f"Rule: {md(r.rule)}.")


def _one_text(task: str, res) -> None:
    text = st.text_area("Text" if task == "single" else "Text (first of the pair)",
                        key="live_text", height=90, max_chars=20_000,
                        placeholder="Type or paste a sentence")
    pair = st.text_area("Pair text", key="live_pair", height=70,
                        max_chars=20_000) if task == "pair" else None
    # a tap here leaves the text box, which sends its text (a phone has no Ctrl+Enter)
    st.button("Run the model", key="live_go", type="primary", icon=":material/bolt:")
    if not text.strip():
        st.info("Type a text above and run the model, or pick an example.")
        return
    try:
        out = live.outputs(cache, text, pair)
    except PredictError as exc:
        st.warning(md(exc))
        return
    except (CacheError, ModelError) as exc:
        st.error(f"The model cannot be loaded: {md(exc)}")
        return
    model = live.model(cache)
    if out.truncated[0]:
        st.warning(f"This text is longer than the model reads ({model.max_length} tokens): "
                   f"it saw the first {model.max_length} and ignored the rest.")
    routes = live.routes(cache, cfg, out)
    probs = out.probs[0]
    given = live.answers(probs, routes, names)
    c1, c2, c3 = st.columns(3)
    c1.metric("The final exit says", md(given["cloud"][0]),  # metric values are Markdown
              f"confidence {given['cloud'][2]:.2f}" + live.unsure(given["cloud"][2], cfg.alpha),
              delta_color="off", delta_arrow="off")
    for col, (key, label) in zip((c2, c3), (("dimee", "DIMEE"), ("dimee_plus", "DIMEE+"))):
        cost, ref = live.figures(cache, cfg, routes[key], out.tokens)
        _route_panel(col, f"{label} sends it to", routes[key][0], cost[0], ref[0],
                     given[key][2])
    live.truth_panel(text, given, names)
    plot.chart(charts.exit_probs_chart(probs, names, cfg.m, cfg.n, cfg.alpha, {
        k: routes[k][0].exit_layer for k in ("dimee", "dimee_plus")}), key="live_chart")
    conf = probs.max(1)
    first = next((i + 1 for i, c in enumerate(conf) if c >= cfg.alpha), None)
    st.caption(f"Each line is one class's probability at each exit; the dashed line is "
               f"α = {cfg.alpha:g}. " + (f"The first exit sure of itself (≥ α) is exit "
                                         f"{first}." if first else "No exit reaches α.")
               + f" {out.tokens[0]} tokens read.")
    _phone_view(out, routes["dimee"][0].cluster, res)


def _many_texts(task: str, res) -> None:
    st.subheader("Route many texts")
    up = st.file_uploader("A UTF-8 CSV with a header row", type=["csv"], key="live_csv")
    if up is None:
        return
    data = up.getvalue()
    if len(data) > live.MAX_CSV_BYTES:
        st.error(f"The upload holds {len(data) / 2**20:.1f} MB; the Live page reads CSVs of "
                 f"at most {live.MAX_CSV_BYTES / 2**20:g} MB. Split it, or route it with "
                 f"`python -m dimee_core predict CACHE --file ...`.")
        return
    try:
        cols = csv_columns(data, "the upload")
    except PredictError as exc:
        st.error(md(exc))
        return
    c1, c2 = st.columns(2)
    text_col = c1.selectbox("Text column", cols, key="live_csv_col")
    pair_col = c2.selectbox("Pair column", cols, key="live_csv_pair") if task == "pair" else None
    columns = (text_col, pair_col)
    if not (st.button("Route these texts", key="live_csv_go")
            or live.batch_seen(cache, data, columns)):
        return
    try:
        texts, pairs = read_csv_texts(data, text_col, pair_col, "the upload", live.MAX_CSV_ROWS)
        bar = st.progress(0.0, text="Running the model…")
        out = live.batch_outputs(cache, data, columns, texts, pairs, lambda done, total:
                                 bar.progress(done / total, text=f"{done:,} of "
                                              f"{words.count(total, 'text')}"))
        bar.empty()
    except PredictError as exc:
        st.error(md(exc))
        return
    except (CacheError, ModelError) as exc:
        st.error(f"The model cannot be loaded: {md(exc)}")
        return
    routes = live.routes(cache, cfg, out)
    table = to_frame(out, routes, names)
    u = units.unit()
    if units.in_units():  # each text in the sidebar's unit beside its abstract cost
        for key in ("dimee", "dimee_plus"):
            table[f"{key}_{u.column}"] = live.figures(cache, cfg, routes[key], out.tokens)[0]
    cost, ref = live.figures(cache, cfg, routes["dimee_plus"], out.tokens)
    shares = table["dimee_plus_tier"].value_counts(normalize=True)
    st.caption(f"{words.count(out.n, 'text')}; DIMEE+ answers "
               f"{100 * shares.get('mobile', 0):.0f} % on the "
               f"phone, {100 * shares.get('edge', 0):.0f} % on the edge, "
               f"{100 * shares.get('cloud', 0):.0f} % in the cloud, at a mean {u.noun} of "
               f"{units.fmt(u, cost.mean())} (all in cloud: {units.fmt(u, ref.mean())})."
               + (f" {int(out.truncated.sum())} were truncated to the model's length."
                  if out.truncated.any() else ""))
    st.dataframe(table.assign(**{c: table[c].map(shorten) for c in ("text", "text_pair")
                                 if c in table}),  # shown shortened, downloaded whole
                 hide_index=True, height=300, key="live_csv_table")
    st.download_button("Download the routes (CSV)",
                       lambda: table.to_csv(index=False).encode("utf-8"),
                       file_name=f"dimee_{cache.name}_live_routes.csv", mime="text/csv",
                       on_click="ignore", key="live_csv_download")


problem = cache.model_status
if problem is not None:
    st.info(f"The Live page runs the cache's own model, and this cache has none: "
            f"{md(problem)}. A build with adapters (`python -m dimee_core build`, "
            f"LoRA by default) ships one in the cache's model/ folder.")
else:
    try:  # from the model's verified config: the page draws before PyTorch loads
        task = live.task(cache)
    except (CacheError, ModelError) as exc:
        st.error(f"The model cannot be loaded: {md(exc)}")
    else:
        res = widgets.results_or_error(cache, cfg)
        if res is not None:
            widgets.risk_warnings(res.evaluation)  # the setting these routes come from
            _examples(res)
            _one_text(task, res)
            st.divider()
            _many_texts(task, res)
