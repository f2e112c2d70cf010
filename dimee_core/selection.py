"""The one place that recommends a setting, with a distribution-free guarantee.

Learn then Test (Angelopoulos, Bates, Candès, Jordan & Lei 2021) on the calibration split:

1. a seeded, stratified part of it (``fit_fraction``) fits every candidate: one k-means
   per (m, k, features) serves every n, policy, epsilon / mu, safety margin and both
   DIMEE and DIMEE+; the cascade is a candidate like any other;
2. the same part orders the candidates (least estimated risk first, then dearest);
3. the held-out rest tests "true accuracy drop > target" for each candidate in that order
   with a valid p-value, stopping at the first that cannot be rejected (fixed-sequence
   testing: no multiplicity penalty along a path fixed before the held-out part is seen);
4. the recommendation is the cheapest rejected candidate.

Guarantee: if calibration samples and future samples are exchangeable (i.i.d. from the
same population), P(true drop of the recommendation > target) <= delta, whatever the
grid, because the family-wise error of the whole path is at most delta.

p-values: the per-sample paired loss d = 1[cloud right] - 1[setting right] is -1, 0 or
1, and is 0 for most samples. A betting test martingale (Waudby-Smith & Ramdas 2023)
K_j = prod_i (1 + lambda_i (target - d_i)), with each lambda_i the Kelly bet for the
trinomial estimated from the samples before i, is a nonnegative supermartingale under
the null, so p = 1 / max_j K_j is valid (Ville's inequality) and adapts to the variance:
with no disagreement at all it needs about ln(1/delta) / target samples, where Hoeffding
on [-1, 1] needs 2 ln(1/delta) / target^2 (7 pp of slack at 1000 samples).
"""

from __future__ import annotations

import copy
import functools
import itertools
import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from . import baselines
from .cache import Split
from .config import DIMEEConfig
from .features import correct_matrix
from .router import Routing, from_config
from .splits import fit_part
from .stats import GATE_GRID

METHODS = ("dimee", "dimee_plus", "cascade")
# which candidates each recommendation may pick: DIMEE+ contains the cascade
FAMILIES = {"dimee": ("dimee",), "dimee_plus": ("dimee_plus", "cascade"),
            "cascade": ("cascade",), "any": METHODS}
DELTA = 0.1
FIT_FRACTION = 0.3  # the rest certifies: the test's power grows with it
LAMBDA_CAP = 0.99  # at most this share of the wealth a loss (d = 1) could take
PRIOR = (0.5, 1.0, 0.5)  # pseudo-counts of d = +1, 0, -1 for the first bets, by default
PRIOR_WEIGHT = 50.0  # the fit part's counts count as this many samples in the first bets
PSEUDO_PER_CLUSTER = {"dimee": 1.0, "dimee_plus": 3.0, "cascade": 0.0}  # path order only
_CHUNK = 256  # candidates per vectorised block of p-values (bounds memory)


@functools.lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    """Inspecting the loaded BLAS / OpenMP libraries takes ~20 ms: do it once."""
    return ThreadpoolController()


class SelectionError(ValueError):
    """A selection request that cannot be met as asked (bad target, too little data)."""


def check_request(target_pp: float, delta: float) -> None:
    if not isinstance(target_pp, (int, float)) or not math.isfinite(target_pp) or target_pp < 0:
        raise SelectionError(f"target accuracy drop must be a number >= 0 pp, got {target_pp!r}")
    if not isinstance(delta, (int, float)) or not 0.0 < delta < 1.0:
        raise SelectionError(f"delta (the allowed risk) must lie strictly between 0 and 1, "
                             f"got {delta!r}")


# ---------------------------------------------------------------- paired losses and p-values

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


