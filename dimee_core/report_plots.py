"""The report's figures: frontiers per data set and the re-split evaluation (PNG,
written atomically)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from .config import SHORT_LABELS

TUNED, SWEEP = "calibration-tuned", "test sweep"  # where a frontier row comes from


def _save(fig, axes, path: Path) -> None:
    """Legend on the first panel, then an atomic PNG write."""
    import matplotlib.pyplot as plt

    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def plot_resplits(resplits: dict, path: Path) -> None:
    """Bars: mean re-split cost reduction per dataset, method and target; the violation
    rate written on each bar, delta as the line it must stay under."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(resplits["datasets"])
    targets = list(next(iter(resplits["datasets"].values()))) if names else []
    colours = {"dimee": "tab:blue", "dimee_plus": "tab:green", "cascade": "tab:orange"}
    fig, axes = plt.subplots(1, max(len(targets), 1), figsize=(6.2 * max(len(targets), 1), 4),
                             squeeze=False)
    width = 0.8 / len(colours)
    for ax, target in zip(axes[0], targets):
        for j, (m, colour) in enumerate(colours.items()):
            x = np.arange(len(names)) + (j - 1) * width
            vals = [resplits["datasets"][ds][target][m] for ds in names]
            ax.bar(x, [v["mean_cost_reduction_pct"] for v in vals], width, color=colour,
                   label=SHORT_LABELS[m])
            for xi, v in zip(x, vals):
                ax.text(xi, v["mean_cost_reduction_pct"] + 1, f"{v['violation_rate']:.2f}",
                        ha="center", fontsize=7, rotation=90)
        ax.set_xticks(np.arange(len(names)), names, fontsize=8)
        ax.set_ylabel("mean cost reduction on the scoring half (%)")
        ax.set_title(f"target ≤ {target} pp, δ = {resplits['delta']:g} "
                     f"(numbers: violation rate)", fontsize=10)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3, axis="y")
    _save(fig, axes, path)


def plot_frontiers(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["datasets"])
    cols = min(2, len(names))
    rows_n = -(-len(names) // cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(6.2 * cols, 4.4 * rows_n), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    style = {m: (SHORT_LABELS[m], colour) for m, colour in (
        ("dimee", "tab:blue"), ("dimee_plus", "tab:green"), ("cascade", "tab:orange"))}
    lines = {TUNED: ("o-", 1.4, "tuned on calibration per target"),
             SWEEP: ("--", 0.8, "knob swept on test")}
    for ax, ds in zip(axes.flat, names):
        rows = result["datasets"][ds]["frontier"]
        for (method, (label, colour)), (protocol, (fmt, lw, how)) in itertools.product(
                style.items(), lines.items()):
            pts = sorted({(r["reduction_pct"], r["drop_pp"]) for r in rows
                          if r["method"] == method and r["protocol"] == protocol})
            ax.plot([p[0] for p in pts], [p[1] for p in pts], fmt, ms=3, lw=lw,
                    label=f"{label}, {how}", color=colour, alpha=1 if protocol == TUNED else 0.6)
        ax.axhline(0.3, ls=":", color="grey", lw=1)
        ax.axvline(43, ls=":", color="grey", lw=1)
        ax.set_title(result["datasets"][ds]["title"][:60], fontsize=10)
        ax.set_xlabel("test cost reduction vs all-in-cloud (%)")
        ax.set_ylabel("test accuracy drop (pp)")
        ax.set_ylim(-1.5, 6)
        ax.set_xlim(0, 85)
        ax.grid(alpha=0.3)
    _save(fig, axes, path)
