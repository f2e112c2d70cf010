"""Choose DIMEE's settings on the calibration split only (cross-validation inside it).

Nothing here reads the test split: the router is fitted on K-1 calibration folds,
routes the held-out fold, and the out-of-fold accuracy drop and cost decide.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
from sklearn.model_selection import KFold

from .baselines import cascade
from .cache import Split
from .evaluate import DIMEEConfig
from .features import correct_matrix

K_GRID = (2, 3, 4, 6, 8, 12, 16)
FEATURE_GRID = ("conf", "signals", "signals+embed")
SAFETY_GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
ALPHA_GRID = tuple(np.round(np.concatenate([np.linspace(0.5, 0.95, 19),
                                            [0.96, 0.97, 0.98, 0.99, 0.995, 0.999, 1.01]]), 4))


@dataclass(frozen=True)
class Candidate:
    config: DIMEEConfig
    escalate: bool
    oof_drop_pp: float  # out-of-fold accuracy drop vs the final exit
    oof_cost: float  # out-of-fold mean cost per sample

    def feasible(self, target_pp: float) -> bool:
        return self.oof_drop_pp <= target_pp + 1e-9


def _drop_pp(split: Split, exit_layer: np.ndarray) -> float:
    corr = correct_matrix(split.probs, split.labels)
    got = corr[np.arange(split.n), exit_layer - 1]
    return float(100 * (corr[:, -1].mean() - got.mean()))


def cross_validate(cal: Split, base: DIMEEConfig, target_pp: float, escalate: bool,
                   k_grid=K_GRID, feature_grid=FEATURE_GRID, safety_grid=SAFETY_GRID,
                   folds: int = 5) -> list[Candidate]:
    """Out-of-fold drop and cost of every (features, k, safety) with epsilon = target."""
    kf = KFold(folds, shuffle=True, random_state=base.random_state)
    splits = list(kf.split(np.arange(cal.n)))
    out = []
    for feats, k in itertools.product(feature_grid, k_grid):
        if k > 0.5 * cal.n / folds:
            continue
        exits = {z: np.zeros(cal.n, dtype=int) for z in safety_grid}
        costs = {z: np.zeros(cal.n) for z in safety_grid}
        for train_idx, held_idx in splits:
            cfg = replace(base, k=k, features=feats, epsilon=target_pp, policy="budget")
            router = cfg.router(escalate=escalate).fit(cal.take(train_idx))
            held = cal.take(held_idx)
            for z in safety_grid:  # a safety change only re-solves
                r = router.set_params(safety=z).solve().route(held)
                exits[z][held_idx], costs[z][held_idx] = r.exit_layer, r.cost
        for z in safety_grid:
            cfg = replace(base, k=k, features=feats, epsilon=target_pp, policy="budget",
                          safety=z)
            out.append(Candidate(cfg, escalate, _drop_pp(cal, exits[z]),
                                 float(costs[z].mean())))
    return out


def select(candidates: list[Candidate], target_pp: float) -> Candidate:
    """Cheapest out-of-fold candidate within the target; else the one that drops least.

    Ties within 0.5 % of the cost go to the smaller k (simpler, less to overfit)."""
    ok = [c for c in candidates if c.feasible(target_pp)]
    if not ok:
        return min(candidates, key=lambda c: (c.oof_drop_pp, c.oof_cost))
    best = min(c.oof_cost for c in ok)
    near = [c for c in ok if c.oof_cost <= best * 1.005]
    return min(near, key=lambda c: (c.config.k, c.config.safety, c.oof_cost))


def tune_cascade_alpha(cal: Split, base: DIMEEConfig, target_pp: float,
                       grid=ALPHA_GRID) -> float:
    """The cheapest cascade threshold whose calibration drop stays within the target."""
    best_alpha, best_cost = max(grid), np.inf
    for a in grid:
        r = cascade(cal.probs, float(a), base.m, base.n, base.costs)
        if _drop_pp(cal, r.exit_layer) <= target_pp + 1e-9 and r.cost.mean() < best_cost:
            best_alpha, best_cost = float(a), float(r.cost.mean())
    return best_alpha
