"""Streamlit building blocks reused by several pages (KPI rows, config panel, downloads)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from dimee_core import explore, recommendation, summary
from dimee_core.cache import Cache
from dimee_core.config import DIMEEConfig
from ui import charts, compute, downloads, plot, units
from ui.answer import recommendation_in_unit, recommendation_units
from ui.kpis import KPI_HELP, kpi_caption, kpi_row, show_error
from ui.compute import Results
from ui.text import md

def methods_dataframe(table: pd.DataFrame) -> None:
    """The all-methods table with readable column names and formats (costs in the
    sidebar's unit when ``table`` went through ``units.table_in_unit``)."""
    u = units.unit() if "p95_latency_ms" in table else units.UNITS["abstract"]
    show = table.drop(columns=["key"]).copy()
    for col in ("accuracy", "macro_f1", "share_mobile", "share_edge", "share_cloud"):
        show[col] = 100 * show[col]
    cc = st.column_config.NumberColumn
    # key columns first: on a phone the grid scrolls sideways past them, never to them
    st.dataframe(show, hide_index=True, column_order=(
        "method", "accuracy_drop_pp", "cost_reduction_pct", "share_mobile", "share_edge",
        "share_cloud", "accuracy", "mean_cost", "macro_f1"), column_config={
        "method": "Method", "accuracy": cc("Accuracy %", format="%.2f"),
        "macro_f1": cc("Macro-F1 %", format="%.2f"),
        "accuracy_drop_pp": cc("Drop (pp)", format="%+.2f", help=KPI_HELP["drop"]),
        "mean_cost": cc(units.axis_title(u).capitalize(), format="%.2f", help=u.help),
        "cost_reduction_pct": cc(units.reduction_title(u).capitalize(), format="%.1f",
                                 help=KPI_HELP["reduction"]),
        "p95_latency_ms": cc("p95 latency (ms)", format="%.1f"),
        "share_mobile": cc("Phone %", format="%.0f"), "share_edge": cc("Edge %", format="%.0f"),
        "share_cloud": cc("Cloud %", format="%.0f")})


def config_panel(cache: Cache, cfg: DIMEEConfig, res: Results, key: str,
                 real: dict | None = None) -> None:
    """The exact configuration (for engineers) and the two downloads (with every method's
    real-unit figures, the unit and the profile when ``real`` summaries are given)."""
    with st.expander("Exact configuration and downloads"):
        st.json(cfg.to_dict(), expanded=False)
        # callables: the files are built on click, not on every rerun
        c1, c2 = st.columns(2)
        c1.download_button("Per-sample assignments, DIMEE and DIMEE+ (CSV)",
                           lambda: downloads.assignments_csv(cache, cfg, res),
                           file_name=f"dimee_{cache.name}_assignments.csv", mime="text/csv",
                           key=f"{key}_csv", on_click="ignore")
        c2.download_button("Configuration, results and cluster decisions (JSON)",
                           lambda: downloads.results_json(cache, res, real),
                           file_name=f"dimee_{cache.name}_results.json",
                           mime="application/json", key=f"{key}_json", on_click="ignore")


def results_or_error(cache: Cache, cfg: DIMEEConfig) -> Results | None:
    """Evaluate the current settings; on a core validation error show it and return None."""
    try:
        return compute.results(cache, cfg)
    except ValueError as exc:  # includes CacheError
        show_error(exc)
        return None


def dimee_kpis(cache: Cache, cfg: DIMEEConfig, caption: bool = False,
               per_row: int = 4) -> bool:
    """DIMEE's KPI row via the fast path (drawn before anything slower); False on error."""
    try:
        r = compute.kpis(cache, cfg)
        real = compute.unit_kpis(cache, cfg, units.profile()) if units.in_units() else None
    except ValueError as exc:
        show_error(exc)
        return False
    kpi_row(r, per_row=per_row, real=real)
    if caption or recommendation.all_to_cloud(r):  # a 0 % is always shown with its reason
        kpi_caption(r, real=real, cfg=cfg)
    return True


def headline_panel(cache: Cache) -> None:
    """The shipped report's honest operating points for this dataset (if it covers it)."""
    table = compute.headline(cache)
    if table is None:
        return
    with st.expander("Against the paper's headline (≥ 43 % cheaper at ≤ 0.3 pp): each "
                     "method certified on calibration only, scored on test"):
        st.caption(
            "From `python -m dimee_core report` at this cache's default costs, whatever the "
            "sidebar says. For each target drop, the guaranteed selection (Learn then "
            "Test) walks one path of candidates on the calibration split and recommends, "
            "for DIMEE, DIMEE+ and the cascade, the cheapest setting it certified (not "
            "necessarily the cheapest setting within the target): over calibration draws, "
            "the chance that any of them has a true drop above the target is at most δ "
            "(samples exchangeable). Only then is the test split scored. "
            "Brackets: 95 % bootstrap intervals.")
        if not table.attrs.get("current_rule", True):
            st.warning("This shipped report was made with an earlier selection rule (before "
                       "the power-ordered path and the exact test), so its settings and "
                       "savings are not the answer above, which uses today's rule. "
                       "`python -m dimee_core report` regenerates it.")
        units.abstract_note("the report scores its settings in the paper's cost model")
        cc = st.column_config
        st.dataframe(table, hide_index=True, column_order=(
            "target", "method", "reduction", "reduction_ci", "drop", "drop_ci", "meets",
            "setting"), column_config={
            "target": "Target drop", "method": "Method",
            "setting": cc.TextColumn("Certified on calibration", width="large"),
            "reduction": cc.NumberColumn("Cost reduction %", format="%.1f",
                                         help=KPI_HELP["reduction"]),
            "reduction_ci": cc.TextColumn("95 % CI", width="small"),
            "drop": cc.NumberColumn("Drop (pp)", format="%+.2f", help=KPI_HELP["drop"]),
            "drop_ci": cc.TextColumn("95 % CI", width="small"),
            "meets": cc.TextColumn("Meets it?", width="small")})


def summary_table(shipped: list[tuple[Cache, recommendation.Recommendation]]) -> None:
    """Every shipped data set at its stored setting: a static table, so cells wrap on a
    phone instead of scrolling sideways."""
    # an old cache's token counts take a tokenizer pass (a minute for 10 k texts): only
    # the open data set pays it; the others' rows stay abstract and say so
    reals = [recommendation_units(cache) if all(
        s.lengths is not None for s in (cache.calibration, cache.test)) else None
        for cache, rec in shipped]
    df = summary.summary_table([recommendation_in_unit(rec, real)
                                for (_, rec), real in zip(shipped, reals)])
    if df.empty:
        return
    u = units.unit()
    show = pd.DataFrame({
        "Data set": df["dataset"].map(md),  # st.table cells are Markdown
        "DIMEE": df["dimee"], "DIMEE+": df["dimee_plus"],
        "Cascade (α tuned)": [f"{c} (α {a:g})" for c, a in zip(df["cascade"],
                                                             df["cascade_alpha"])],
        "Recommended": df["recommended"]})
    if units.in_units():
        show["Saved"] = [u.noun if r is not None else "abstract cost (no token counts "
                         "stored)" for r in reals]
    st.table(show.set_index("Data set"))
    st.caption(f"Each cell: {u.noun} saved vs all-in-cloud"
               + ("" if u.key == "abstract" else f" (profile {md(units.profile().name)}; "
                  "the Saved column says in what)")
               + " · accuracy drop, on the test split. Every data set at its own stored "
               "setting and default costs; the cascade's α and the recommended method were "
               "chosen on calibration for the data set's stored target (the table below "
               "names it).")


def risk_warnings(ev, real: dict | None = None) -> None:
    """Say it on the page when the current setting is worse than all-in-cloud (in the
    sidebar's unit when every method's real-unit ``real`` summaries are given)."""
    if real is not None and units.in_units():
        ev = replace(ev, methods={k: units.in_unit(r, units.real_pair(real, k))
                                  for k, r in ev.methods.items()})
    for msg in summary.risks(ev, noun=units.shown(real).noun):
        st.warning(msg, icon=":material/warning:")


SANKEY_METHODS = {"dimee": "DIMEE", "dimee_plus": "DIMEE+", "cascade": "Cascade"}


def sankey_panel(res: Results, n_samples: int, default: str, key: str) -> None:
    """Where one method's samples go (switchable), with its text summary."""
    ev = res.evaluation
    method = st.segmented_control(
        "Method", list(SANKEY_METHODS), default=default, format_func=SANKEY_METHODS.get,
        key=key, persist_state="session") or default
    r = ev.methods[method]
    escalated = float(explore.via_edge(ev.routings[method]).mean())
    plot.chart(plot.figure(charts.sankey, r.tier_shares, escalated, n_samples=n_samples),
               key=f"{key}_chart")
    st.caption(charts.sankey_summary(SANKEY_METHODS[method], r.tier_shares, escalated))


def unit_summaries(cache: Cache, cfg: DIMEEConfig, profile=None
                   ) -> tuple[dict | None, dict | None]:
    """Every method's real-unit summary and per-sample latencies in units mode (under
    ``profile``, by default the sidebar's), else (None, None)."""
    if not units.in_units():
        return None, None
    try:
        return compute.unit_view(cache, cfg, profile or units.profile())
    except ValueError as exc:
        show_error(exc, "The real-unit figures")
        return None, None

