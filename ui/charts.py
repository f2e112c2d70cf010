"""Plotly figures shared by the pages (pure: data in, figure out, no Streamlit)."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dimee_core.config import SHORT_LABELS
from dimee_core.costs import TIERS
from ui import text
from ui.labels import coincident_labels, label_positions

TIER_COLORS = {"mobile": "#2ca02c", "edge": "#ff7f0e", "cloud": "#1f77b4"}
POOL_COLORS = {"easy": "#2ca02c", "medium": "#ff7f0e", "hard": "#d62728"}
METHOD_COLORS = {"dimee": "#6a3d9a", "dimee_plus": "#e377c2", "cascade": "#17becf",
                 "all_in_cloud": "#1f77b4", "mobile_only": "#2ca02c",
                 "edge_only": "#ff7f0e", "random": "#7f7f7f", "oracle": "#bcbd22"}
QUALITATIVE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
               "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
SWEPT = {"dimee": "DIMEE (sweep {p})", "dimee_plus": "DIMEE+ (sweep ε)",
         "cascade": "Cascade (sweep α)"}


# Plotly's toolbar ("mode bar"): only where something can be zoomed, and then only while
# the pointer is over the chart; touch screens never hover (Plotly then shows it for
# good, over legends and labels), so app.py's STYLE hides it there.
STATIC_TRACES = {"bar", "sankey", "heatmap", "parcoords", "table"}
MODEBAR_HIDDEN = ("select2d", "lasso2d", "toImage", "autoScale2d")


def config(fig: go.Figure) -> dict:
    """The Plotly config every chart of the app is drawn with (ui.plot.chart): no
    toolbar on a figure with nothing to zoom (bars, Sankey, heatmaps), else a short one
    on hover."""
    zoomable = any(t.type not in STATIC_TRACES for t in fig.data)
    if not zoomable:
        return {"displayModeBar": False, "displaylogo": False}
    return {"displayModeBar": "hover", "displaylogo": False,
            "modeBarButtonsToRemove": list(MODEBAR_HIDDEN)}


def layout(fig: go.Figure, title: str | None = None, height: int = 360, **kw) -> go.Figure:
    """The house layout every chart shares: title, height, tight margins, legend on top."""
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40 if title
                                                              else 10, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0), **kw)
    return fig


def tier_shares_bar(shares: Mapping[str, Mapping[str, float]], height: int = 260) -> go.Figure:
    """Horizontal stacked bars: where each named row's samples are answered (%)."""
    names = list(shares)
    fig = go.Figure([go.Bar(y=[text.plotly(n) for n in names],  # scenario names: HTML
                            x=[100 * shares[n][t] for n in names], name=t,
                            orientation="h", marker_color=TIER_COLORS[t],
                            text=[f"{100 * shares[n][t]:.0f}%" for n in names],
                            textposition="inside", insidetextanchor="middle")
                     for t in TIERS])
    fig.update_xaxes(title="share of test samples (%)", range=[0, 100])
    fig.update_yaxes(autorange="reversed")
    return layout(fig, height=height, barmode="stack")


def sankey(shares: Mapping[str, float], escalated: float = 0.0, n_samples: int = 0) -> go.Figure:
    """Mobile → edge → cloud flow of test samples (escalated: edge hands on to cloud)."""
    pct = lambda v: f"{100 * v:.1f}%"
    edge_in = shares["edge"] + escalated
    direct_cloud = shares["cloud"] - escalated
    labels = [f"All samples start on the phone ({n_samples:,})" if n_samples else "Phone",
              f"Answered on phone {pct(shares['mobile'])}",
              f"Sent to edge {pct(edge_in)}", f"Answered on edge {pct(shares['edge'])}",
              f"Answered in cloud {pct(shares['cloud'])}"]
    links = [(0, 1, shares["mobile"]), (0, 2, edge_in), (2, 3, shares["edge"]),
             (2, 4, escalated), (0, 4, direct_cloud)]
    links = [lk for lk in links if lk[2] > 1e-12]
    colors = ["#9467bd", TIER_COLORS["mobile"], TIER_COLORS["edge"], TIER_COLORS["edge"],
              TIER_COLORS["cloud"]]
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node=dict(label=labels, color=colors, pad=18, thickness=16),
        link=dict(source=[s for s, _, _ in links], target=[t for _, t, _ in links],
                  value=[100 * v for _, _, v in links],
                  color="rgba(150,150,150,0.35)")))
    return layout(fig, height=280)


