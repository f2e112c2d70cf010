"""Figures drawn in the sidebar's unit when a real one is on: What-if's frontier sweeps
and the Samples page's cost breakdown of one request (the optimiser's heatmap and the
network sweep are in ``ui.optimiser`` and ``ui.units``). Abstract mode draws them in the
paper's layer-equivalents, as before."""

from __future__ import annotations

import streamlit as st

from dimee_core import explore
from dimee_core.objective import METRIC
from dimee_core.profiles import parts
from ui import charts, compute, plot, unit_answer, units, widgets
from ui.text import md, plotly



def _d3(u: units.Unit) -> str:
    """The unit's number format (st.column_config's "%.1f") as Plotly's ".1f"."""
    return u.printf.lstrip("%")


def axis_title() -> str:
    """The chosen unit's axis title, naming the profile in a real unit (escaped)."""
    u = units.unit()
    title = units.axis_title(u)
    return title if u.key == "abstract" else f"{title}, {plotly(units.profile().name)}"


def frontier(cache, cfg, ev, real: dict | None, param: str) -> None:
    """Accuracy vs cost of every method's knob sweep, in the unit: each swept routing
    scored from the test split's token counts under the profile in force."""
    objective = unit_answer.objective() if real is not None else None
    try:
        front = compute.frontiers(cache, cfg, objective)
    except ValueError as exc:
        widgets.show_error(exc, "The frontier")
        return
    u = units.shown(real)
    table = units.table_in_unit(explore.methods_table(ev), real)
    plot.chart(plot.figure(charts.frontier_chart, front, table, param, axis_title() if real
                           else units.axis_title(u), _d3(u)), key="wi_frontier")
    st.caption(f"Each line is one method with one knob swept (DIMEE: {param}; DIMEE+: ε; "
               "cascade: α); stars and diamonds are every method at your current "
               "settings. Up and to the left is better: more accurate and cheaper.")
    if objective is not None:
        st.caption(f"In {u.noun} under **{md(units.profile().name)}**: each routing of a "
                   f"sweep is scored from every test request's token count. The routers "
                   f"still pick tiers in the sidebar's cost model; the optimiser below "
                   f"chooses in this unit.")


def breakdown(cache, cfg, tier: int, escalated: bool, sample: int) -> None:
    """One test request's cost split into its parts, with all-in-cloud's for it."""
    u = units.unit()
    if not units.in_units():
        costs = explore.cost_breakdown(cfg.costs, cfg.m, cfg.n, cache.num_layers, tier,
                                       escalated)
        ref = cfg.costs.reference_cost(cache.num_layers)
        plot.chart(charts.cost_breakdown_chart(costs, ref), key="smp_cost")
        st.caption(" · ".join(f"{k}: {v:g}" for k, v in costs.items())
                   + f" · all-in-cloud would cost {ref:g}")
        return
    metric = METRIC[units.OBJECTIVE_OF[u.key]]
    tokens = float(compute.with_tokens(cache)[0].test.lengths[sample])
    model = parts(units.profile(), metric, cfg.m, cfg.n, cache.num_layers, cfg.costs.mode,
                  cfg.hidden_size)
    scale = 1e6 if metric == "usd" else 1.0  # $ per million such requests, as shown
    costs = {k: scale * v for k, v in model.of_request(tier, escalated, tokens).items()}
    ref = scale * model.reference_of(tokens)
    plot.chart(charts.cost_breakdown_chart(costs, ref, axis_title(), "{:%s}" % _d3(u)),
               key="smp_cost")
    st.caption(" · ".join(f"{k}: {units.fmt(u, v)}" for k, v in costs.items())
               + f" · all-in-cloud would cost {units.fmt(u, ref)} for this request's "
               f"{tokens:,.0f} tokens, under **{md(units.profile().name)}**")