def kelly_bet(p_plus: np.ndarray, p_zero: np.ndarray, p_minus: np.ndarray,
              t: float) -> np.ndarray:
    """The lambda in [0, LAMBDA_CAP / (1 - t)] maximising E log(1 + lambda (t - d)) for
    d in {1, 0, -1} with these probabilities (0 when the mean is not below t).

    Setting the derivative to zero and clearing the three denominators gives
    a lambda^2 + b lambda + c = 0; exactly one root lies in (0, 1 / (1 - t))."""
    x1, x0, x2 = t - 1.0, t, t + 1.0
    a = x0 * x1 * x2
    b = p_plus * x1 * (x0 + x2) + p_zero * x0 * (x1 + x2) + p_minus * x2 * (x1 + x0)
    c = t - (p_plus - p_minus)
    hi = 1.0 / (1.0 - t)
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))
        q = -0.5 * (b + np.where(b >= 0, sq, -sq))
        r1 = q / a if a != 0 else np.full_like(q, np.inf)
        r2 = c / q
        root = np.where((r1 > 0) & (r1 < hi), r1, r2)
    root = np.where(np.isfinite(root), root, 0.0)
    return np.where(c > 0, np.clip(root, 0.0, LAMBDA_CAP * hi), 0.0)


def bet_prior(n_plus: np.ndarray, n_minus: np.ndarray, n: int,
              weight: float = PRIOR_WEIGHT) -> np.ndarray:
    """[C, 3] pseudo-counts of d = +1, 0, -1 for the first bets: the fit part's counts
    (independent of the held-out samples, so validity is untouched), shrunk to ``weight``
    samples so that the held-out samples soon dominate the bet."""
    n_plus, n_minus = np.atleast_1d(n_plus).astype(float), np.atleast_1d(n_minus).astype(float)
    a_plus = weight * (n_plus + 0.5) / (n + 2.0)
    a_minus = weight * (n_minus + 0.5) / (n + 2.0)
    return np.stack([a_plus, weight - a_plus - a_minus, a_minus], 1)


def betting_log_wealth(D: np.ndarray, t: float, prior: np.ndarray | None = None) -> np.ndarray:
    """[C] max over time of log K_j for each row of D ([C, N] in {-1, 0, 1}), testing
    H0: mean >= t. The bet on sample i uses only the prior and the samples before i
    (predictable), so K is a nonnegative supermartingale under H0."""
    D = np.asarray(D, dtype=np.int8)
    C, N = D.shape
    prior = np.broadcast_to(np.asarray(PRIOR, float) if prior is None else prior, (C, 3))
    out = np.zeros(C)
    seen = np.arange(N, dtype=np.float64)[None, :]
    for s in range(0, C, _CHUNK):
        d, a = D[s:s + _CHUNK], prior[s:s + _CHUNK]
        before = lambda v: np.cumsum(d == v, axis=1, dtype=np.float64) - (d == v)
        total = seen + a.sum(1, keepdims=True)
        p_plus = (before(1) + a[:, :1]) / total
        p_minus = (before(-1) + a[:, 2:]) / total
        lam = kelly_bet(p_plus, 1.0 - p_plus - p_minus, p_minus, t)
        log_k = np.cumsum(np.log1p(lam * (t - d)), axis=1)
        out[s:s + _CHUNK] = np.maximum(log_k.max(axis=1), 0.0)
    return out


def p_values(D: np.ndarray, target_pp: float, random_state: int = 0,
             prior: np.ndarray | None = None) -> np.ndarray:
    """Valid p-values of H0 "mean paired loss >= target" for each row of D; the samples
    are taken in one seeded random order (the same for every row)."""
    D = np.atleast_2d(np.asarray(D, dtype=np.int8))
    order = np.random.default_rng(random_state).permutation(D.shape[1])
    return np.exp(-betting_log_wealth(D[:, order], target_pp / 100.0, prior))


