"""What-if's optimiser: a guaranteed recommendation, its (m, n) heatmap and its frontier.

The figures and the verdict are pure functions (data in, figure or words out); only
``section`` draws. Everything the optimiser recommends comes from
``dimee_core.selection``: certified on calibration, then scored once on test.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dimee_core import selection, words
from dimee_core.cache import Cache
from dimee_core.config import SHORT_LABELS
from dimee_core.evaluate import DIMEEConfig, score_routing
from dimee_core.metrics import MethodResult
from dimee_core.objective import Objective, reductions
from dimee_core import unit_answers
from ui import (charts, compute, guarantee, plot, price, state, undo, unit_answer, units,
                url, widgets)
from ui.text import md
from ui.charts import METHOD_COLORS, layout

FAMILY_LABELS = {"any": "Any method", "dimee_plus": "DIMEE+ (or the cascade it contains)",
                 "dimee": "DIMEE", "cascade": "Confidence cascade"}
INTERACTIVE_BOOT = 200


@dataclass(frozen=True)
class Verdict:
    kind: str  # "success" | "warning" | "error"
    text: str


def describe(rec: selection.Recommendation) -> str:
    """The recommended setting in words (Markdown-safe: only numbers and fixed names)."""
    return guarantee.setting_words(rec.method, rec.config)


def verdict(rec: selection.Recommendation, test: MethodResult | None,
            saved: float | None = None, noun: str = "cost") -> Verdict:
    """Green only when a setting is certified AND its test drop is within the target; a
    test overshoot of a certified setting is said as an overshoot; nothing certified is
    said plainly (never a silent fall-back). ``saved``: its calibration saving in the
    objective's unit (``noun``), when that is not the abstract cost."""
    if not rec.ok:
        return Verdict("warning", rec.message)
    saved = rec.reduction_pct if saved is None else saved
    head = (f"Guaranteed: {rec.guarantee()} (Learn then Test, exchangeable samples "
            f"assumed). Recommended: {describe(rec)}. This setting's own upper bound on the "
            f"held-out calibration part (not adjusted for the selection; the guarantee "
            f"is): {rec.bound_pp:+.2f} pp (p = {rec.p_value:.3g}); "
            f"{saved:.1f} % {'less ' + noun if noun != 'cost' else 'cheaper'} than "
            f"all-in-cloud on calibration.")
    if test is None:
        return Verdict("success", head)
    if test.accuracy_drop_pp > rec.target_pp + 1e-9:
        return Verdict("error", f"{head} **Overshoot on the test split:** drop "
                                f"{test.accuracy_drop_pp:+.2f} pp > target "
                                f"{rec.target_pp:g} pp. The guarantee allows this with "
                                f"probability up to δ = {rec.delta:g}, and a test split "
                                f"has its own sampling noise.")
    return Verdict("success", f"{head} On the test split: drop "
                              f"{test.accuracy_drop_pp:+.2f} pp, "
                              f"{test.cost_reduction_pct:.1f} % saved.")


def heatmap(table: pd.DataFrame, chosen: tuple[int, int] | None,
            rank: np.ndarray | None = None) -> go.Figure:
    """Best certified saving for each (m, n) on its own (in ``rank``'s unit when given:
    each candidate's saving there); the recommendation's cell ringed."""
    value = table["reduction_pct"].to_numpy() if rank is None else np.array(
        [np.nan if np.isnan(i) else rank[int(i)] for i in table["index"]])
    cells = table[["m", "n"]].assign(value=value)
    texts = ["–" if np.isnan(v) else f"{v:.0f} %" for v in cells["value"]]
    return charts.split_heatmap(cells, "saved %", texts, chosen, colorscale="Greens", zmin=0,
                                outline="black", missing_text="–", height=300)


