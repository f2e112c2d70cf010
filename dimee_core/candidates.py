"""Every candidate setting the selection may recommend, fitted and solved on the fit part
of calibration and routed on both parts (the held-out part's paired losses are what
``selection`` tests). The cost columns (``fit_cost``, ``reduction_pct``) are computed in
one place, ``evaluate_candidates.add``.
"""

from __future__ import annotations

import copy
import functools
import itertools
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from . import baselines
from .cache import Split
from .config import DIMEEConfig
from .features import correct_matrix
from .profiles import sample_lengths
from .pvalues import bet_prior
from .router import Routing, from_config
from .splits import fit_part
from .stats import GATE_GRID

METHODS = ("dimee", "dimee_plus", "cascade")
FIT_FRACTION = 0.3  # the rest certifies: the test's power grows with it


@functools.lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    """Inspecting the loaded BLAS / OpenMP libraries takes ~20 ms: do it once."""
    return ThreadpoolController()


class SelectionError(ValueError):
    """A selection request that cannot be met as asked (bad target, too little data)."""


# ---------------------------------------------------------------- paired losses

def paired_loss(split: Split, exit_layer: np.ndarray) -> np.ndarray:
    """Per sample: final exit correct minus routed exit correct (1, 0 or -1), int8."""
    corr = correct_matrix(split.probs, split.labels)
    return (corr[:, -1].astype(np.int8) - corr[np.arange(split.n), exit_layer - 1])


def drop_and_se(d: np.ndarray) -> tuple[float, float]:
    """Mean paired loss (pp) and its standard error: sample sd / sqrt(N) (pp)."""
    d = np.asarray(d, dtype=np.float64)
    if d.size < 2:
        return float(100 * d.mean()) if d.size else 0.0, float("inf")
    return float(100 * d.mean()), float(100 * d.std(ddof=1) / np.sqrt(d.size))


# ---------------------------------------------------------------- the candidate grid

@dataclass(frozen=True)
class Grid:
    """Every setting the selection may recommend."""

    split_points: tuple[tuple[int, int], ...] | None = None  # None: every 1 <= m < n < L
    ks: tuple[int, ...] = (1, 4, 12)
    features: tuple[str, ...] = ("conf", "signals+embed")
    epsilons: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
    safeties: tuple[float, ...] = (0.0, 1.0)
    mus: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0)  # DIMEE's reward policy
    alphas: tuple[float, ...] = tuple(float(a) for a in GATE_GRID)  # the cascade
    methods: tuple[str, ...] = METHODS

    def pairs(self, num_layers: int) -> list[tuple[int, int]]:
        every = [(m, n) for m in range(1, num_layers - 1) for n in range(m + 1, num_layers)]
        if self.split_points is None:
            return every
        bad = [p for p in self.split_points if p not in every]
        if bad:
            raise SelectionError(f"split points {bad} need 1 <= m < n < L={num_layers}")
        return list(self.split_points)

    def size(self, num_layers: int) -> int:
        """Number of candidates (before k values too large for the data are dropped)."""
        fits = sum(1 for k, f in itertools.product(self.ks, self.features)
                   if not (k == 1 and f != self.features[0]))
        solves = len(self.epsilons) * len(self.safeties)
        per_n = fits * (("dimee" in self.methods) * (solves + len(self.mus) + 1)
                        + ("dimee_plus" in self.methods) * solves)
        per_n += ("cascade" in self.methods) * len(self.alphas)
        return len(self.pairs(num_layers)) * per_n


SETTING_COLUMNS = ("method", "m", "n", "k", "features", "policy", "epsilon", "mu", "safety",
                   "alpha", "beta")