FOCUS = ("dimee", "dimee_plus")  # drawn last (on top) and labelled first


def shares_summary(shares: Mapping[str, Mapping[str, float]]) -> str:
    """Stacked tier bars in words: 'DIMEE: 10 % phone, 5 % edge, 85 % cloud; …'."""
    return "; ".join(f"{text.md(name)}: " + ", ".join(f"{100 * s[t]:.0f} % {t}" for t in TIERS)
                     for name, s in shares.items()) + "."


def sankey_summary(name: str, shares: Mapping[str, float], escalated: float = 0.0) -> str:
    """The Sankey in words (its text alternative)."""
    pct = lambda v: f"{100 * v:.0f} %"
    on = (f" ({pct(escalated)} of all requests reach the cloud through the edge, which "
          f"hands on those it is unsure of)" if escalated > 1e-12 else "")
    return (f"{name}: every request starts on the phone; {pct(shares['mobile'])} are "
            f"answered there, {pct(shares['edge'])} on the edge and "
            f"{pct(shares['cloud'])} in the cloud{on}.")


def methods_scatter(table: pd.DataFrame,
                    x_title: str = "cost reduction vs all-in-cloud (%)") -> go.Figure:
    """Every method as one point: cost reduction (x) vs accuracy drop (y, lower is better).
    DIMEE and DIMEE+ are labelled first and drawn last, so their stars are never hidden
    under a baseline that lands on the same spot (random routing uses DIMEE's shares)."""
    order = sorted(range(len(table)), key=lambda i: table["key"].iloc[i] not in FOCUS)
    rows = table.iloc[order]
    xs, ys = rows["cost_reduction_pct"].tolist(), rows["accuracy_drop_pp"].tolist()
    labels = coincident_labels(xs, ys, rows["method"].tolist())
    spots = label_positions(xs, ys, labels, width_px=260, height_px=280)  # phone-sized
    fig = go.Figure()
    for (_, r), spot, label in reversed(list(zip(rows.iterrows(), spots, labels))):
        big = r["key"] in FOCUS
        fig.add_trace(go.Scatter(
            x=[r["cost_reduction_pct"]], y=[r["accuracy_drop_pp"]], mode="markers+text",
            name=r["method"], text=[label], textposition=spot, cliponaxis=False,
            hovertemplate=f"{r['method']}: %{{x:.1f}} % cheaper, %{{y:+.2f}} pp"
                          "<extra></extra>",
            marker=dict(size=18 if big else 10, color=METHOD_COLORS.get(r["key"]),
                        symbol="star" if big else "circle",
                        line=dict(width=1, color="white") if big else None)))
    fig.update_xaxes(title=f"{x_title} →  better")
    fig.update_yaxes(title="accuracy drop (pp) ↓ better", zeroline=True)
    return layout(fig, showlegend=False, height=380)


