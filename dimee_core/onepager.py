"""A one-page summary for stakeholders, rendered server-side with matplotlib (no browser,
no kaleido): the answer, its guarantee, the key numbers, where the samples go (a Sankey-
style flow) and the accuracy/cost frontier. ``figure`` builds it; ``render`` writes PDF
or PNG bytes."""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

FORMATS = ("pdf", "png")
TIER_COLOURS = {"mobile": "#2ca02c", "edge": "#ff7f0e", "cloud": "#1f77b4"}
LINE_COLOURS = {"dimee": "#6a3d9a", "dimee_plus": "#e377c2", "cascade": "#17becf"}
LINE_NAMES = {"dimee": "DIMEE", "dimee_plus": "DIMEE+", "cascade": "Confidence cascade"}
WHERE = {"mobile": "on the phone", "edge": "on the edge", "cloud": "in the cloud"}
A4 = (8.27, 11.69)  # inches, portrait


@dataclass(frozen=True)
class OnePage:
    """Everything the page says (plain text: no Markdown)."""

    title: str
    subtitle: str
    answer: str
    guarantee: str
    kpis: Sequence[tuple[str, str]]  # (label, value) of the recommended method
    shares: Mapping[str, float]  # mobile / edge / cloud shares of the test samples
    n_samples: int
    frontier: pd.DataFrame  # method, mean_cost, accuracy (0-1): each method's sweep
    point: tuple[float, float] | None = None  # the answer: (mean cost, accuracy 0-1)
    point_label: str = ""
    cost_axis: str = "mean cost per sample (layer-equivalents)"
    notes: Sequence[str] = field(default_factory=tuple)


def _wrap(text: str, width: int = 95) -> str:
    """Plain text in lines of ``width``; '$' escaped (matplotlib reads $...$ as maths)."""
    return "\n".join(textwrap.wrap(_plain(text), width))


def _plain(text: str) -> str:
    return str(text).replace("$", r"\$")


def _flow(ax, shares: Mapping[str, float], n_samples: int) -> None:
    """All samples start on the phone (left) and end on one tier (right): bands whose
    width is each tier's share, drawn as smooth S-curves."""
    gap, x0, x1 = 0.04, 0.12, 0.78
    tiers = [t for t in ("mobile", "edge", "cloud") if shares.get(t, 0) > 1e-9]
    total = 1 + gap * (len(tiers) - 1)
    ax.add_patch(_rect(0.0, 0.0, x0, 1.0, "#9467bd"))
    ax.text(x0 / 2, 0.5, f"all {n_samples:,}\non the\nphone", ha="center",
            va="center", color="white", fontsize=8, fontweight="bold")
    left, right = 0.0, 0.0
    t = np.linspace(0, 1, 50)
    s = (1 - np.cos(np.pi * t)) / 2  # smooth step
    xs = x0 + (x1 - x0) * t
    for tier in tiers:
        h = shares[tier]
        lo = left + (right - left) * s
        ax.fill_between(xs, lo, lo + h, color=TIER_COLOURS[tier], alpha=0.35, lw=0)
        ax.add_patch(_rect(x1, right, 0.04, h, TIER_COLOURS[tier]))
        ax.text(x1 + 0.06, right + h / 2, f"answered {WHERE[tier]}: {100 * h:.1f} %",
                va="center", fontsize=8)
        left += h
        right += h + gap
    ax.set_xlim(0, 1.25)
    ax.set_ylim(total + 0.02, -0.02)
    ax.axis("off")


def _rect(x: float, y: float, w: float, h: float, colour: str):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, color=colour, lw=0)


def figure(page: OnePage):
    """The page as a matplotlib Figure (A4 portrait)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4)
    line = 0.0145  # one 9-pt line, in figure heights
    y = 0.965
    fig.text(0.06, y, _plain(page.title), fontsize=15, fontweight="bold", va="top")
    y -= 0.025
    for head, body, size in ((None, page.subtitle, 8), ("The answer", page.answer, 9),
                             ("Its guarantee", page.guarantee, 9)):
        if head:
            y -= 0.012
            fig.text(0.06, y, head, fontsize=11, fontweight="bold", va="top")
            y -= 0.022
        body = _wrap(body, 110 if size == 8 else 95)
        fig.text(0.06, y, body, fontsize=size, va="top", color="#444" if size == 8 else None)
        y -= line * (body.count("\n") + 1) + 0.006
    y -= 0.012
    for i, (label, value) in enumerate(page.kpis[:4]):
        x = 0.06 + i * 0.225
        fig.text(x, y, _plain(label), fontsize=8, color="#444", va="top")
        fig.text(x, y - 0.02, _plain(value), fontsize=14, va="top")
    y = min(y - 0.07, 0.655)
    fig.text(0.06, y, "Where the samples go", fontsize=11, fontweight="bold", va="top")
    _flow(fig.add_axes([0.06, y - 0.19, 0.88, 0.165]), page.shares, page.n_samples)
    y -= 0.215
    fig.text(0.06, y, "Accuracy against cost", fontsize=11, fontweight="bold", va="top")
    ax = fig.add_axes([0.11, 0.13, 0.83, y - 0.16])
    for method, part in page.frontier.groupby("method", sort=False):
        part = part.sort_values(["mean_cost", "accuracy"])
        ax.plot(part["mean_cost"], 100 * part["accuracy"], marker="o", ms=3, lw=1.5,
                color=LINE_COLOURS.get(method, "#7f7f7f"),
                label=_plain(f"{LINE_NAMES.get(method, method)} (knob swept)"))
    if page.point is not None:
        ax.plot([page.point[0]], [100 * page.point[1]], marker="*", ms=16, color="#d62728",
                ls="none", label=_plain(page.point_label or "the answer"))
    ax.set_xlabel(_plain(page.cost_axis) + "  ← cheaper", fontsize=8)
    ax.set_ylabel("test accuracy (%)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    y = 0.075
    for note in page.notes:
        note = _wrap(note, 125)
        fig.text(0.06, y, note, fontsize=7, color="#444", va="top")
        y -= 0.012 * (note.count("\n") + 1) + 0.004
    return fig


def render(page: OnePage, fmt: str = "pdf", dpi: int = 150) -> bytes:
    """PDF or PNG bytes of the page."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    buf = io.BytesIO()
    figure(page).savefig(buf, format=fmt, dpi=dpi)
    return buf.getvalue()
