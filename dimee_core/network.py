"""Every split (m, n) and cluster count k for one device-and-network profile.

A sweep, not a recommendation: for each (m, n, k), DIMEE minimises the chosen unit
within the accuracy budget epsilon (and the latency SLA, if any) on the calibration
split, and this table reports that calibration routing's figures. Cells are compared on
calibration only; the test split is scored for the cell a caller picks, never to pick it.
(Recommendations with a statistical guarantee live in the selection module.)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
import pandas as pd

from .cache import Cache
from .costs import moments
from .config import DIMEEConfig
from .evaluate import Evaluation, evaluate, fit_routers, resolve, unit_results
from .features import correct_matrix
from .profiles import UnitSummary, route_polynomials


def split_grid(cache: Cache, config: DIMEEConfig, ks: Sequence[int]) -> pd.DataFrame:
    """One row per (m, n, k): the calibration mean of ``config.objective``, p95 latency,
    accuracy drop vs the final exit, and whether the SLA could be met at all. ``cache``
    needs token counts (``tokens.with_lengths``); ``config`` a profile."""
    if config.profile is None:
        raise ValueError("the split sweep needs a device-and-network profile")
    cal, L = cache.calibration, cache.num_layers
    corr = correct_matrix(cal.probs, cal.labels)
    phi = moments(cal.lengths)
    rows = []
    for m in range(1, L - 1):
        for k in sorted({min(int(k), cal.n) for k in ks}):
            cfg = replace(config, m=m, n=m + 1, k=k)
            dimee, _ = fit_routers(cache, replace(cfg, latency_sla_ms=None))
            clusters = dimee.predict_cluster(cal)  # the fit may use part of calibration
            for n in range(m + 1, L):
                row = {"m": m, "n": n, "k": k}
                try:
                    resolve(dimee, replace(cfg, n=n))
                except ValueError as exc:  # an SLA no routing can meet
                    rows.append({**row, "feasible": False, "why": str(exc)})
                    continue
                r = dimee.route(cal, clusters)
                lat = route_polynomials(config.profile, "latency_ms", m, n, L,
                                        config.costs.mode, config.hidden_size)
                latency = lat.on_moments(r.tier, r.escalated, phi)
                answered = corr[np.arange(cal.n), r.exit_layer - 1]
                rows.append({**row, "feasible": True, "why": "",
                             "objective": float(r.cost.mean()),
                             "p95_ms": float(np.percentile(latency, 95)),
                             "drop_pp": 100 * float(corr[:, -1].mean() - answered.mean()),
                             "kept_budget": dimee.sla_kept_budget_ in (None, True)})
    return pd.DataFrame(rows)


def cheapest(grid: pd.DataFrame) -> pd.Series | None:
    """The feasible cell with the lowest calibration objective that kept the accuracy
    budget (ties: smaller m, n, k); None when there is none."""
    if "kept_budget" not in grid:  # empty, or no cell could meet the SLA at all
        return None
    ok = grid[grid["feasible"] & grid["kept_budget"].fillna(False).astype(bool)]
    if ok.empty:
        return None
    return ok.sort_values(["objective", "m", "n", "k"]).iloc[0]


def best_split(cache: Cache, config: DIMEEConfig, ks: Sequence[int], n_boot: int
               ) -> tuple[pd.DataFrame,
                          tuple[DIMEEConfig, Evaluation, dict[str, UnitSummary]] | None]:
    """The sweep, and its calibration-cheapest cell's test evaluation with every method
    in ``config.profile``'s units (None when no cell qualifies). The test split only
    reports the picked cell: it never picks it. ``cache`` needs token counts."""
    grid = split_grid(cache, config, ks)
    best = cheapest(grid)
    if best is None:
        return grid, None
    picked = replace(config, m=int(best["m"]), n=int(best["n"]), k=int(best["k"]))
    ev = evaluate(cache, picked, n_boot=n_boot)
    return grid, (picked, ev, unit_results(ev, config.profile, cache.test.lengths,
                                           config.hidden_size))
