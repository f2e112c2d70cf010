"""The Learn page's worked examples (drawing only; the picks come from the core)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dimee_core import explore
from dimee_core.cache import Cache
from dimee_core.costs import TIERS
from dimee_core.evaluate import METHOD_LABELS, DIMEEConfig
from dimee_core.predict import examples_by_tier
from ui import charts, plot, state, units
from ui.text import md, md_quote
from ui.state import Results

TIER_OF = {"easy": "mobile", "medium": "edge", "hard": "cloud"}
WHERE = {"mobile": "on the phone", "edge": "on the edge", "cloud": "in the cloud"}


def _quote(cache: Cache, idx: int) -> str:
    text = cache.test.texts[idx][:300] if cache.test.texts else "(no text in this cache)"
    return md_quote(text)


def alpha_examples(cache: Cache, cfg: DIMEEConfig) -> None:
    """An easy and a hard sample by the α rule, always both; says so when α leaves a
    pool empty and the closest sample stands in."""
    test = cache.test
    first = explore.first_exit(test, cfg.alpha)
    cols = st.columns(2)
    for col, (kind, idx) in zip(cols, explore.example_samples(test, cfg.alpha, cfg.m,
                                                              cfg.n).items()):
        with col:
            st.subheader(f"{'An' if kind == 'easy' else 'A'} {kind} sample")
            e = int(first[idx])
            in_pool = e <= cfg.m if kind == "easy" else e > cfg.n
            if not in_pool:
                st.info(f"No test sample is {kind} at α = {cfg.alpha:g}: this is the "
                        f"{'most' if kind == 'easy' else 'least'} confident one on the phone. "
                        f"Move α {'down' if kind == 'easy' else 'up'} to see a {kind} one.")
            st.markdown(f"#{idx}, true label *{md(cache.label_names[test.labels[idx]])}*"
                        f"\n\n{_quote(cache, idx)}")
            traj = explore.trajectory(test, idx, cache.label_names)
            plot.chart(charts.trajectory_chart(traj, cfg.m, cfg.n, cfg.alpha, e),
                       key=f"ln_{kind}")
            sure = traj["confidence"].iloc[e - 1] >= cfg.alpha
            when = "the first to be sure (≥ α)" if sure else "the last one: no exit reaches α"
            verdict = "right" if traj["correct"].iloc[e - 1] else "wrong"
            st.caption(f"Confidence per exit: " + ", ".join(
                f"{c:.2f}" for c in traj["confidence"]) + f". Exit {e} is {when}, answering "
                f"*{md(traj['prediction'].iloc[e - 1])}* ({verdict}).")


def pick_tier_examples(cache: Cache, cfg: DIMEEConfig, ev) -> dict[str, tuple[int, str] | None]:
    """(request, method) per tier as DIMEE routed it; DIMEE+'s where DIMEE sends nobody
    to that tier; None where neither does."""
    picks = {m: examples_by_tier(cache.test, ev.routings[m], cfg.m)
             for m in ("dimee", "dimee_plus")}
    return {kind: next(((picks[m][kind], m) for m in picks if picks[m][kind] is not None),
                       None) for kind in TIER_OF}


def tier_examples(cache: Cache, cfg: DIMEEConfig, res: Results,
                  examples: dict[str, tuple[int, str] | None]) -> None:
    """One test request per tier with its cluster, its tier and the answer it got."""
    routings = res.evaluation.routings
    tables = {m: explore.sample_table(cache, cfg, routings[m]) for m in ("dimee", "dimee_plus")}
    if any(e is not None and e[1] == "dimee_plus" for e in examples.values()):
        st.caption("DIMEE sends no test request to some tier at this setting; that slot "
                   "shows one that DIMEE+ sends there.")
    for kind, pick in examples.items():
        tier = TIER_OF[kind]
        st.subheader(f"Answered {WHERE[tier]}")
        if pick is None:
            st.info(f"Neither DIMEE nor DIMEE+ sends any test request to the {tier} at this "
                    "setting.")
            continue
        idx, method = pick
        row = tables[method].loc[idx]
        verdict = "right" if row["correct"] else "wrong"
        st.markdown(f"{_quote(cache, idx)}\n\nRequest #{idx} · cluster **#{row['cluster']}** "
                    f"· {METHOD_LABELS[method]} sends it to the **{row['tier']}** · answer "
                    f"from exit {row['exit_layer']}: *{md(row['prediction'])}* ({verdict}; "
                    f"true label *{md(row['label'])}*).")


def tier_costs(cache: Cache, cfg: DIMEEConfig) -> np.ndarray:
    """Say what a request costs on each tier (abstract: what DIMEE minimises; in units
    mode also in the sidebar's unit at this data set's median length) and return the
    abstract tier costs the router's decisions are explained with."""
    L = cache.num_layers
    costs, ref = cfg.costs.tier_costs(cfg.m, cfg.n, L), cfg.costs.reference_cost(L)
    st.markdown(" · ".join(f"**{t}** {c:.3g}" for t, c in zip(TIERS, costs))
                + f" per request, against **{ref:.3g}** for sending the raw input straight "
                "to the cloud (the sidebar's abstract costs: DIMEE chooses tiers with these).")
    if units.in_units():
        u = units.unit()
        t = int(np.median(state.with_tokens(cache)[0].test.lengths))
        per, refs = units.per_request(cfg, L, np.arange(3), None, np.full(3, t))
        st.markdown(f"In {u.one} under **{md(units.profile().name)}**, for a request of "
                    f"{t} tokens (this data set's median): "
                    + " · ".join(f"**{name}** {units.fmt(u, v)}" for name, v in zip(TIERS, per))
                    + f", against **{units.fmt(u, refs[0])}** all in cloud.")
    return costs


def why_cloud(cache: Cache, cfg: DIMEEConfig, res: Results,
              pick: tuple[int, str] | None, tier_costs) -> None:
    """'Why did this one go to the cloud?' from its cluster's calibration numbers (for a
    request DIMEE itself sent there: the explanation reads DIMEE's per-cluster choice)."""
    st.subheader("Why did this one go to the cloud?")
    routing = res.evaluation.routings["dimee"]
    if pick is None or pick[1] != "dimee" or routing.tier[pick[0]] != TIERS.index("cloud"):
        st.info("DIMEE sends no test request to the cloud at this setting: every cluster "
                "is answered more cheaply within the accuracy budget.")
        return
    idx = pick[0]
    cluster = res.clusters.iloc[int(routing.cluster[idx])]
    st.markdown(f"Request #{idx} (quoted above). "
                + explore.why_tier(cluster, tier_costs, cfg, cache.calibration.n))
