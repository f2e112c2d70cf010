"""ui/plot.figure: one shared figure per builder and inputs, rebuilt when any input
changes (a positional value, a cell of a data frame, a keyword)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ui import charts, plot

ROOT = Path(__file__).resolve().parent.parent

SHARES = {"DIMEE": {"mobile": 0.25, "edge": 0.25, "cloud": 0.5},
          "DIMEE+": {"mobile": 0.5, "edge": 0.0, "cloud": 0.5}}


def _bar_x(fig, tier: str) -> list[float]:
    return list(next(t for t in fig.data if t.name == tier).x)


def test_equal_inputs_share_one_figure_and_a_changed_share_rebuilds_it():
    first = plot.figure(charts.tier_shares_bar, SHARES)
    again = plot.figure(charts.tier_shares_bar, {k: dict(v) for k, v in SHARES.items()})
    assert again is first  # equal by value (a fresh dict): no rebuild
    moved = {**SHARES, "DIMEE": {"mobile": 0.5, "edge": 0.0, "cloud": 0.5}}
    rebuilt = plot.figure(charts.tier_shares_bar, moved)
    assert rebuilt is not first
    assert _bar_x(rebuilt, "mobile") == [50.0, 50.0]  # the new share, drawn
    assert _bar_x(first, "mobile") == [25.0, 50.0]  # the shared one is left as it was


def test_a_keyword_is_part_of_the_key():
    assert plot.figure(charts.tier_shares_bar, SHARES, height=300).layout.height == 300
    assert plot.figure(charts.tier_shares_bar, SHARES, height=410).layout.height == 410


def test_one_changed_cell_of_a_data_frame_rebuilds_the_figure():
    table = pd.DataFrame({"key": ["dimee", "all_in_cloud"], "method": ["DIMEE", "All in cloud"],
                          "cost_reduction_pct": [40.0, 0.0], "accuracy_drop_pp": [0.5, 0.0]})
    first = plot.figure(charts.methods_scatter, table)
    assert plot.figure(charts.methods_scatter, table.copy()) is first
    changed = table.copy()
    changed.loc[0, "cost_reduction_pct"] = 40.25
    fig = plot.figure(charts.methods_scatter, changed)
    dimee = next(t for t in fig.data if t.name == "DIMEE")
    assert list(dimee.x) == [40.25]


def test_two_builders_with_equal_inputs_do_not_answer_for_each_other():
    shares = SHARES["DIMEE"]
    assert plot.figure(charts.sankey, shares).data[0].type == "sankey"
    bars = plot.figure(charts.tier_shares_bar, {"DIMEE": shares})
    assert bars.data[0].type == "bar"


@pytest.mark.slow
def test_the_overview_scatter_follows_the_cost_slider():
    """On the page: after a cost-slider move, the cached methods chart shows DIMEE at the
    new KPI's cost reduction (a stale figure would keep the old point)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in {"m": "3", "n": "5", "k": "8", "eps": "1", "oc": "5"}.items():
        at.query_params[k] = v
    at.run()
    seen = []
    for oc in (5.0, 5.25, 5.0):
        at.sidebar.slider(key="oc").set_value(oc).run()
        assert not at.exception, [e.value for e in at.exception]
        kpi = next(m.value for m in at.metric if m.label == "Cost reduction")
        spec = json.loads(next(c.proto.spec for c in at.get("plotly_chart")
                               if "ov_methods" in c.proto.id))
        x = next(t["x"][0] for t in spec["data"] if t.get("name") == "DIMEE")
        assert f"{x:.1f} %" == kpi
        seen.append(kpi)
    assert seen[0] != seen[1] and seen[0] == seen[2]