def frontier_chart(front: pd.DataFrame, table: pd.DataFrame, dimee_param: str = "ε",
                   x_title: str = "mean cost per sample (layer-equivalents)",
                   x_format: str = ".2f") -> go.Figure:
    """Accuracy vs mean cost: swept methods as lines, every method at the current settings
    as a marker (DIMEE's current operating point as a star). ``x_title`` (escaped by the
    caller) names the costs' unit, ``x_format`` formats them on hover."""
    fig = go.Figure()
    for method, part in front.groupby("method", sort=False):
        part = part.sort_values(["mean_cost", "accuracy"])
        fig.add_trace(go.Scatter(
            x=part["mean_cost"], y=100 * part["accuracy"], mode="lines+markers",
            name=SWEPT[method].format(p=dimee_param), line=dict(color=METHOD_COLORS[method]),
            marker=dict(size=5), opacity=0.75,
            customdata=part[["param", "value"]].to_numpy(),
            hovertemplate="%{customdata[0]}=%{customdata[1]}<br>cost %{x:" + x_format
                          + "}<br>accuracy %{y:.2f}%<extra></extra>"))
    # the baselines: one unlisted trace, each point named beside it, so the legend (five
    # entries) never outgrows the plot on a phone
    base = table[~table["key"].isin(FOCUS)]
    names = coincident_labels(base["mean_cost"].tolist(), (100 * base["accuracy"]).tolist(),
                              base["method"].tolist())
    spots = label_positions(base["mean_cost"].tolist(), (100 * base["accuracy"]).tolist(),
                            names, width_px=260, height_px=260,
                            extent=([*front["mean_cost"], *table["mean_cost"]],
                                    [*(100 * front["accuracy"]), *(100 * table["accuracy"])]))
    fig.add_trace(go.Scatter(
        x=base["mean_cost"], y=100 * base["accuracy"], mode="markers+text",
        name="baselines", showlegend=False, text=names, textposition=spots,
        textfont=dict(size=11), cliponaxis=False, customdata=base[["method"]].to_numpy(),
        hovertemplate="%{customdata[0]}: cost %{x:" + x_format
                      + "}, accuracy %{y:.2f}%<extra></extra>",
        marker=dict(size=10, symbol="diamond", line=dict(width=1, color="black"),
                    color=[METHOD_COLORS.get(k) for k in base["key"]])))
    # DIMEE last and largest, so it stays visible when DIMEE+ lands on the same point
    now = table[table["key"].isin(FOCUS)]
    for _, r in now.sort_values("key", key=lambda k: k == "dimee").iterrows():
        fig.add_trace(go.Scatter(
            x=[r["mean_cost"]], y=[100 * r["accuracy"]], mode="markers",
            name=f"{r['method']} (now)",
            marker=dict(size=20 if r["key"] == "dimee" else 14,
                        color=METHOD_COLORS.get(r["key"]), symbol="star",
                        line=dict(width=1, color="black"))))
    fig.update_xaxes(title=f"{x_title} ← cheaper")
    fig.update_yaxes(title="test accuracy (%)")
    fig = layout(fig, height=440)
    fig.update_layout(legend=dict(entrywidth=0.5, entrywidthmode="fraction"))  # 2 columns
    return fig


def cluster_chart(clusters: pd.DataFrame) -> go.Figure:
    """Per cluster: pool mix as stacked bars, labelled with the tier DIMEE chose."""
    x = [f"#{c} → {t}" for c, t in zip(clusters["cluster"], clusters["tier"])]
    fig = go.Figure([go.Bar(x=x, y=clusters[p], name=p, marker_color=c)
                     for p, c in (("easy", "#2ca02c"), ("medium", "#ff7f0e"),
                                  ("hard", "#d62728"))])
    fig.update_yaxes(title="calibration samples")
    fig.update_xaxes(title="cluster → chosen tier")
    return layout(fig, barmode="stack", height=320)


def gate_chart(clusters: pd.DataFrame, alpha: float) -> go.Figure:
    """DIMEE+'s phone gate per cluster (bar height) against the cascade's one alpha."""
    x = [f"#{c}" for c in clusters["cluster"]]
    gate = clusters["gate"].fillna(1.0)  # never on the phone: a full bar, labelled so
    label = ["never" if g != g else "always" if g == 0 else f"{g:.3g}"
             for g in clusters["gate"]]
    fig = go.Figure(go.Bar(x=x, y=gate, text=label, textposition="outside",
                           marker_color=[TIER_COLORS["mobile"] if g == g else
                                         TIER_COLORS["edge"] for g in clusters["gate"]],
                           customdata=clusters[["size", "tier"]].to_numpy(),
                           hovertemplate="cluster %{x}: %{customdata[1]}<br>"
                                         "%{customdata[0]} calibration samples<extra></extra>"))
    fig.add_hline(y=alpha, line_dash="dash", line_color="#444",
                  annotation_text=f"cascade: one α = {alpha:g} for all",
                  annotation_position="top left")
    fig.update_yaxes(title="phone answers if its confidence ≥", range=[0, 1.1])
    fig.update_xaxes(title="DIMEE+ cluster", type="category")
    return layout(fig, height=320)


def _tiers_and_alpha(fig: go.Figure, m: int, n: int, L: int, alpha: float) -> None:
    """Shade the layers each device holds and draw the confidence threshold α."""
    for x0, x1, tier in ((0.5, m + 0.5, "mobile"), (m + 0.5, n + 0.5, "edge"),
                         (n + 0.5, L + 0.5, "cloud")):
        fig.add_vrect(x0=x0, x1=x1, fillcolor=TIER_COLORS[tier], opacity=0.08, line_width=0,
                      annotation_text=tier, annotation_position="top left")
    fig.add_hline(y=alpha, line_dash="dash", line_color="#444",
                  annotation_text=f"α = {alpha:g}", annotation_position="bottom right")