def upper_bound_pp(d: np.ndarray, delta: float = DELTA, random_state: int = 0,
                   prior: np.ndarray | None = None) -> float:
    """The (1 - delta) upper confidence bound on one setting's mean paired loss (pp):
    the least u whose null "mean >= u" the same test rejects (bisection, rounded up to
    0.01 pp)."""
    lo, hi = -99.0, 99.0
    if p_values(d, hi, random_state, prior)[0] > delta:
        return hi
    for _ in range(40):
        mid = (lo + hi) / 2
        if p_values(d, mid, random_state, prior)[0] <= delta:
            hi = mid
        else:
            lo = mid
    return math.ceil(hi * 100 - 1e-9) / 100


def samples_needed(target_pp: float, delta: float = DELTA, limit: int = 10_000_000) -> int | None:
    """Held-out samples a setting that never disagrees with the cloud (on the fit part
    either) needs before the test can certify it (None: never, e.g. target 0). Any valid
    test needs at least ln(1/delta) / -ln(1 - target): 767 at 0.3 pp, delta 0.1."""
    t = target_pp / 100.0
    if t <= 0:
        return None
    a = bet_prior(0, 0, 1000)[0]
    n, log_k = 0, 0.0
    while n < limit:  # all d = 0: the bet grows as the zeros accumulate
        block = np.arange(n, n + 4096, dtype=np.float64) + a.sum()
        pp, pm = a[0] / block, a[2] / block
        lam = kelly_bet(pp, 1 - pp - pm, pm, t)
        cum = log_k + np.cumsum(np.log1p(lam * t))
        hit = np.flatnonzero(cum >= math.log(1 / delta))
        if hit.size:
            return n + int(hit[0]) + 1
        n, log_k = n + 4096, float(cum[-1])
    return None


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
    ref = base.costs.reference_cost(L)
    rows, losses, routers = [], [], {}

    def add(setting: dict, route_a: Routing, route_b: Routing) -> None:
        d_a = corr_a[:, -1].astype(np.int8) - corr_a[np.arange(A.n), route_a.exit_layer - 1]
        drop, se = drop_and_se(d_a)
        cost = (route_a.cost.sum() + route_b.cost.sum()) / (A.n + B.n)
        rows.append({**setting, "fit_drop_pp": drop, "fit_se_pp": se,
                     "fit_plus": int((d_a == 1).sum()), "fit_minus": int((d_a == -1).sum()),
                     "fit_cost": float(route_a.cost.mean()),
                     "reduction_pct": 100 * (1 - cost / ref)})
        losses.append(corr_b[:, -1].astype(np.int8)
                      - corr_b[np.arange(B.n), route_b.exit_layer - 1])

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
                                        "fit_plus", "fit_minus", "fit_cost", "reduction_pct"])
    D = np.stack(losses) if losses else np.zeros((0, B.n), np.int8)
    return Candidates(base, fit_fraction, L, A.n, B.n, table, D, routers,
                      time.perf_counter() - start)


# ---------------------------------------------------------------- testing along the path

@dataclass(frozen=True)
class Recommendation:
    """The cheapest candidate of a family certified at ``target_pp`` with risk ``delta``;
    ``index`` is None when none was."""

    family: str
    target_pp: float
    delta: float
    index: int | None
    method: str | None  # the winner's own kind (a DIMEE+ recommendation may be a cascade)
    config: DIMEEConfig | None
    p_value: float | None
    bound_pp: float | None  # (1 - delta) upper bound of this setting on the held-out part
    held_out_drop_pp: float | None
    reduction_pct: float | None  # on the whole calibration split
    n_fit: int
    n_held_out: int
    tested: int  # candidates tested along the path (the last one failed unless all passed)
    certified: int  # candidates rejected (certified) along the path
    path_length: int
    message: str

    @property
    def ok(self) -> bool:
        return self.index is not None

    def guarantee(self) -> str:
        conf = f"{100 * (1 - self.delta):g} %"
        return (f"accuracy drop vs all-in-cloud ≤ {self.target_pp:g} pp with {conf} "
                f"confidence")

    def setting(self) -> dict:
        """The knobs of the recommendation (what tune stores and Apply sets)."""
        if self.config is None:
            return {}
        c = self.config
        if self.method == "cascade":
            return {"method": "cascade", "m": c.m, "n": c.n, "alpha": c.alpha}
        out = {"method": self.method, "m": c.m, "n": c.n, "k": c.k, "features": c.features,
               "policy": c.policy}
        if c.policy == "budget":
            out.update(epsilon=c.epsilon, safety=c.safety)
        elif c.policy == "reward":
            out["mu"] = c.mu
        return out

    def to_dict(self) -> dict:
        return {"family": self.family, "target_pp": self.target_pp, "delta": self.delta,
                "certified": self.ok, "setting": self.setting(),
                "p_value": self.p_value, "bound_pp": self.bound_pp,
                "held_out_drop_pp": self.held_out_drop_pp,
                "calibration_reduction_pct": self.reduction_pct,
                "n_fit": self.n_fit, "n_held_out": self.n_held_out,
                "tested": self.tested, "path_length": self.path_length,
                "guarantee": self.guarantee() if self.ok else None, "message": self.message}


