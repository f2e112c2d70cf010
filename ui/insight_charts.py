"""Figures for the error breakdown and the pinned settings (pure: data in, figure out)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dimee_core.costs import TIERS
from ui import text
from ui.charts import layout


def class_tier_heatmap(table: pd.DataFrame, label_names: list[str]) -> go.Figure:
    """Error rate (%) per tier (rows) and true class (columns), each cell saying
    'wrong of answered'; a tier that answers no sample of a class stays blank."""
    rows = [t for t in TIERS if t in set(table["tier"])]
    cols = list(label_names)
    z = [[None] * len(cols) for _ in rows]
    cells = [[""] * len(cols) for _ in rows]
    for r in table.itertuples():
        i, j = rows.index(r.tier), cols.index(r.label)
        z[i][j] = 100 * r.error_rate
        cells[i][j] = f"{r.wrong:,} of {r.answered:,}"
    names = [text.plotly(c) for c in cols]  # label names: HTML
    fig = go.Figure(go.Heatmap(z=z, x=names, y=rows, text=cells, texttemplate="%{text}",
                               colorscale="Reds", zmin=0, colorbar=dict(title="wrong %"),
                               hovertemplate="%{y}, true %{x}: %{text} wrong (%{z:.1f} %)"
                                             "<extra></extra>"))
    fig.update_xaxes(title="true class", type="category")
    fig.update_yaxes(title="answered on", type="category", autorange="reversed")
    return layout(fig, height=120 + 60 * len(rows))


def pinned_parcoords(pins: pd.DataFrame) -> go.Figure:
    """One line per pinned setting across its knobs and results (coloured by saving)."""
    dims = [dict(label=title, values=pins[col], range=rng) for col, title, rng in (
        ("m", "m", None), ("n", "n", None), ("k", "k", None), ("alpha", "α", [0.5, 1]),
        ("eps", "ε (pp)", None), ("mu", "μ", None),
        ("drop_pp", "drop (pp)", None), ("reduction_pct", "saved %", None))]
    dims = [{k: v for k, v in d.items() if v is not None} for d in dims]
    fig = go.Figure(go.Parcoords(
        line=dict(color=pins["reduction_pct"], colorscale="Viridis", showscale=True,
                  colorbar=dict(title="saved %")), dimensions=dims))
    return layout(fig, height=360).update_layout(margin=dict(l=40, r=40, t=50, b=20))