def trajectory_chart(traj: pd.DataFrame, m: int, n: int, alpha: float,
                     routed_layer: int | None = None) -> go.Figure:
    """One sample's confidence per exit, with α and the split points drawn."""
    L = int(traj["layer"].max())
    fig = go.Figure()
    _tiers_and_alpha(fig, m, n, L, alpha)
    fig.add_trace(go.Scatter(
        x=traj["layer"], y=traj["confidence"], mode="lines+markers", name="confidence",
        line=dict(color="#444"),
        marker=dict(size=12, color=["#2ca02c" if c else "#d62728" for c in traj["correct"]],
                    symbol=["circle" if c else "x" for c in traj["correct"]]),
        customdata=traj[["prediction"]].map(text.plotly).to_numpy(),  # label names: HTML
        hovertemplate="exit %{x}: %{customdata[0]} (conf %{y:.3f})<extra></extra>"))
    fig.add_trace(go.Scatter(x=traj["layer"], y=traj["p_true"], mode="lines",
                             name="probability of the true label",
                             line=dict(color="#999", dash="dot")))
    if routed_layer is not None:
        fig.add_vline(x=routed_layer, line_color="#6a3d9a", line_width=3,
                      annotation_text="answer taken here", annotation_position="bottom left")
    fig.update_xaxes(title="exit (layer)", dtick=1, range=[0.5, L + 0.5])
    fig.update_yaxes(title="confidence", range=[0, 1.05])
    return layout(fig, height=340)


def cost_breakdown_chart(parts: Mapping[str, float], reference: float | None = None,
                         title: str = "cost", fmt: str = "{:g}") -> go.Figure:
    """One sample's cost split into its parts; ``reference`` marks all-in-cloud.
    ``title`` (escaped by the caller) names the unit, ``fmt`` formats each figure."""
    colors = ("#2ca02c", "#9467bd", "#1f77b4", "#d62728")
    fig = go.Figure([go.Bar(y=["cost"], x=[v], name=k, orientation="h", marker_color=c,
                            text=[fmt.format(v)] if v else None, textposition="inside")
                     for (k, v), c in zip(parts.items(), colors)])
    if reference is not None:
        fig.add_vline(x=reference, line_dash="dash", annotation_text="all in cloud",
                      annotation_position="top")
    fig.update_xaxes(title=f"{title} (total {fmt.format(sum(parts.values()))})",
                     range=[0, 1.05 * max(sum(parts.values()), reference or 0)])
    return layout(fig, barmode="stack", height=190, yaxis=dict(visible=False))


def layer_accuracy_chart(acc: pd.DataFrame, m: int, n: int) -> go.Figure:
    fig = go.Figure([
        go.Bar(x=acc["layer"], y=100 * acc["accuracy"], name="accuracy (%)",
               marker_color=[TIER_COLORS["mobile"] if layer <= m else TIER_COLORS["edge"]
                             if layer <= n else TIER_COLORS["cloud"]
                             for layer in acc["layer"]],
               text=[f"{100 * a:.1f}" for a in acc["accuracy"]], textposition="outside"),
        go.Scatter(x=acc["layer"], y=100 * acc["mean_confidence"], name="mean confidence (%)",
                   mode="lines+markers", line=dict(color="#444"))])
    fig.update_xaxes(title="exit (layer); colour = tier that holds it", dtick=1)
    fig.update_yaxes(title="%", range=[0, 105])
    return layout(fig, height=320)


def confidence_boxes(long: pd.DataFrame, alpha: float) -> go.Figure:
    """Confidence distribution per exit, split by whether that exit is right."""
    fig = go.Figure()
    for ok, name, color in ((True, "exit is right", "#2ca02c"),
                            (False, "exit is wrong", "#d62728")):
        part = long[long["correct"] == ok]
        fig.add_trace(go.Box(x=part["layer"], y=part["confidence"], name=name,
                             marker_color=color, boxpoints=False))
    fig.add_hline(y=alpha, line_dash="dash", annotation_text=f"α = {alpha:g}")
    fig.update_xaxes(title="exit (layer)", dtick=1)
    fig.update_yaxes(title="confidence (top probability)")
    return layout(fig, boxmode="group", height=340)


