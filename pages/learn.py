"""Learn: early exits and DIMEE explained on this dataset's own numbers."""

import streamlit as st

from dimee_core import explore
from ui import charts, sidebar, state, widgets
from ui.text import md, md_quote

ctx = sidebar.current()
cache, cfg = ctx.cache, ctx.cfg
test, L = cache.test, cache.num_layers
st.title("Learn: what is an early exit?")
st.markdown(
    f"The model here reads a text through **{L} layers**. After *each* layer a small "
    "classifier (an **exit**) guesses the answer and says how sure it is (its "
    "**confidence**, the top probability). Stopping early saves work; the question is "
    "*which* samples can stop early. DIMEE splits the layers over three devices — the "
    f"phone holds layers 1–{cfg.m}, the edge server up to {cfg.n}, the cloud all {L} — and "
    "learns from what the phone sees which requests it can answer itself.")

st.header("1 · Later exits are usually more accurate — and more sure")
st.plotly_chart(charts.layer_accuracy_chart(explore.layer_accuracy(test), cfg.m, cfg.n),
                key="ln_acc")
st.plotly_chart(charts.confidence_boxes(explore.confidence_long(test, random_state=0),
                                        cfg.alpha), key="ln_conf")
st.caption("Box plots of confidence per exit, separately for samples that exit gets right "
           "and wrong. When right answers are much more confident than wrong ones, "
           "confidence is a good signal of when to stop.")

st.header("2 · The threshold α sorts samples into easy, medium, hard")
st.plotly_chart(charts.pool_shares_chart(explore.pool_shares(test, cfg.m, cfg.n), cfg.alpha),
                key="ln_pools")
st.caption(f"A sample is **easy** if some exit on the phone (≤ {cfg.m}) reaches α, "
           f"**medium** if an edge exit (≤ {cfg.n}) does, **hard** otherwise. Raising α "
           "demands more certainty, so samples move from easy to hard.")

st.header("3 · What the phone sees, in two dimensions")
try:
    with state.routers(cache, cfg) as (dimee, _):
        pts, centres = explore.projection(dimee, cache.calibration, random_state=0)
except ValueError as exc:
    widgets.show_error(exc)
else:
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.projection_chart(pts, centres, "pool"), key="ln_proj_pool")
    c2.plotly_chart(charts.projection_chart(pts, centres, "cluster"), key="ln_proj_cluster")
    st.caption("Each dot is a calibration sample, placed by a 2-D PCA of the routing "
               "features the phone computes after layer m. Left: coloured by true pool "
               "(which needs all layers to know); right: by DIMEE's cluster (which the phone "
               "knows). Clusters that line up with pools are what makes DIMEE work.")

st.header("4 · Two samples, step by step")
examples = explore.example_samples(test, cfg.alpha, cfg.m, cfg.n)
cols = st.columns(2)
for col, (kind, idx) in zip(cols, examples.items()):
    with col:
        if idx is None:
            st.info(f"No {kind} sample at α = {cfg.alpha:g}.")
            continue
        traj = explore.trajectory(test, idx, cache.label_names)
        first = int(explore.first_exit(test, cfg.alpha)[idx])
        text = test.texts[idx][:300] if test.texts else "(no text in this cache)"
        st.markdown(f"**{'An' if kind == 'easy' else 'A'} {kind} sample** (#{idx}, true label "
                    f"*{md(cache.label_names[test.labels[idx]])}*)\n\n{md_quote(text)}")
        st.plotly_chart(charts.trajectory_chart(traj, cfg.m, cfg.n, cfg.alpha, first),
                        key=f"ln_{kind}")
        sure = traj["confidence"].iloc[first - 1] >= cfg.alpha
        when = "the first to be sure (≥ α)" if sure else "the last one: no exit reaches α"
        verdict = "right" if traj["correct"].iloc[first - 1] else "wrong"
        moral = ("The phone could answer this one alone." if kind == "easy" else
                 "The phone is unsure, so only the full model in the cloud should answer.")
        st.markdown(f"Exit {first} is {when}, answering "
                    f"*{md(traj['prediction'].iloc[first - 1])}* ({verdict}). {moral}")

st.header("5 · One threshold for everyone, or one per cluster? (DIMEE+)")
res = widgets.results_or_error(cache, cfg)
if res is not None:
    ev = res.evaluation
    plus, casc = ev.methods["dimee_plus"], ev.methods["cascade"]
    st.plotly_chart(charts.gate_chart(res.clusters_plus, cfg.alpha), key="ln_gates")
    st.markdown(
        f"A **confidence cascade** lets the phone answer whenever its exit's confidence "
        f"reaches one threshold α = {cfg.alpha:g}, for every request. **DIMEE+** first puts "
        "the request in its cluster (what the phone saw), then applies *that cluster's* "
        "threshold, chosen on the calibration split: clusters where the phone's confident "
        "answers are trustworthy get a low bar, others a high one or none (orange: always "
        "sent on). Here the cascade saves "
        f"{casc.cost_reduction_pct:.1f} % at {casc.accuracy_drop_pp:+.2f} pp, DIMEE+ "
        f"{plus.cost_reduction_pct:.1f} % at {plus.accuracy_drop_pp:+.2f} pp (test split).")
