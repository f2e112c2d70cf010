"""Learn: a guided path through DIMEE on this data set's own numbers.

Early exit → what the phone sees → clusters → tiers → costs, ending with why one
request went to the cloud.
"""

import streamlit as st

import app

from dimee_core import explore, words
from ui import charts, compute, lesson, plot, settings, teaching, units, widgets

ctx = app.current()
cache, cfg = ctx.cache, ctx.cfg
test, L = cache.test, cache.num_layers
st.title("Learn: what is an early exit?")
st.markdown(
    f"The model here reads a text through **{L} layers**. After *each* layer a small "
    "classifier (an **exit**) guesses the answer and says how sure it is (its "
    "**confidence**, the top probability). Stopping early saves work; the question is "
    "*which* samples can stop early. DIMEE splits the layers over three devices — the "
    "phone holds the first **m** layers, the edge server the first **n**, the cloud all "
    f"{L} — and learns from what the phone sees which requests it can answer itself.")
st.markdown(lesson.TERMS)
cfg = teaching.lesson_config(cache, cfg)
st.markdown(
    f"Here the phone holds {words.span('layer', 1, cfg.m)}, the edge up to {cfg.n}.\n\n"
    "**The path:** 1 · early exit → 2 · what the phone sees → 3 · clusters → "
    "4 · tiers → 5 · costs, and why one request went to the cloud → 6 · every knob.")

st.header("1 · Early exit: later exits are more accurate, and more sure")
acc = explore.layer_accuracy(test)
plot.chart(charts.layer_accuracy_chart(acc, cfg.m, cfg.n), key="ln_acc")
st.caption("Exit accuracy, layers 1→" + f"{L}: " + ", ".join(
    f"{100 * a:.1f} %" for a in acc["accuracy"]) + ". Colour: the device that holds it.")
plot.chart(charts.confidence_boxes(explore.confidence_long(test, random_state=0),
                                   cfg.alpha), key="ln_conf")
st.caption("Box plots of confidence per exit, separately for samples that exit gets right "
           "and wrong. When right answers are much more confident than wrong ones, "
           "confidence is a good signal of when to stop.")
plot.chart(charts.pool_shares_chart(explore.pool_shares(test, cfg.m, cfg.n), cfg.alpha),
           key="ln_pools")
st.caption(f"A sample is **easy** if some exit on the phone (≤ {cfg.m}) reaches α, "
           f"**medium** if an edge exit (≤ {cfg.n}) does, **hard** otherwise. Raising α "
           "demands more certainty, so samples move from easy to hard.")
lesson.alpha_examples(cache, cfg)

st.header("2 · What the phone sees, and 3 · the clusters it forms")
try:
    with compute.routers(cache, cfg) as (dimee, _):
        pts, centres = explore.projection(dimee, cache.calibration, random_state=0)
except ValueError as exc:
    widgets.show_error(exc)
else:
    c1, c2 = st.columns(2)
    with c1:
        plot.chart(charts.projection_chart(pts, centres, "pool"), key="ln_proj_pool")
    with c2:
        plot.chart(charts.projection_chart(pts, centres, "cluster"),
                   key="ln_proj_cluster")
    st.caption(f"Each dot is one of {len(pts):,} calibration samples, placed by a 2-D PCA "
               "(principal component analysis: principal component 1 is the direction along "
               "which the samples differ most, component 2 the next one at right angles) of "
               f"the routing features the phone computes after layer {cfg.m}. Left: coloured "
               "by true pool (which needs all layers to know); right: by DIMEE's cluster "
               f"(which the phone knows; {words.count(cfg.k, 'cluster')}, × = centre, hover "
               "for its tier). "
               "Clusters that line up with pools are what makes DIMEE work.")

st.header("4 · Tiers: one request per tier, as DIMEE routed it")
res = widgets.results_or_error(cache, cfg)
if res is not None:
    ev = res.evaluation
    examples = lesson.pick_tier_examples(cache, cfg, ev)
    lesson.tier_examples(cache, cfg, res, examples)

    st.header("5 · Costs, and why one request went to the cloud")
    tier_costs = lesson.tier_costs(cache, cfg)
    lesson.why_cloud(cache, cfg, res, examples["hard"], tier_costs)

    st.subheader("One threshold for everyone, or one per cluster? (DIMEE+)")
    real = widgets.unit_summaries(cache, cfg)[0]
    plus_r, casc = (units.in_unit(ev.methods[k], units.real_pair(real, k))
                    for k in ("dimee_plus", "cascade"))
    noun = units.shown(real).noun
    plot.chart(charts.gate_chart(res.clusters_plus, cfg.alpha), key="ln_gates")
    st.markdown(
        f"A **confidence cascade** lets the phone answer whenever its exit's confidence "
        f"reaches one threshold α = {cfg.alpha:g}, for every request. **DIMEE+** first puts "
        "the request in its cluster (what the phone saw), then applies *that cluster's* "
        "threshold, chosen on the calibration split: clusters where the phone's confident "
        "answers are trustworthy get a low bar, others a high one or none (orange: always "
        f"sent on). Here the cascade saves {casc.cost_reduction_pct:.1f} % of the {noun} "
        f"at {casc.accuracy_drop_pp:+.2f} pp, DIMEE+ {plus_r.cost_reduction_pct:.1f} % at "
        f"{plus_r.accuracy_drop_pp:+.2f} pp (test split).")

lesson.knobs({key: s.label for key, s in settings.SETTINGS.items()},
             {key: st.session_state.get(key) for key in settings.SETTINGS})
