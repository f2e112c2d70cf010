"""The Learn page's worked examples (drawing only; the picks come from the core)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dimee_core import explore
from dimee_core.cache import Cache
from dimee_core.costs import TIERS
from dimee_core.config import METHOD_LABELS, DIMEEConfig
from dimee_core.predict import examples_by_tier
from ui import charts, memo, plot, units
from ui.text import md, md_quote
from ui.compute import Results

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
        t = int(np.median(memo.with_tokens(cache)[0].test.lengths))
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


# ---------------------------------------------------------------- words and knobs

TERMS = (
    "**Words used below.** The samples come in two labelled parts: the **calibration "
    "split**, on which DIMEE learns its clusters and picks every setting, and the **test "
    "split**, which it never sees while choosing and which only scores the result. "
    "Accuracy changes are in **pp** (percentage points): from 85.9 % to 85.6 % is a "
    "drop of 0.3 pp. **ε** (epsilon) is the accuracy drop you allow against sending "
    "everything to the cloud, judged on the calibration split. A setting is "
    "**certified** when a statistical test on calibration samples it was not fitted on "
    "shows that its drop stays within a target with high probability.")

KNOB_WORDS: dict[str, str] = {
    "m": "how many of the model's layers run on the phone; every request runs them, and "
         "the phone can answer with exit m.",
    "n": "how far the edge server's copy of the model goes: a request sent to the edge is "
         "answered by exit n (always above m).",
    "k": "how many groups (clusters) DIMEE forms from what the phone sees; each group "
         "gets one tier. More clusters make finer choices, each resting on fewer "
         "calibration samples.",
    "feat": "which numbers the phone groups requests by: its exits' confidences ('conf'); "
            "those plus how far the top answer leads (margin), how spread the "
            "probabilities are (entropy) and whether exits agree ('signals'); or the "
            "layer-m hidden state itself ('embed').",
    "fit": "the share of the calibration split that fits the clusters and picks their "
           "tiers; a certified setting was tested on the rest, which it never saw.",
    "alpha": "how sure an exit must be to count as sure (its top probability at least "
             "α); it sorts samples into easy, medium and hard and is the confidence "
             "cascade's one threshold.",
    "policy": "how each cluster picks its tier: 'budget' takes the cheapest tiers whose "
              "accuracy loss stays within ε; 'reward' weighs accuracy against cost with "
              "μ; 'pools' follows the cluster's majority of easy, medium or hard samples.",
    "eps": "ε (epsilon): how many percentage points of accuracy the budget policy may "
           "give up against all-in-cloud, judged on the calibration split.",
    "mu": "μ (mu): with the reward policy, how much accuracy one all-in-cloud cost is "
          "worth; a higher μ favours cheaper tiers.",
    "safety": "with the budget policy, each cluster's measured accuracy loss is raised "
              "by this many standard errors (how far a loss measured on few samples may "
              "be off by chance), so a small cluster that only looks good by luck is not "
              "trusted; 0 takes each loss as measured.",
    "mode": "what the phone sends on: 'resume' ships its layer-m hidden state and the "
            "remote tier carries on from layer m + 1; 'recompute' ships the raw text and "
            "the remote tier starts again from layer 1.",
    "lm": "what running one layer costs on the phone (λ, lambda: cost per layer); 1 is "
          "the unit every other cost is measured in.",
    "le": "what running one layer costs on the edge server, in phone layers.",
    "lc": "what running one layer costs in the cloud, in phone layers.",
    "oe": "what sending one request from the phone to the edge costs (network time, "
          "radio energy), in phone layers.",
    "oc": "what sending one request from the phone to the cloud costs; all-in-cloud pays "
          "it for every request.",
    "oec": "what the edge pays to hand a request on to the cloud (the cascade and DIMEE+ "
           "do this when the edge is unsure).",
    "unit": "the paper's abstract layer-equivalents, or milliseconds, millijoules or "
            "dollars from a device-and-network profile and each request's length.",
}
OTHER_CONTROLS = (
    ("Dataset", "which data set and model every page shows."),
    ("Load your own cache", "open a cache you built (a .zip, private to your session)."),
    ("Reset to this data set's defaults", "every knob back to the setting stored with "
                                          "the data set."),
    ("Undo", "takes back the last preset, reset or applied recommendation."),
    ("Preset", "sets every cost at once to a named network scenario."),
    ("Device-and-network profile", "the phone, edge, cloud and links behind ms, mJ and $; "
                                   "edit, save or load it under Real units."),
)


def knobs(labels: dict[str, str], values: dict[str, object]) -> None:
    """Every sidebar control in one plain sentence, with its current value."""
    st.header("6 · Every knob in the sidebar")
    st.caption("Sections 1–5 met most of them; here is each in one sentence.")
    shown = {k: f"{v:g}" if isinstance(v, float) else str(v) for k, v in values.items()}
    lines = [f"- **{label}** (sidebar: {md(shown[key])}): {KNOB_WORDS[key]}"
             for key, label in labels.items()]
    lines += [f"- **{name}**: {words}" for name, words in OTHER_CONTROLS]
    st.markdown("\n".join(lines))