@dataclass
class Candidates:
    """Every candidate solved on the fit part and routed on both parts of calibration.

    ``table`` has one row per candidate (its setting and numbers); ``D`` holds its
    held-out paired losses ([rows, n_held_out] int8). Routers (fitted on the fit part,
    one per (m, k, features)) stay here so that any row can be applied to new samples."""

    base: DIMEEConfig
    fit_fraction: float
    num_layers: int
    n_fit: int
    n_held_out: int
    table: pd.DataFrame
    D: np.ndarray
    routers: dict = field(repr=False)
    seconds: float = 0.0
    walks: dict = field(default_factory=dict, repr=False)  # certified prefixes, memoised
    # [rows, n_fit + n_held_out]: each candidate's tier and hand-over per calibration
    # sample (fit part first) and the samples' token counts: its cost in any unit
    tiers: np.ndarray | None = field(default=None, repr=False)
    escalated: np.ndarray | None = field(default=None, repr=False)
    lengths: np.ndarray | None = field(default=None, repr=False)

    def prior(self, rows) -> np.ndarray:
        """The first bets' pseudo-counts of these rows, from their fit-part losses."""
        t = self.table
        return bet_prior(t["fit_plus"].to_numpy()[rows], t["fit_minus"].to_numpy()[rows],
                         self.n_fit)

    def config(self, i: int) -> DIMEEConfig:
        r = self.table.iloc[i]
        if r.method == "cascade":  # only its split points and alpha mean anything
            return replace(self.base, m=int(r.m), n=int(r.n), alpha=float(r.alpha))
        return replace(self.base, m=int(r.m), n=int(r.n), k=int(r.k), features=r.features,
                       policy=r.policy, epsilon=float(r.epsilon), mu=float(r.mu),
                       safety=float(r.safety), alpha=float(r.alpha),
                       fit_fraction=self.fit_fraction)

    def routing(self, i: int, split: Split) -> Routing:
        """Row ``i``'s rule (fitted on the fit part) applied to ``split``."""
        r, cfg = self.table.iloc[i], self.config(i)
        if r.method == "cascade":
            return baselines.cascade(split.probs, cfg.alpha, cfg.m, cfg.n, cfg.costs)
        router = copy.deepcopy(self.routers[(cfg.m, cfg.k, cfg.features)])
        router.set_params(n=cfg.n, policy=cfg.policy, epsilon=cfg.epsilon, mu=cfg.mu,
                          safety=cfg.safety, escalate=r.method == "dimee_plus")
        return router.solve().route(split)


