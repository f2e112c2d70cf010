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
from .stats import GATE_GRID

K_GRID = (1, 2, 4, 6, 8, 12, 16)  # k = 1: DIMEE+ becomes a calibrated cascade
FEATURE_GRID = ("conf", "signals", "signals+embed")
SAFETY_GRID = (0.0, 0.5, 1.0, 2.0)
EPSILON_GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0)  # solver budgets, pp
CONFIDENCE_Z = 1.645  # one-sided 95 % bound on the out-of-fold drop
ALPHA_GRID = GATE_GRID  # the cascade's thresholds are DIMEE+'s phone gates


@dataclass(frozen=True)
class Candidate:
    config: DIMEEConfig  # epsilon = the solver budget it was solved with
    escalate: bool
    oof_drop_pp: float  # out-of-fold accuracy drop vs the final exit
    oof_cost: float  # out-of-fold mean cost per sample
    oof_se_pp: float = 0.0  # standard error of oof_drop_pp (paired, per-sample)

    def upperdrop_vs_final(self, z: float) -> float:
        return self.oof_drop_pp + z * self.oof_se_pp

    def feasible(self, target_pp: float, z: float = 0.0) -> bool:
        return self.upperdrop_vs_final(z) <= target_pp + 1e-9


def paired_drop(split: Split, exit_layer: np.ndarray) -> np.ndarray:
    """Per sample: final exit correct minus routed exit correct (1, 0 or -1)."""
    corr = correct_matrix(split.probs, split.labels)
    return corr[:, -1].astype(float) - corr[np.arange(split.n), exit_layer - 1]


def drop_vs_final(split: Split, exit_layer: np.ndarray) -> tuple[float, float]:
    """Accuracy drop vs the final exit (pp) and its standard error from the paired
    per-sample differences."""
    diff = paired_drop(split, exit_layer)
    return float(100 * diff.mean()), float(100 * diff.std(ddof=1) / np.sqrt(split.n))


def cross_validate(cal: Split, base: DIMEEConfig, epsilon_grid=EPSILON_GRID,
                   escalate=(False, True), k_grid=K_GRID, feature_grid=FEATURE_GRID,
                   safety_grid=SAFETY_GRID, folds: int = 5) -> list[Candidate]:
    """Out-of-fold drop and cost of every (features, k, epsilon, safety, escalate) with
    the budget policy. One k-means fit per (features, k, fold) serves every epsilon /
    safety / escalate combination, since those only re-solve."""
    kf = KFold(folds, shuffle=True, random_state=base.random_state)
    splits = list(kf.split(np.arange(cal.n)))
    solve_grid = list(itertools.product(epsilon_grid, safety_grid, escalate))
    out = []
    for feats, k in itertools.product(feature_grid, k_grid):
        if k > 0.5 * cal.n / folds or (k == 1 and feats != feature_grid[0]):
            continue  # too few samples per cluster; k = 1 is the same for every feature set
        exits = {g: np.zeros(cal.n, dtype=int) for g in solve_grid}
        costs = {g: np.zeros(cal.n) for g in solve_grid}
        cfg = replace(base, k=k, features=feats, policy="budget")
        for train_idx, held_idx in splits:
            router = cfg.router(escalate=True).fit(cal.take(train_idx))
            held = cal.take(held_idx)
            held_clusters = router.predict_cluster(held)  # fixed across re-solves
            for g in solve_grid:
                eps, z, esc = g
                r = router.set_params(epsilon=eps, safety=z, escalate=esc).solve()
                route = r.route(held, held_clusters)
                exits[g][held_idx], costs[g][held_idx] = route.exit_layer, route.cost
        for g in solve_grid:
            eps, z, esc = g
            drop, se = drop_vs_final(cal, exits[g])
            out.append(Candidate(replace(cfg, epsilon=eps, safety=z), esc, drop,
                                 float(costs[g].mean()), se))
    return out


def select(candidates: list[Candidate], target_pp: float, escalate: bool,
           z: float = CONFIDENCE_Z) -> Candidate:
    """Cheapest candidate whose out-of-fold drop is within the target with confidence:
    ``oof_drop + z * se <= target`` (z = 1.645: one-sided 95 %). Without one, the
    candidate with the lowest upper bound.

    Ties within 0.5 % of the cost go to the smaller k (simpler, less to overfit)."""
    candidates = [c for c in candidates if c.escalate == escalate]
    if not candidates:
        raise ValueError(f"no candidate with escalate={escalate}")
    ok = [c for c in candidates if c.feasible(target_pp, z)]
    if not ok:
        return min(candidates, key=lambda c: (c.upperdrop_vs_final(z), c.oof_cost))
    best = min(c.oof_cost for c in ok)
    near = [c for c in ok if c.oof_cost <= best * 1.005]
    return min(near, key=lambda c: (c.config.k, c.config.safety, c.oof_cost))


def tune_cascade_alpha(cal: Split, base: DIMEEConfig, target_pp: float,
                       grid=ALPHA_GRID, z: float = CONFIDENCE_Z) -> float:
    """The cheapest cascade threshold whose calibration drop is within the target with
    the same confidence rule as DIMEE (drop + z * se <= target)."""
    best_alpha, best_cost = max(grid), np.inf
    for a in grid:
        r = cascade(cal.probs, float(a), base.m, base.n, base.costs)
        drop, se = drop_vs_final(cal, r.exit_layer)
        if drop + z * se <= target_pp + 1e-9 and r.cost.mean() < best_cost:
            best_alpha, best_cost = float(a), float(r.cost.mean())
    return best_alpha