def pool_shares_chart(shares: pd.DataFrame, alpha: float) -> go.Figure:
    fig = go.Figure([go.Scatter(x=shares["alpha"], y=100 * shares[p], name=p,
                                stackgroup="pools", line=dict(color=c))
                     for p, c in POOL_COLORS.items()])
    fig.add_vline(x=alpha, line_dash="dash", annotation_text="your α")
    fig.update_xaxes(title="confidence threshold α")
    fig.update_yaxes(title="share of test samples (%)", range=[0, 100])
    return layout(fig, height=320)


def distinct_colors(k: int) -> list[str]:
    """k different colours: the ten qualitative ones, then each next one the farthest
    (in RGB) from all chosen so far, among hues in 5° steps at four lightness levels
    (deterministic; distinct for 64 clusters and beyond)."""
    import colorsys

    chosen = list(QUALITATIVE[:k])
    if k <= len(chosen):
        return chosen
    cands = np.array([colorsys.hls_to_rgb(h / 360, lum, sat) for h in range(0, 360, 5)
                      for lum in (0.3, 0.45, 0.6, 0.72) for sat in (0.55, 0.85)]) * 255
    have = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in chosen], float)
    dist = np.linalg.norm(cands[:, None] - have[None], axis=-1).min(1)
    while len(chosen) < k:
        i = int(np.argmax(dist))
        chosen.append("#{:02x}{:02x}{:02x}".format(*(int(round(v)) for v in cands[i])))
        dist = np.minimum(dist, np.linalg.norm(cands - cands[i], axis=1))
    return chosen


def projection_chart(pts: pd.DataFrame, centres: pd.DataFrame, color_by: str) -> go.Figure:
    """2-D PCA of routing features (Scattergl: thousands of points stay fluid). Clusters
    get distinct colours; centre labels are placed so they do not overprint; hovering a
    point names its cluster, and a legend click hides or isolates one."""
    fig = go.Figure()
    groups = sorted(pts[color_by].unique(), key=lambda g: (str(type(g)), g))
    colors = distinct_colors(len(groups))
    tier_of = dict(zip(centres["cluster"], centres["tier"]))
    for g, color in zip(groups, colors):
        part = pts[pts[color_by] == g]
        color = POOL_COLORS.get(g) if color_by == "pool" else color
        label = f"{color_by} {g}" + (f" → {tier_of.get(g)}" if color_by == "cluster" else "")
        fig.add_trace(go.Scattergl(x=part["x"], y=part["y"], mode="markers",
                                   name=f"{color_by} {g}", marker=dict(size=5, color=color,
                                                                      opacity=0.6),
                                   hovertemplate=f"{label}<extra></extra>"))
    spots = label_positions(centres["x"].tolist(), centres["y"].tolist(),
                            [f"#{c}" for c in centres["cluster"]], width_px=520,
                            height_px=300, extent=([*pts["x"], *centres["x"]],
                                                   [*pts["y"], *centres["y"]]))
    fig.add_trace(go.Scatter(x=centres["x"], y=centres["y"], mode="markers+text",
                             name="cluster centres", text=[f"#{c}" for c in centres["cluster"]],
                             textposition=spots, customdata=centres[["tier"]].to_numpy(),
                             hovertemplate="centre of cluster %{text} → %{customdata[0]}"
                                           "<extra></extra>",
                             marker=dict(symbol="x", size=11, color="#888",
                                         line=dict(width=1, color="#888"))))
    fig.update_xaxes(title="principal component 1")
    fig.update_yaxes(title="principal component 2")
    return layout(fig, height=400, showlegend=len(groups) <= len(QUALITATIVE))


