"""Test-split metrics of a routing, relative to all-in-cloud, with paired bootstrap CIs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .costs import TIERS


@dataclass(frozen=True)
class MethodResult:
    accuracy: float
    macro_f1: float
    mean_cost: float
    cost_reduction_pct: float
    accuracy_drop_pp: float
    tier_shares: dict[str, float]
    drop_ci95: tuple[float, float] | None = None
    reduction_ci95: tuple[float, float] | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("drop_ci95", "reduction_ci95"):
            if d[key] is not None:
                d[key] = list(d[key])
        return d


def tier_shares(tier: np.ndarray) -> dict[str, float]:
    counts = np.bincount(tier, minlength=3)[:3]
    return {name: float(c / max(len(tier), 1)) for name, c in zip(TIERS, counts)}


def macro_f1(labels: np.ndarray, pred: np.ndarray) -> float:
    """Macro-averaged F1 over the classes present in ``labels`` or ``pred`` (F1 of a class
    = 2 TP / (true + predicted); 0 where it has no true positive), as scikit-learn's
    ``f1_score(average="macro", zero_division=0)`` computes it, in O(N) numpy: its
    validation took half of each KPI update."""
    classes, idx = np.unique(np.concatenate([labels, pred]), return_inverse=True)
    true, guess = idx[:len(labels)], idx[len(labels):]
    k = len(classes)
    tp = np.bincount(true[true == guess], minlength=k)
    both = np.bincount(true, minlength=k) + np.bincount(guess, minlength=k)
    return float(np.mean(2 * tp / np.maximum(both, 1))) if k else 0.0


def bootstrap_ci(correct: np.ndarray, cost: np.ndarray, ref_correct: np.ndarray,
                 ref_cost: float, n_boot: int = 1000, random_state: int = 0,
                 chunk: int = 250) -> tuple[tuple[float, float], tuple[float, float]]:
    """95 % percentile intervals of (accuracy drop pp, cost reduction %), paired resampling:
    the method and all-in-cloud are scored on the same resampled test samples."""
    rng = np.random.default_rng(random_state)
    N = len(correct)
    diff = ref_correct.astype(np.float64) - correct
    drops, reds = [], []
    for start in range(0, n_boot, chunk):  # chunks bound memory for large N
        idx = rng.integers(0, N, (min(chunk, n_boot - start), N))
        drops.append(100 * diff[idx].mean(1))
        reds.append(100 * (1 - cost[idx].mean(1) / ref_cost))
    drops, reds = np.concatenate(drops), np.concatenate(reds)
    q = lambda a: (float(np.percentile(a, 2.5)), float(np.percentile(a, 97.5)))
    return q(drops), q(reds)


def score(pred: np.ndarray, labels: np.ndarray, cost: np.ndarray, tier: np.ndarray,
          ref_correct: np.ndarray, ref_cost: float, n_boot: int = 0,
          random_state: int = 0) -> MethodResult:
    correct = pred == labels
    acc, ref_acc = float(correct.mean()), float(ref_correct.mean())
    mean_cost = float(cost.mean())
    cis = (bootstrap_ci(correct, cost, ref_correct, ref_cost, n_boot, random_state)
           if n_boot > 0 else (None, None))
    return MethodResult(
        accuracy=acc,
        macro_f1=macro_f1(labels, pred),
        mean_cost=mean_cost,
        cost_reduction_pct=100 * (1 - mean_cost / ref_cost),
        accuracy_drop_pp=100 * (ref_acc - acc),
        tier_shares=tier_shares(tier),
        drop_ci95=cis[0], reduction_ci95=cis[1])