def _fits(grid: Grid, n_fit: int) -> list[tuple[int, str]]:
    return [(k, f) for k, f in itertools.product(grid.ks, grid.features)
            if 1 <= k <= n_fit // 2 and not (k == 1 and f != grid.features[0])]


def evaluate_candidates(calibration: Split, base: DIMEEConfig, grid: Grid = Grid(),
                        fit_fraction: float = FIT_FRACTION) -> Candidates:
    """Fit, solve and route every candidate of ``grid`` (costs, alpha of the pools and the
    seed come from ``base``). The fit part is a seeded stratified share of calibration;
    the rest is only routed, to test the candidates later."""
    import time

    start = time.perf_counter()
    L = calibration.probs.shape[1]
    fit_idx, held_idx = fit_part(calibration, fit_fraction, base.random_state)
    A, B = calibration.take(fit_idx), calibration.take(held_idx)
    if A.n < 2 or B.n < 2:
        raise SelectionError(f"calibration split of {calibration.n} samples is too small to "
                             f"fit on one part and certify on the other")
    corr_a, corr_b = correct_matrix(A.probs, A.labels), correct_matrix(B.probs, B.labels)
    true_a = A.probs[np.arange(A.n), :, A.labels].astype(np.float64)  # [n, L] P(true label)
    differs_a = A.probs.argmax(2) != A.probs[:, -1:].argmax(2)  # [n, L] answer != cloud's
    ref = base.costs.reference_cost(L)
    rows, losses, routers, tiers, escalated = [], [], {}, [], []

    def add(setting: dict, route_a: Routing, route_b: Routing) -> None:
        d_a = corr_a[:, -1].astype(np.int8) - corr_a[np.arange(A.n), route_a.exit_layer - 1]
        drop, se = drop_and_se(d_a)
        smooth = true_a[:, -1] - true_a[np.arange(A.n), route_a.exit_layer - 1]
        # the one place a candidate's cost is read: fit part (path order) and whole split
        cost = (route_a.cost.sum() + route_b.cost.sum()) / (A.n + B.n)
        rows.append({**setting, "fit_drop_pp": drop, "fit_se_pp": se,
                     "fit_risk_pp": 100 * float(smooth.mean()),
                     "fit_differ": float(differs_a[np.arange(A.n), route_a.exit_layer - 1].mean()),
                     "fit_plus": int((d_a == 1).sum()), "fit_minus": int((d_a == -1).sum()),
                     "fit_cost": float(route_a.cost.mean()),
                     "reduction_pct": 100 * (1 - cost / ref)})
        losses.append(corr_b[:, -1].astype(np.int8)
                      - corr_b[np.arange(B.n), route_b.exit_layer - 1])
        # where each calibration sample went: its cost in any unit follows (objective.py)
        tiers.append(np.concatenate([route_a.tier, route_b.tier]).astype(np.int8))
        escalated.append(np.concatenate([_escalated(route_a), _escalated(route_b)]))

    pairs = grid.pairs(L)
    plain = {"policy": "budget", "epsilon": 0.0, "mu": 0.0, "safety": 0.0,
             "alpha": base.alpha, "beta": np.nan, "k": 1, "features": ""}
    with _threadpools().limit(limits=1):  # k-means on ~1 k rows: threads only add overhead
        for m in sorted({m for m, _ in pairs}):
            ns = [n for mm, n in pairs if mm == m]
            for k, feats in _fits(grid, A.n) if {"dimee", "dimee_plus"} & set(grid.methods) else []:
                cfg = replace(base, m=m, n=ns[0], k=k, features=feats, fit_fraction=1.0)
                router = from_config(cfg).fit(A)
                routers[(m, k, feats)] = router
                cl_a, cl_b = router.labels_, router.predict_cluster(B)
                solves = [("dimee_plus", "budget", e, 0.0, s) for e in grid.epsilons
                          for s in grid.safeties] if "dimee_plus" in grid.methods else []
                if "dimee" in grid.methods:
                    solves += [("dimee", "budget", e, 0.0, s) for e in grid.epsilons
                               for s in grid.safeties]
                    solves += [("dimee", "reward", 0.0, u, 0.0) for u in grid.mus]
                    solves += [("dimee", "pools", 0.0, 0.0, 0.0)]
                for n in ns:
                    for method, policy, eps, mu, safety in solves:
                        # plain attributes: set_params' signature checks cost more
                        # than the solve itself here
                        router.n, router.policy, router.epsilon = n, policy, eps
                        router.mu, router.safety = mu, safety
                        router.escalate = method == "dimee_plus"
                        router.solve()
                        beta = router.beta_ if router.beta_ is not None else np.nan
                        add({**plain, "method": method, "m": m, "n": n, "k": k,
                             "features": feats, "policy": policy, "epsilon": eps, "mu": mu,
                             "safety": safety, "beta": beta},
                            router.route(A, cl_a), router.route(B, cl_b))
            if "cascade" in grid.methods:
                for n in ns:
                    for a in grid.alphas:
                        add({**plain, "method": "cascade", "m": m, "n": n, "alpha": float(a)},
                            baselines.cascade(A.probs, a, m, n, base.costs),
                            baselines.cascade(B.probs, a, m, n, base.costs))
    table = pd.DataFrame(rows, columns=[*SETTING_COLUMNS, "fit_drop_pp", "fit_se_pp",
                                        "fit_risk_pp", "fit_differ", "fit_plus", "fit_minus", "fit_cost", "reduction_pct"])
    D = np.stack(losses) if losses else np.zeros((0, B.n), np.int8)
    N = A.n + B.n
    return Candidates(base, fit_fraction, L, A.n, B.n, table, D, routers,
                      time.perf_counter() - start,
                      tiers=np.stack(tiers) if tiers else np.zeros((0, N), np.int8),
                      escalated=np.stack(escalated) if escalated else np.zeros((0, N), bool),
                      lengths=np.concatenate([sample_lengths(A.lengths, A.n),
                                              sample_lengths(B.lengths, B.n)]))


def _escalated(route: Routing) -> np.ndarray:
    return (np.zeros(len(route.tier), bool) if route.escalated is None
            else np.asarray(route.escalated, bool))