def frontier(recs: list[selection.Recommendation], target_pp: float,
             rank: np.ndarray | None = None, noun: str = "cost") -> go.Figure:
    """Certified settings (one per target of a sweep): calibration saving (in ``rank``'s
    unit when given) vs held-out drop with its upper bound as the error bar; the allowed
    drop as a green band. Each point carries its candidate index (customdata) so a click
    can apply it."""
    saved = (lambda r: r.reduction_pct) if rank is None else (lambda r: rank[r.index])
    fig = go.Figure()
    fig.add_hrect(y0=-100, y1=target_pp, fillcolor="green", opacity=0.08, line_width=0)
    fig.add_hline(y=target_pp, line=dict(color="green", dash="dot"),
                  annotation_text=f"target {target_pp:g} pp")
    for method in ("dimee", "dimee_plus", "cascade"):
        part = [r for r in recs if r.method == method]
        if not part:
            continue
        drop = np.array([r.held_out_drop_pp for r in part])
        bound = np.array([r.bound_pp for r in part])
        fig.add_trace(go.Scatter(
            x=[saved(r) for r in part], y=drop, mode="markers",
            name=SHORT_LABELS[method], marker=dict(size=11, color=METHOD_COLORS[method],
                                                   line=dict(width=1, color="black")),
            error_y=dict(type="data", symmetric=False, array=bound - drop,
                         arrayminus=np.zeros(len(part))),
            customdata=[[r.index, r.target_pp, r.bound_pp] for r in part],
            hovertemplate="saved %{x:.1f} %<br>held-out drop %{y:+.2f} pp<br>bound "
                          "%{customdata[2]:+.2f} pp (certified at %{customdata[1]:g} pp)"
                          "<br>click to apply<extra></extra>"))
    lo = min([0.0] + [r.held_out_drop_pp for r in recs]) - 0.2
    hi = max([target_pp] + [r.bound_pp for r in recs]) + 0.2
    fig.update_yaxes(title="drop on the held-out calibration part (pp), bar to its bound",
                     range=[lo, hi])
    fig.update_xaxes(title=f"{noun} reduction on calibration (%) → better")
    return layout(fig, height=380, clickmode="event+select")


def clicked_index(event) -> int | None:
    """The candidate index of a clicked frontier point (None when nothing is selected)."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for p in points:
        data = p.get("customdata")
        if data:
            return int(data[0])
    return None


def apply(rec: selection.Recommendation, source: str) -> None:
    """Every knob of the recommendation (costs kept), undoable, and which rule was
    recommended: the page then shows that method's numbers with their guarantee. A
    cascade has only its split points and α: DIMEE's own knobs are left as they are."""
    undo.bulk("apply the optimiser's setting", lambda: _write(rec.method, rec.config))
    guarantee.record(guarantee.Claim(rec.method, rec.config, rec.target_pp, rec.delta,
                                     rec.bound_pp, source))


def _write(method: str, cfg: DIMEEConfig) -> None:
    if method == "cascade":
        st.session_state.update(m=cfg.m, n=cfg.n, alpha=cfg.alpha)
    else:
        state.apply_config(cfg)


def _test_result(cache: Cache, cands: selection.Candidates, rec: selection.Recommendation
                 ) -> tuple[MethodResult, tuple | None]:
    """The recommendation scored once on test, and in the sidebar's real unit (None in
    abstract mode)."""
    routing = cands.routing(rec.index, cache.test)
    real = (compute.route_units(cache, rec.config, routing, units.profile())
            if units.in_units() else None)
    return score_routing(cache, rec.config, routing, INTERACTIVE_BOOT), real


REQUEST = (url.Param("opt_target", url.number(0.0, 100.0), url.num),
           url.Param("opt_delta", url.number(0.0, 1.0), url.num),
           url.Param("opt_family", url.choice(tuple(FAMILY_LABELS))))


def _request_from_url(cfg: DIMEEConfig) -> None:
    """The form's defaults; on a run that adopts the URL, the search it names (asked
    again, under the current costs) or, without one, none (Back to before a search)."""
    ss = st.session_state
    for key, value in (("opt_target", 0.5), ("opt_delta", 0.1), ("opt_family", "any")):
        ss.setdefault(key, value)
    if not url.adopting():
        return
    url.adopt(REQUEST)  # a bad value: one warning, the form's value stays
    ss.pop("_opt", None)
    if all(p.key in url.query() for p in REQUEST):
        try:
            selection.check_request(float(ss["opt_target"]), float(ss["opt_delta"]))
        except selection.SelectionError as exc:
            st.warning(f"The optimiser search in the URL was not run: {md(exc)}.")
            return
        ss["_opt"] = (repr(cfg.costs), cfg.alpha, float(ss["opt_target"]),
                      float(ss["opt_delta"]), ss["opt_family"])