def path_order(cands: Candidates, family: str, delta: float, pareto: bool = True,
               split_points: tuple[int, int] | None = None) -> np.ndarray:
    """Row indices of the family in testing order, fixed by the fit part alone: the
    least estimated risk first, max(fit-part drop, 0) + z * sqrt(disagreements + c * k) / N
    (z the one-sided 1 - delta normal quantile), then the dearest. A setting fitted on
    the same samples flatters itself there: an in-sample drop below zero (better than
    the cloud) is not trusted, and each of its k clusters counts c disagreements more,
    so a finely clustered setting that looked flawless does not jump the queue."""
    from scipy.stats import norm

    if family not in FAMILIES:
        raise SelectionError(f"family must be one of {sorted(FAMILIES)}, got {family!r}")
    t = cands.table
    keep = t["method"].isin(FAMILIES[family])
    if split_points is not None:
        keep = keep & (t["m"] == split_points[0]) & (t["n"] == split_points[1])
    keep = keep.to_numpy()
    rows = np.flatnonzero(keep)
    # a cluster whose option was chosen on these samples can hide disagreements: each
    # adds pseudo-disagreements (DIMEE+ chooses among ~30 options per cluster, DIMEE
    # among 3; a cascade chooses nothing on them, its estimate is honest)
    spread = np.sqrt(t["fit_plus"] + t["fit_minus"] + t["method"].map(
        PSEUDO_PER_CLUSTER) * t["k"]) / cands.n_fit
    score = np.round((np.maximum(t["fit_drop_pp"], 0.0)
                      + 100 * norm.ppf(1 - delta) * spread).to_numpy()[rows], 9)
    cost = t["fit_cost"].to_numpy()[rows]
    order = np.lexsort((-cost, score))
    if not pareto:
        return rows[order]
    # keep a candidate only when it is cheaper than every safer one: each test then
    # offers a saving, and fewer tests mean fewer chances to stop the walk early
    prev_min = np.minimum.accumulate(np.concatenate([[np.inf], cost[order][:-1]]))
    return rows[order[cost[order] < prev_min - 1e-12]]


