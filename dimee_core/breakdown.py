"""Which classes each tier gets wrong: a per-class × per-tier error breakdown of one
routing (what the What-If Tool calls a confusion breakdown by slice)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .costs import TIERS
from .router import Routing


def class_tier_errors(labels: np.ndarray, probs: np.ndarray, routing: Routing,
                      label_names: Sequence[str]) -> pd.DataFrame:
    """One row per (tier, true class) that the routing sends samples of: how many it
    answered there, how many wrongly, the error rate, and the wrong answer it gave most
    often (with its count; ties: the first class). Tiers and classes in their order."""
    pred = routing.predictions(probs)
    rows = []
    for t, tier in enumerate(TIERS):
        for c, name in enumerate(label_names):
            mask = (routing.tier == t) & (labels == c)
            n = int(mask.sum())
            if n == 0:
                continue
            wrong = pred[mask][pred[mask] != c]
            counts = np.bincount(wrong, minlength=len(label_names))
            top = int(counts.argmax()) if len(wrong) else None
            rows.append({"tier": tier, "label": name, "answered": n, "wrong": len(wrong),
                         "error_rate": len(wrong) / n,
                         "mistaken_for": label_names[top] if top is not None else "",
                         "mistaken_count": int(counts[top]) if top is not None else 0})
    return pd.DataFrame(rows, columns=["tier", "label", "answered", "wrong", "error_rate",
                                       "mistaken_for", "mistaken_count"])
