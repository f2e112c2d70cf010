"""ui/plot.figure: one shared figure per builder and inputs, rebuilt when any input
changes (a positional value, a cell of a data frame, a keyword)."""

from __future__ import annotations

import pandas as pd

from ui import charts, plot

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