def certify(cands: Candidates, target_pp: float, delta: float = DELTA,
            family: str = "any", random_state: int = 0,
            split_points: tuple[int, int] | None = None) -> Recommendation:
    """Fixed-sequence test along the family's path; the cheapest rejected candidate.
    ``split_points`` restricts the path to one (m, n) (a heatmap cell: each cell is then
    its own guarantee, not one across cells)."""
    check_request(target_pp, delta)
    order = path_order(cands, family, delta, split_points=split_points)
    passed: list[int] = []
    tested, failed_p = 0, None
    for s in range(0, len(order), 64):  # p-values block by block until the first failure
        block = order[s:s + 64]
        p = p_values(cands.D[block], target_pp, random_state, cands.prior(block))
        bad = np.flatnonzero(p > delta)
        stop = int(bad[0]) if bad.size else len(block)
        passed += [(int(i), float(pv)) for i, pv in zip(block[:stop], p[:stop])]
        tested += min(stop + 1, len(block))
        if bad.size:
            failed_p = float(p[stop])
            break
    base = dict(family=family, target_pp=float(target_pp), delta=float(delta),
                n_fit=cands.n_fit, n_held_out=cands.n_held_out, tested=tested,
                certified=len(passed), path_length=len(order))
    if not passed:
        need = samples_needed(target_pp, delta)
        if need is None:
            why = ("a target of 0 pp is only certifiable for a setting that beats the cloud "
                   "on the held-out samples")
        elif need > cands.n_held_out:
            total = math.ceil(need / (1 - cands.fit_fraction))
            why = (f"the calibration split is too small for this target: even a setting that "
                   f"never disagrees with the cloud needs {need} held-out samples (about "
                   f"{total} calibration samples in all); this one holds out "
                   f"{cands.n_held_out}")
        else:
            why = (f"the first candidate tested (the safest by the fit part) was not "
                   f"certified (p = {failed_p:.3g} > δ = {delta:g}); try a larger target or δ")
        return Recommendation(index=None, method=None, config=None, p_value=None,
                              bound_pp=None, held_out_drop_pp=None, reduction_pct=None,
                              message=f"No setting can be guaranteed: {why}.", **base)
    t = cands.table
    best, p_best = min(passed, key=lambda ip: (-t["reduction_pct"].iat[ip[0]], ip[0]))
    d = cands.D[best]
    return Recommendation(
        index=best, method=str(t["method"].iat[best]), config=cands.config(best),
        p_value=p_best, bound_pp=upper_bound_pp(d, delta, random_state, cands.prior([best])),
        held_out_drop_pp=drop_and_se(d)[0], reduction_pct=float(t["reduction_pct"].iat[best]),
        message=(f"Certified {len(passed)} of {tested} candidates tested along a path of "
                 f"{len(order)}; the cheapest saves {t['reduction_pct'].iat[best]:.1f} % on "
                 f"calibration."), **base)


FRONTIER_TARGETS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)


def certified_frontier(cands: Candidates, delta: float = DELTA, family: str = "any",
                       targets=FRONTIER_TARGETS) -> list[Recommendation]:
    """The recommendation for each target (each its own guarantee at that target), one
    per distinct setting: a cost / guaranteed-drop frontier to choose from."""
    seen, out = set(), []
    for t in targets:
        rec = certify(cands, t, delta, family)
        if rec.ok and rec.index not in seen:
            seen.add(rec.index)
            out.append(rec)
    return out


def split_point_table(cands: Candidates, target_pp: float, delta: float = DELTA,
                      family: str = "any") -> pd.DataFrame:
    """Best certified saving for every (m, n) on its own (NaN where none is certified)."""
    pairs = sorted({(int(m), int(n)) for m, n in zip(cands.table["m"], cands.table["n"])})
    rows = []
    for m, n in pairs:
        rec = certify(cands, target_pp, delta, family, split_points=(m, n))
        rows.append({"m": m, "n": n, "reduction_pct": rec.reduction_pct if rec.ok else np.nan,
                     "method": rec.method, "bound_pp": rec.bound_pp})
    return pd.DataFrame(rows)


NEVER = float(GATE_GRID[-1])  # a threshold above 1: no exit is ever sure


def cascade_alpha(calibration: Split, config: DIMEEConfig, target_pp: float,
                  delta: float = DELTA, fit_fraction: float = FIT_FRACTION) -> float:
    """The cascade's certified alpha at ``config``'s split points and costs (the selection
    restricted to the cascade at one (m, n): no k-means, milliseconds). ``NEVER`` (every
    sample climbs to the cloud) when no alpha can be certified."""
    grid = Grid(split_points=((config.m, config.n),), methods=("cascade",))
    rec = certify(evaluate_candidates(calibration, config, grid, fit_fraction), target_pp,
                  delta, "cascade")
    return rec.config.alpha if rec.ok else NEVER
