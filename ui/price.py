"""The price of certainty beside every recommended saving: the certified saving, the
calibration-best setting's expected saving (not guaranteed) and what certainty costs,
with the certified saving against calibration size. The figure and the words are pure;
``panel`` draws."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dimee_core import price_record as price, tuned
from dimee_core.cache import Cache
from dimee_core.config import DIMEEConfig
from dimee_core.recommendation import stored_target
from ui import guarantee, memo, plot
from ui.charts import layout
from ui.text import md



def stored(cache: Cache) -> price.Price | None:
    """The price ``tune`` stored with the cache's defaults (None: none, or malformed)."""
    d = cache.defaults.get(tuned.PRICE_KEY)
    try:
        return price.Price.from_dict(d) if isinstance(d, dict) else None
    except ValueError:
        return None


@memo.cached("data", max_entries=16, show_spinner="Certifying on the calibration "
                "split…")
def _computed(cache: Cache, base: DIMEEConfig, target_pp: float, delta: float,
              family: str, curve: bool) -> price.Price:
    # here, not at the top: what tune stored is drawn on the first screen, before
    # scikit-learn and SciPy are imported (tests/test_first_screen.py)
    from dimee_core.price import price_of_certainty
    from ui import compute

    return price_of_certainty(cache.calibration, base, target_pp, delta, family,
                                    cands=compute.candidates(cache, base),
                                    fractions=price.FRACTIONS if curve else ())


def default_base(cache: Cache) -> DIMEEConfig:
    """The selection's base at the cache's default costs (what tune certifies under)."""
    d = DIMEEConfig.for_cache(cache)
    return DIMEEConfig(alpha=d.alpha, random_state=d.random_state, costs=d.costs)


def curve_figure(p: price.Price) -> go.Figure:
    """Certified saving against calibration size; a subsample too small to certify the
    target is a hollow marker at 0 saying so; the 4× point is dashed and named an
    extrapolation."""
    fig = go.Figure()
    got = [q for q in p.curve if q.saving_pct is not None]
    fig.add_trace(go.Scatter(
        x=[q.n_calibration for q in got], y=[q.saving_pct for q in got],
        mode="lines+markers+text", name="certified (measured)",
        text=[f"{q.saving_pct:.0f} %" for q in got], textposition="top center",
        marker=dict(size=10, color="#1b7837"), line=dict(color="#1b7837")))
    small = [q for q in p.curve if q.saving_pct is None]
    if small:
        fig.add_trace(go.Scatter(
            x=[q.n_calibration for q in small], y=[0] * len(small), mode="markers+text",
            name="too small to certify", text=["too small"] * len(small),
            textposition="top center", hovertext=[q.note for q in small],
            marker=dict(size=10, symbol="circle-open", color="#767676")))
    if p.extrapolated_4x_pct is not None and got:
        last = got[-1]
        fig.add_trace(go.Scatter(
            x=[last.n_calibration, 4 * last.n_calibration],
            y=[last.saving_pct, p.extrapolated_4x_pct], mode="lines+markers+text",
            name="4× labels (extrapolated, not measured)",
            text=["", f"≈ {p.extrapolated_4x_pct:.0f} % (extrapolated)"],
            textposition="top center", line=dict(dash="dash", color="#1b7837"),
            marker=dict(size=10, symbol="diamond-open", color="#1b7837")))
    if p.best_pct is not None:
        fig.add_hline(y=p.best_pct, line=dict(color="#b35806", dash="dot"),
                      annotation_text="calibration-best, not guaranteed",
                      annotation_position="bottom right")
    fig.update_xaxes(title="labelled calibration samples", type="log", tickformat=",d")
    fig.update_yaxes(title="certified saving on calibration (%)", range=[-5, 105])
    return layout(fig, height=280)


def words(p: price.Price) -> tuple[str, str, str]:
    """The three cells' captions: certified, calibration-best, what certainty costs."""
    conf = f"{100 * (1 - p.delta):g} %"
    if p.certified:
        bound = "" if p.bound_pp is None else f"; its own bound {p.bound_pp:+.2f} pp"
        cert = (f"Drop ≤ {p.target_pp:g} pp with {conf} confidence (δ = {p.delta:g}{bound}), "
                f"on calibration.")
    else:
        cert = f"Nothing certified at {p.target_pp:g} pp, δ = {p.delta:g}: {p.certified_note}"
    if p.best_pct is None:
        best = f"No setting is within {p.target_pp:g} pp even on the samples that choose it."
    else:
        best = (f"**Not guaranteed:** the cheapest setting whose held-out calibration drop is "
                f"within {p.target_pp:g} pp, chosen and scored on the same samples.")
        if p.interval is not None:
            i = p.interval
            best += (f" Re-selected on half the held-out samples and scored on the other "
                     f"half ({i.n} re-splits): {i.lo_pct:.0f}–{i.hi_pct:.0f} % saved, a mean "
                     f"drop of {i.mean_drop_pp:+.2f} pp, above the target in "
                     f"{100 * i.break_share:.0f} % of them.")
    if len(p.curve) == 1:
        cost = ("The curve of certified saving against calibration size is not computed "
                "yet: the button below certifies on N/4 and N/2 as well.")
    elif p.too_small_for_curve:
        cost = ("The curve needs at least two subsample sizes that can certify the target; "
                "at N/4 and N/2 these data are too small for it (each point says why), so "
                "it cannot say what more labels would buy.")
    elif p.extrapolated_4x_pct is not None:
        cost = (f"With 4× the labels the certified saving would be about "
                f"{p.extrapolated_4x_pct:.0f} %: an extrapolation of the curve's trend, not "
                f"a measurement.")
    else:
        cost = "The curve is flat: more labels would not certify more here."
    return cert, best, cost


