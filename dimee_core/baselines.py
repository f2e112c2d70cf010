"""Baselines on the same cache and cost model, each returning a :class:`Routing`."""

from __future__ import annotations

import numpy as np

from .costs import CostModel
from .features import confidences, correct_matrix, reaches
from .router import CLOUD, EDGE, MOBILE, Routing


def fixed_tier(n_samples: int, tier: int, m: int, n: int, L: int,
               costs: CostModel) -> Routing:
    """Every sample answered on one tier (mobile-only, edge-only)."""
    t = costs.tier_costs(m, n, L)
    tiers = np.full(n_samples, tier)
    return Routing(tiers, np.array([m, n, L])[tiers], np.full(n_samples, t[tier]))


def all_in_cloud(n_samples: int, L: int, costs: CostModel) -> Routing:
    """The reference: raw input straight to the cloud, final exit answers."""
    return Routing(np.full(n_samples, CLOUD), np.full(n_samples, L),
                   np.full(n_samples, costs.reference_cost(L)))


def random_routing(n_samples: int, shares: np.ndarray, m: int, n: int, L: int,
                   costs: CostModel, random_state: int) -> Routing:
    """Tiers drawn at random with given shares (DIMEE's), exactly matching the counts."""
    rng = np.random.default_rng(random_state)
    counts = np.floor(np.asarray(shares) * n_samples).astype(int)
    counts[np.argmax(shares)] += n_samples - counts.sum()
    tiers = rng.permutation(np.repeat(np.arange(3), counts))
    t = costs.tier_costs(m, n, L)
    return Routing(tiers, np.array([m, n, L])[tiers], t[tiers])


def cascade(probs: np.ndarray, alpha: float, m: int, n: int, costs: CostModel) -> Routing:
    """Exit on mobile if c_m >= alpha, else on edge if c_n >= alpha, else go on to cloud."""
    L = probs.shape[1]
    conf = confidences(probs)
    tiers = np.where(reaches(conf[:, m - 1], alpha), MOBILE,
                     np.where(reaches(conf[:, n - 1], alpha), EDGE, CLOUD))
    c = costs.cascade_costs(m, n, L)
    return Routing(tiers, np.array([m, n, L])[tiers], c[tiers], escalated=tiers == CLOUD)


def oracle(probs: np.ndarray, labels: np.ndarray, m: int, n: int,
           costs: CostModel) -> Routing:
    """The cheapest tier that answers correctly (mobile when none does): a bound."""
    L = probs.shape[1]
    corr = correct_matrix(probs, labels)[:, [m - 1, n - 1, L - 1]]
    t = costs.tier_costs(m, n, L)
    order = np.argsort(t, kind="stable")  # cheapest first, whatever the costs
    ok = corr[:, order]
    first = np.where(ok.any(1), order[ok.argmax(1)], order[0])
    return Routing(first, np.array([m, n, L])[first], t[first])