def section(cache: Cache, cfg: DIMEEConfig) -> None:
    """The optimiser: ask, certify, show the guarantee, the heatmap and the frontier."""
    st.subheader("Optimise with a guarantee")
    st.caption("Searches the split points m and n, k, the features, the policy with its "
               "ε / μ, the safety margin, DIMEE, DIMEE+ and the cascade under your costs. "
               "Part of the calibration split fits and orders every setting, the rest "
               "certifies them (Learn then Test); the test split is only used to report "
               "the result.")
    _request_from_url(cfg)
    with st.form("optimise"):
        c1, c2, c3 = st.columns(3)
        target = c1.number_input("Target accuracy drop (pp)", step=0.1, key="opt_target")
        delta = c2.number_input("Risk δ (1 − confidence)", step=0.01, format="%.2f",
                                key="opt_delta")
        family = c3.selectbox("Method", list(FAMILY_LABELS), key="opt_family",
                              format_func=FAMILY_LABELS.get)
        go_ = st.form_submit_button("Find the cheapest guaranteed setting", key="opt_go")
    if go_:
        try:
            selection.check_request(float(target), float(delta))
        except selection.SelectionError as exc:
            st.error(f"Cannot search: {exc}.")
            st.session_state.pop("_opt", None)
            return
        st.session_state["_opt"] = (repr(cfg.costs), cfg.alpha, float(target), float(delta),
                                    family)
    ask = st.session_state.get("_opt")
    if not ask or ask[0] != repr(cfg.costs):  # asked under other costs: ask again
        return
    _, alpha, target, delta, family = ask  # alpha of the pools policy when asked
    url.publish({"opt_target": url.num(target), "opt_delta": url.num(delta),
                 "opt_family": family})  # a link (or Back) repeats this search
    cands = compute.candidates(cache, replace(cfg, alpha=alpha))
    objective = unit_answer.objective()  # None: abstract costs
    noun = units.unit().noun if objective else "cost"
    ans = unit_answers.answer(cands, objective or Objective(), target, delta, family)
    rec, rank = ans.certified, reductions(cands, objective) if objective else None
    if ans.all_in_cloud:  # a real unit where no certified setting beats all-in-cloud
        st.warning(f"In {md(units.unit().noun)} under {md(units.profile().name)} the answer "
                   f"is **all in the cloud**: {md(ans.reason)}. It saves nothing and loses "
                   f"no accuracy.")
    test, real = _test_result(cache, cands, rec) if rec.ok else (None, None)
    v = verdict(rec, test, ans.reduction_pct if objective else None, noun)
    getattr(st, v.kind)(("The cheapest certified setting: " if ans.all_in_cloud else "")
                        + v.text)
    if objective:
        st.caption(f"Every candidate costed in {md(units.unit().noun)} under "
                   f"{md(units.profile().name)} on the calibration split: the path and the "
                   f"guarantee are the selection's own, the {md(units.unit().noun)} decides "
                   f"which certified setting is recommended; the heatmap and the frontier "
                   f"show savings in it too.")
    st.caption(f"{words.count(len(cands.table), 'candidate')}, fitted on "
               f"{words.count(cands.n_fit, 'calibration sample')} "
               f"and certified on {cands.n_held_out} in {cands.seconds:.1f} s.")
    if rec.ok:
        widgets.kpi_row(test, prefix="Recommended, test: ", real=real)
        st.button(f"Apply: {guarantee.setting_words(rec.method, rec.config)}",
                  key="opt_apply", on_click=apply,
                  args=(rec, "the optimiser's recommendation, certified for the whole grid"),
                  help="Sets every knob of this setting and shows its method's numbers "
                       "with the guarantee (undoable).")
    st.markdown("**The price of certainty for this request**")
    price.section(cache, "opt", DIMEEConfig(alpha=alpha, random_state=cfg.random_state,
                                            costs=cfg.costs), target, delta, family)
    left, right = st.columns(2)
    with left:
        st.markdown("**Best guaranteed saving for each (m, n)**")
        table = selection.split_point_table(cands, target, delta, family, rank=rank)
        plot.chart(heatmap(table, (rec.config.m, rec.config.n) if rec.ok else None, rank),
                   key="opt_heatmap")
        st.caption(selection.HEATMAP_NOTE)
    with right:
        st.markdown("**Certified settings for targets from 0.1 to 5 pp** (click to apply)")
        recs = selection.certified_frontier(cands, delta, family, rank=rank)
        event = plot.chart(frontier(recs, target, rank, noun), key="opt_frontier",
                           on_select="rerun",
                           selection_mode="points")
        picked = next((r for r in recs if r.index == clicked_index(event)), None)
        if picked is not None and st.session_state.get("_opt_clicked") != (ask, picked.index):
            st.session_state["_opt_clicked"] = (ask, picked.index)
            apply(picked, f"a frontier point certified at its own target of "
                          f"{picked.target_pp:g} pp; picking it after seeing the frontier "
                          f"is a choice the δ does not account for")
            st.rerun()