def panel(p: price.Price, key: str, base: DIMEEConfig, curve_open: bool = False) -> None:
    """The three side by side, then the curve (in an expander unless ``curve_open``)."""
    cert, best, cost = words(p)
    if p.certified:
        s = dict(p.certified_setting)
        cert = f"{guarantee.setting_words(s.pop('method'), replace(base, **s))}. {cert}"
    c1, c2, c3 = st.columns(3)
    c1.metric("Certified saving (calibration)", f"{p.certified_pct:.1f} %",
              help="Cost reduction of the certified setting on the calibration split.")
    c1.caption(cert)
    c2.metric("Calibration-best (not guaranteed)",
              "–" if p.best_pct is None else f"{p.best_pct:.1f} %",
              help="What the cheapest setting that looks within the target would save, "
                   "with no guarantee.")
    c2.caption(best)
    price_pp = None if p.best_pct is None else max(p.best_pct - p.certified_pct, 0.0)
    c3.metric("What certainty costs here",
              "–" if price_pp is None else f"{price_pp:.1f} pp of saving",
              help="Calibration-best saving minus certified saving.")
    c3.caption(cost)
    if len(p.curve) == 1:
        return
    title = "Certified saving against calibration size (what more labels buy)"
    with st.container() if curve_open else st.expander(title):
        if curve_open:
            st.markdown(f"**{title}**")
        plot.chart(plot.figure(curve_figure, p), key=f"{key}_price_curve")
        st.caption("Each point certifies from scratch on a stratified subsample of the "
                   "calibration split (N/4, N/2, N). " + " · ".join(
                       f"{q.n_calibration:,}: " + ("too small" if q.saving_pct is None else
                                                 f"{q.saving_pct:.1f} %")
                       for q in p.curve))


def _stored_question(cache: Cache) -> tuple[float, float]:
    target_pp, delta, _, _ = stored_target(cache)
    return target_pp, delta


def warm_up(cache: Cache) -> None:
    """Server start: the Overview's panel for a cache whose tune stored none (its
    curve waits for a click)."""
    if stored(cache) is None:
        _computed(cache, default_base(cache), *_stored_question(cache), price.FAMILY, False)


def section(cache: Cache, key: str, base: DIMEEConfig | None = None,
            target_pp: float | None = None, delta: float | None = None,
            family: str = price.FAMILY, curve_open: bool = False) -> price.Price:
    """The panel for one question (default: the cache's stored target and δ at default
    costs). What tune stored is read back; anything else is computed here, the curve
    (three certifications) only on request, being too slow for a first screen."""
    base = base or default_base(cache)
    s_target, s_delta = _stored_question(cache)
    asked_delta = delta  # None: the stored question (an auto target's δ is split)
    target_pp = s_target if target_pp is None else target_pp
    delta = s_delta if delta is None else delta
    p = stored(cache)
    if p is None or (p.target_pp, p.family) != (target_pp, family) \
            or asked_delta not in (None, p.delta) or base != default_base(cache):
        asked = st.session_state.setdefault("_price_curves", set())
        ask = (str(cache.path), repr(base), target_pp, delta, family)
        p = _computed(cache, base, target_pp, delta, family, ask in asked)
        if asked_delta is None:
            _stale_note(cache, p)
        panel(p, key, base, curve_open)
        if len(p.curve) == 1:
            st.button("Certify on N/4 and N/2 of the calibration split too, for the curve "
                      "(about half a minute)", key=f"{key}_price_curve_go",
                      on_click=asked.add, args=(ask,))
        return p
    panel(p, key, base, curve_open)
    return p


def _stale_note(cache: Cache, p: price.Price) -> None:
    """Computed today for the stored question: say so when today's selection certifies
    another setting than the one stored (an older tune), so the answer and the panel do
    not silently disagree."""
    stored_plus = cache.defaults.get("dimee_plus") or {}
    if p.certified and any(stored_plus.get(k) != v for k, v in p.certified_setting.items()):
        st.info("The answer above is the setting stored by an earlier `tune`; today's "
                "selection certifies another one on the same samples (below). Run "
                "`python -m dimee_core tune` to store it with its price.",
                icon=":material/update:")


COLUMNS = {"target": "Target", "certified": "Certified (calibration)",
           "best": "Calibration-best, not guaranteed", "breaks": "It breaks the target in",
           "curve": "Certified by calibration size", "more_labels": "With 4× the labels"}


def table(caches: list[Cache]) -> None:
    """Every shipped data set's price of certainty, as stored by tune (a static table:
    cells wrap on a phone)."""
    from dimee_core.price import row  # below the first screen: see _computed

    rows = []
    for cache in caches:
        p = stored(cache)
        cells = row(p) if p is not None else {k: "–" for k in COLUMNS}
        if p is None:
            cells["certified"] = "not stored: run python -m dimee_core tune"
        rows.append({"Data set": md(cache.name),  # st.table cells are Markdown
                     **{COLUMNS[k]: v for k, v in cells.items()}})
    if rows:
        # data sets as columns: seven text columns would not fit a phone's width
        st.table(pd.DataFrame(rows).set_index("Data set").T)
        st.caption("Each data set at its own stored target and δ, on its calibration split "
                   "(the table above scores the certified settings on test). Calibration-"
                   "best: the cheapest setting whose held-out drop is within the target, "
                   "with no guarantee; its range and break rate come from re-selecting it "
                   "on half the held-out samples and scoring it on the other half. The 4× "
                   "column extrapolates the curve; it is not measured.")