def exit_probs_chart(probs, label_names: list[str], m: int, n: int, alpha: float,
                     answers: Mapping[str, int]) -> go.Figure:
    """A live text's class probabilities at every exit ([L, C]), with α, the devices'
    layers and where each method (name -> 1-based exit) takes its answer."""
    L = len(probs)
    layers = list(range(1, L + 1))
    fig = go.Figure()
    _tiers_and_alpha(fig, m, n, L, alpha)
    for c, name in enumerate(map(text.plotly, label_names)):  # label names: HTML
        fig.add_trace(go.Scatter(
            x=layers, y=[float(p[c]) for p in probs], mode="lines+markers", name=name,
            line=dict(color=QUALITATIVE[c % len(QUALITATIVE)]),
            hovertemplate=f"exit %{{x}}: P({name}) = %{{y:.3f}}<extra></extra>"))
    for i, (method, layer) in enumerate(answers.items()):
        fig.add_vline(x=layer + (0.06 if i else -0.06), line_color=METHOD_COLORS[method],
                      line_width=3, annotation_text=f"{SHORT_LABELS[method]} answers here",
                      annotation_position="bottom right" if i else "bottom left")
    fig.update_xaxes(title="exit (layer)", dtick=1, range=[0.5, L + 0.5])
    fig.update_yaxes(title="probability", range=[0, 1.05])
    return layout(fig, height=360)


def warm_up() -> None:
    """Plotly loads its validators and templates on the first figure (~1 s): build two
    small ones at server start (app.py's warm-up thread) instead of in a visitor's run."""
    sankey({"mobile": 0.5, "edge": 0.25, "cloud": 0.25}).to_json()
    tier_shares_bar({"x": {"mobile": 1.0, "edge": 0.0, "cloud": 0.0}}).to_json()


def latency_distribution(latencies: Mapping[str, "np.ndarray"], labels: Mapping[str, str],
                         sla_ms: float | None = None, quantile: float = 0.95) -> go.Figure:
    """Per method, the share of requests answered within x ms (an ECDF drawn through 201
    quantiles, so the figure stays small at any N), with the SLA as a vertical line."""
    import numpy as np

    qs = np.linspace(0, 1, 201)
    fig = go.Figure()
    for key, lat in latencies.items():
        fig.add_trace(go.Scatter(x=np.quantile(lat, qs), y=100 * qs, mode="lines",
                                 name=labels.get(key, key),
                                 line=dict(color=METHOD_COLORS.get(key), width=3 if key in
                                           FOCUS else 1.5),
                                 hovertemplate="%{y:.0f} % within %{x:.1f} ms<extra></extra>"))
    if sla_ms is not None:
        fig.add_vline(x=sla_ms, line_dash="dash", line_color="#d62728",
                      annotation_text=f"SLA: p{100 * quantile:g} ≤ {sla_ms:g} ms")
        fig.add_hline(y=100 * quantile, line_dash="dot", line_color="#999999")
    fig.update_xaxes(title="latency per request (ms)", rangemode="tozero")
    fig.update_yaxes(title="requests answered within (%)", range=[0, 101])
    return layout(fig, height=380)


def split_heatmap(cells: pd.DataFrame, value_title: str, texts: Sequence[str],
                  best: tuple[int, int] | None = None, *, colorscale: str = "Viridis_r",
                  zmin: float | None = None, outline: str = "#d62728",
                  missing_text: str = "", height: int = 320) -> go.Figure:
    """One cell per split (m rows, n columns): ``cells`` has m, n, value; ``texts`` the
    formatted values; the picked cell is outlined; splits without a row show
    ``missing_text``."""
    ms, ns = sorted(cells["m"].unique()), sorted(cells["n"].unique())
    z = [[None] * len(ns) for _ in ms]
    t = [[missing_text] * len(ns) for _ in ms]
    for (_, r), text in zip(cells.iterrows(), texts):
        z[ms.index(r["m"])][ns.index(r["n"])] = r["value"]
        t[ms.index(r["m"])][ns.index(r["n"])] = text
    fig = go.Figure(go.Heatmap(z=z, x=[str(n) for n in ns], y=[str(m) for m in ms], text=t,
                               texttemplate="%{text}", colorscale=colorscale, zmin=zmin,
                               colorbar=dict(title=value_title),
                               hovertemplate="m=%{y}, n=%{x}: %{text}<extra></extra>"))
    if best is not None:
        fig.add_shape(type="rect", x0=ns.index(best[1]) - 0.5, x1=ns.index(best[1]) + 0.5,
                      y0=ms.index(best[0]) - 0.5, y1=ms.index(best[0]) + 0.5,
                      line=dict(color=outline, width=3))
    fig.update_xaxes(title="edge split n", type="category")
    fig.update_yaxes(title="mobile split m", type="category")
    return layout(fig, height=height)
