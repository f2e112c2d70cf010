"""The DIMEE router: cluster what the mobile sees after layer m, pick a tier per cluster.

``fit`` runs k-means once and keeps per-cluster sufficient statistics for *every* exit;
``solve`` turns them into a tier per cluster for given costs / policy / mu / epsilon /
edge split n in time that depends on k only, never on the number of samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

from .splits import Split
from .config import ROUTER_PARAMS, check_fit_params, check_solve_params
from .costs import CostModel, RoutePolynomials, moments
from .features import block_sizes, confidences, pools, reaches, routing_features
from .profiles import LatencySLA, sample_lengths
from .solver import least_loss, pareto_front, solve_min_cost
from .stats import BETA_GRID, GATE_GRID, cluster_stats

# Options a cluster can be given. DIMEE: the three tiers. DIMEE+: for one edge threshold
# beta shared by all clusters (the edge hands a sample on to the cloud when c_n < beta,
# paying o_edge_cloud), each cluster may also pick a mobile gate gamma: "answer on the
# mobile when c_m >= gamma, else go to that edge". Option GATED + g is gate GATE_GRID[g];
# the last gate (> 1) never answers on the mobile: the plain escalating edge. Every
# cluster at gamma = beta = alpha is the confidence cascade, so DIMEE+ contains it.
MOBILE, EDGE, CLOUD, GATED = 0, 1, 2, 3
EDGE_ESCALATE = GATED + len(GATE_GRID) - 1  # gamma > 1: always to the edge


def gate_of(option: int) -> float | None:
    """The mobile gate gamma of a DIMEE+ option (None for the plain tiers)."""
    return float(GATE_GRID[option - GATED]) if option >= GATED else None


# Pareto fronts are built for at least this drop (pp), beyond which budgets are rare;
# bounding them keeps the DP small (states past the budget are cut).
FRONT_BUDGET_PP = 5.0
_D = {p.name: p.default for p in ROUTER_PARAMS}  # defaults: config.PARAMS
MEMO_SIZE = 4096  # option tables / fronts kept per router (each a few kB)


@dataclass(frozen=True)
class Routing:
    """Where each sample was answered and what it cost: the common output of every method."""

    tier: np.ndarray  # [N] 0 mobile, 1 edge, 2 cloud (where the answer came from)
    exit_layer: np.ndarray  # [N] 1-based exit that produced the answer
    cost: np.ndarray  # [N] per-sample cost (in the router's objective's unit)
    cluster: np.ndarray | None = None  # [N] DIMEE cluster, when there is one
    escalated: np.ndarray | None = None  # [N] bool: reached the cloud via the edge

    def predictions(self, probs: np.ndarray) -> np.ndarray:
        return probs[np.arange(len(self.tier)), self.exit_layer - 1].argmax(1)


def _check_int(name: str, v, lo: int, hi: int | None = None) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo or (
            hi is not None and v > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be an integer {rng}, got {v!r}")


class DIMEERouter(BaseEstimator):
    """Route samples to mobile / edge / cloud by clustering mobile-side signals.

    Parameters
    ----------
    m, n : int
        Split points: mobile holds layers 1..m, edge 1..n, cloud all L (1 <= m < n < L).
    n_clusters : int
        k of k-means.
    alpha : float
        Early-exit confidence threshold defining the easy/medium/hard pools.
    features : {"conf", "signals", "embed", "signals+embed"}
        Routing features at the mobile: exit confidences c_1..c_m; "signals" adds margin,
        entropy and agreement of exits 1..m; "embed" is the reduced layer-m hidden state.
    policy : {"pools", "reward", "budget"}
        Tier of a cluster: its majority pool; argmax acc - mu * cost / cost_ref; or the
        cheapest assignment whose calibration accuracy drop stays within ``epsilon``.
    mu : float
        Cost weight of the ``reward`` policy.
    epsilon : float
        Allowed calibration accuracy drop vs all-in-cloud, in percentage points (budget).
    safety : float
        Safety margin for ``budget``: each cluster's estimated loss is raised by
        ``safety * sqrt(disagreements)`` (its Poisson standard error), so clusters that
        merely look good by chance are not trusted. 0 disables it.
    escalate : bool
        DIMEE+: with one edge threshold beta picked on calibration (the edge hands a
        sample on to the cloud, paying o_edge_cloud, when c_n < beta), each cluster may
        also choose a mobile gate gamma: "mobile when c_m >= gamma, else that edge".
        All clusters at gamma = beta form the confidence cascade at alpha = beta, so
        DIMEE+ never needs to be worse than the cascade on calibration.
    cost_model : CostModel or profiles.UnitCosts
        What is minimised: anything with ``route_polynomials(m, n, L)``. The abstract
        ``CostModel`` (the paper's layer-equivalents, the default) or ``UnitCosts`` (mean
        latency, phone energy or money under a device-and-network profile).
    latency_sla : profiles.LatencySLA or None
        ``budget`` policy only: also require the calibration latency quantile (p95) to
        stay within the SLA. DIMEE+ gate options count at their slowest route (the edge,
        or the cloud via the edge), which is conservative.
    max_fit_samples : int
        k-means is fitted on at most this many calibration samples (a seeded subsample);
        statistics always use all of them.
    random_state : int
    """

    def __init__(self, m: int = _D["m"], n: int = _D["n"], n_clusters: int = _D["k"],
                 alpha: float = _D["alpha"], features: str = _D["features"],
                 policy: str = _D["policy"], mu: float = _D["mu"],
                 epsilon: float = _D["epsilon"], safety: float = _D["safety"],
                 escalate: bool = False, cost_model: CostModel | None = None,
                 latency_sla: LatencySLA | None = None, max_fit_samples: int = 50_000,
                 random_state: int = _D["random_state"]):
        self.m = m
        self.n = n
        self.n_clusters = n_clusters
        self.alpha = alpha
        self.features = features
        self.policy = policy
        self.mu = mu
        self.epsilon = epsilon
        self.safety = safety
        self.escalate = escalate
        self.cost_model = cost_model
        self.latency_sla = latency_sla
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    # ------------------------------------------------------------ validation
    def check_params(self, num_layers: int, n_samples: int) -> None:
        """Raise ValueError unless every parameter is valid for a fit on ``n_samples``
        calibration samples of a ``num_layers``-exit model (what ``fit`` checks)."""
        check_fit_params(self._settings(), num_layers, n_samples)
        _check_int("max_fit_samples", self.max_fit_samples, self.n_clusters)
        self._validate_objective()

    def _validate_solve_params(self, num_layers: int) -> None:
        check_solve_params(self._settings(), num_layers)
        self._validate_objective()

    def _settings(self) -> dict:
        return {p.arg: getattr(self, p.arg) for p in ROUTER_PARAMS}

    def _validate_objective(self) -> None:
        if self.cost_model is not None and not hasattr(self.cost_model, "route_polynomials"):
            raise ValueError("cost_model must be a CostModel or profiles.UnitCosts")
        if self.latency_sla is not None:
            if not isinstance(self.latency_sla, LatencySLA):
                raise ValueError("latency_sla must be a profiles.LatencySLA")
            if self.policy != "budget":
                raise ValueError("a latency SLA needs the budget policy")

    @property
    def costs_(self):
        return self.cost_model if self.cost_model is not None else CostModel()

    def _polys(self, costs=None) -> RoutePolynomials:
        return (costs or self.costs_).route_polynomials(self.m, self.n, self.num_layers_)

    def _reference_mean(self) -> float:
        """All-in-cloud cost per calibration sample (the scale of the reward policy)."""
        ref = float(self.stats_.moments.sum(0) @ self._polys().reference) / max(
            self.n_calibration_, 1)
        return ref if ref > 0 else 1.0

    # ------------------------------------------------------------ fitting
    def _features(self, split: Split) -> np.ndarray:
        X = routing_features(split.probs, split.feats, self.m, self.features)
        Xs = self.scaler_.transform(X)
        return Xs * self.block_weights_

    def fit(self, calibration: Split, y=None) -> "DIMEERouter":
        """Cluster the calibration split and collect per-cluster statistics."""
        L = calibration.probs.shape[1]
        N = calibration.n
        self.check_params(L, N)
        X = routing_features(calibration.probs, calibration.feats, self.m, self.features)
        self.scaler_ = StandardScaler().fit(X)
        widths = block_sizes(self.features, self.m, calibration.feats.shape[2])
        self.block_weights_ = np.concatenate([np.full(w, 1 / np.sqrt(w)) for w in widths])
        Xs = self.scaler_.transform(X) * self.block_weights_
        rng = np.random.default_rng(self.random_state)
        fit_rows = Xs if N <= self.max_fit_samples else Xs[
            rng.choice(N, self.max_fit_samples, replace=False)]
        self.kmeans_ = KMeans(n_clusters=self.n_clusters, n_init=3,
                              random_state=self.random_state).fit(fit_rows)
        self.labels_ = self.kmeans_.predict(Xs)
        self.num_layers_ = L
        self.fitted_m_ = self.m  # clusters and GATED statistics depend on m
        self._solve_memo = {}
        self.stats_ = cluster_stats(calibration, self.labels_, self.n_clusters, self.m)
        self.conf_ = confidences(calibration.probs)  # pools policy re-reads these for alpha
        self.n_calibration_ = N
        self.solve()
        return self

    # ------------------------------------------------------------ solving (k x tiers only)
    def pool_mix(self) -> np.ndarray:
        """[k, 3] calibration samples per cluster in the easy / medium / hard pool."""
        p = pools(self.conf_, self.alpha, self.m, self.n)
        return np.stack([np.bincount(self.labels_, weights=p == i, minlength=self.n_clusters)
                         for i in range(3)], 1)

    def _option_table(self, beta_index: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per cluster and option: total cost, loss vs all-in-cloud, loss std-error."""
        s, P = self.stats_, self._polys()
        m, n = self.m - 1, self.n - 1
        worse = [s.worse[:, m], s.worse[:, n], np.zeros_like(s.size)]
        better = [s.better[:, m], s.better[:, n], np.zeros_like(s.size)]
        worse, better = (np.stack(a, 1) for a in (worse, better))
        cost = s.moments @ P.tier.T  # [k, 3]: sum over each cluster of cost(T)
        if beta_index is not None:  # gate options: [k, G] each
            at = (self.n, beta_index)
            worse = np.concatenate([worse, s.gated_worse[at].T], 1)
            better = np.concatenate([better, s.gated_better[at].T], 1)
            cost = np.concatenate([cost, (s.moments @ P.tier[0])[:, None]
                                   + (s.gated_to_edge_moments[at] @ (P.tier[1] - P.tier[0])).T
                                   + (s.gated_escalated_moments[at] @ P.escalation).T], 1)
        return cost, worse - better, np.sqrt(worse + better)

    def solve(self) -> "DIMEERouter":
        """Re-pick a tier per cluster for the current costs / policy / mu / epsilon / n.

        Touches only the k x tiers statistics (plus the stored calibration confidences
        for the ``pools`` policy when alpha changes); k-means is never refitted.
        """
        self._validate_solve_params(self.num_layers_)
        if self.m != self.fitted_m_:
            raise ValueError(f"router was fitted with m={self.fitted_m_}; refit for m={self.m}")
        self.sla_kept_budget_ = None
        if self.latency_sla is not None:
            self._check_sla_reachable()
        betas = [None] if not self.escalate else range(len(BETA_GRID))
        if self.policy == "pools":
            betas = [None] if not self.escalate else [int(np.searchsorted(
                BETA_GRID, self.alpha))]
        bound = {b: -np.inf for b in betas}
        if self.policy == "budget" and len(betas) > 1:
            bound = dict(zip(betas, self._cost_lower_bounds(betas)))
        best = None
        for b in sorted(betas, key=lambda b: (bound[b], b)):  # most promising first
            if best is not None and bound[b] > best[1] + 1e-9:
                continue  # cannot beat the best beta so far: skip its DP
            choice, total = self._solve_one(b)
            if best is None or (total, b) < (best[1] - 1e-12, best[2]):
                best = (choice, total, b)
        self.cluster_tiers_, self.beta_index_ = best[0], best[2]
        if self.latency_sla is not None:  # did the SLA leave the accuracy budget intact?
            _, loss, stderr = self._table(best[2])
            kept = (loss + self.safety * stderr)[np.arange(len(best[0])), best[0]].sum()
            self.sla_kept_budget_ = bool(kept <= self._budget() + 1e-9)
        self.beta_ = None if best[2] is None else float(BETA_GRID[best[2]])
        return self

    def _cost_lower_bounds(self, betas) -> np.ndarray:
        """Lagrangian lower bound on the budget problem's cost for each beta: for any
        lam >= 0, sum_j min_t (cost + lam * loss) - lam * budget <= the optimum."""
        scale = self._reference_mean()
        lam = np.concatenate([[0.0], scale * np.geomspace(1e-2, 1e4, 49)])[:, None]

        def relaxed_sums():  # [lam, B]: independent of the budget, so an epsilon sweep
            tables = [self._table(b) for b in betas]  # pays for it once
            cost = np.stack([t[0] for t in tables])  # [B, k, T]
            loss = np.stack([t[1] + self.safety * t[2] for t in tables])
            return (cost[None] + lam[:, :, None, None] * loss[None]).min(3).sum(2)

        sums = self._memo(("bounds", self.n, tuple(betas), self.costs_, float(self.safety)),
                          relaxed_sums)
        return (sums - lam * self._budget()).max(0)

    def _memo(self, key: tuple, make, valid=lambda value: True):
        """Option tables and Pareto fronts are pure functions of the fitted statistics
        and ``key``; keep them so that sweeps (epsilon, CV grids) and slider moves back
        and forth do not redo them. Cleared by ``fit``; bounded."""
        memo = self._solve_memo
        if key not in memo or not valid(memo[key]):
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[key] = make()
        return memo[key]

    def _budget(self) -> float:
        """epsilon as a number of calibration samples the solution may lose."""
        return self.epsilon / 100.0 * self.n_calibration_

    def _table(self, beta_index: int | None):
        return self._memo(("table", self.n, beta_index, self.costs_),
                          lambda: self._option_table(beta_index))

    def _solve_one(self, beta_index: int | None) -> tuple[np.ndarray, float]:
        cost, loss, stderr = self._table(beta_index)
        penalised = loss + self.safety * stderr  # the budget policy's loss
        size = self.stats_.size
        if self.policy == "pools":
            mix = self.pool_mix()
            choice = mix.argmax(1)
            if beta_index is not None:
                choice = np.where(choice == EDGE, EDGE_ESCALATE, choice)
        elif self.policy == "reward":
            ref = self._reference_mean()
            n = np.maximum(size, 1)[:, None]
            acc_gap = -loss / n  # accuracy relative to the final exit
            reward = acc_gap - self.mu * (cost / n) / ref
            choice = reward.argmax(1)
        else:
            budget = self._budget()
            # one front serves every budget up to its own: an epsilon sweep is one DP
            front = self._memo(
                ("front", self.n, beta_index, self.costs_, float(self.safety)),
                lambda: pareto_front(cost, penalised, max(
                    budget, FRONT_BUDGET_PP / 100.0 * self.n_calibration_)),
                valid=lambda f: f.max_budget >= budget)
            sol = front.solve(budget) or least_loss(cost, penalised)
            choice = sol.choice
            if self.latency_sla is not None:
                choice = self._meet_sla(choice, cost, penalised, beta_index)
        choice = np.where(size == 0, CLOUD, choice)  # no evidence: stay safe
        # objective for picking beta: budget -> cost (feasible first); reward -> -reward
        rows = np.arange(len(choice))
        if self.policy == "reward":
            total = -float(reward[rows, choice].sum())
        else:
            over = max(0.0, penalised[rows, choice].sum() - self._budget())
            total = float(cost[rows, choice].sum()) + 1e9 * over
        return choice, total

    # ------------------------------------------------------------ latency SLA
    def _sla_tables(self, beta_index: int | None):
        """Per-sample latency of each option on the token grid (for quantiles) and, per
        cluster and option, the calibration samples over the SLA's target."""
        def make():
            sla, hist = self.latency_sla, self.stats_.token_hist
            P = self._polys(sla.latency)
            phi = moments(np.arange(hist.shape[1]))
            lat = phi @ P.tier.T  # [T, 3]
            if beta_index is not None:  # a gate option's slowest route
                slowest = lat[:, EDGE] + (phi @ P.escalation if BETA_GRID[beta_index] > 0
                                          else 0.0)
                lat = np.concatenate([lat, np.repeat(slowest[:, None], len(GATE_GRID), 1)], 1)
            return lat, hist @ (lat > sla.max_ms)  # [T, options], [k, options]
        return self._memo(("sla", self.n, beta_index, self.latency_sla), make)

    def _sla_allowance(self) -> float:
        """Calibration samples allowed over the target: (1 - quantile) of them."""
        return (1 - self.latency_sla.quantile) * self.n_calibration_

    def _check_sla_reachable(self) -> None:
        """Answering on the phone is the fastest route; if even that misses the SLA, no
        routing can meet it: say so, with the best quantile there is."""
        lat, over = self._sla_tables(None)
        if over[:, MOBILE].sum() <= self._sla_allowance() + 1e-9:
            return
        hist = self.stats_.token_hist.sum(0)
        q = self.latency_sla.quantile
        order = np.argsort(lat[:, MOBILE], kind="stable")
        cum = np.cumsum(hist[order])
        best = lat[order, MOBILE][np.searchsorted(cum, q * cum[-1] - 1e-9)]
        raise ValueError(f"no routing can meet p{100 * q:g} latency <= "
                         f"{self.latency_sla.max_ms:g} ms: even answering every sample on "
                         f"the phone gives p{100 * q:g} = {best:.1f} ms on the calibration "
                         f"split")

    def _meet_sla(self, choice: np.ndarray, cost: np.ndarray, penalised: np.ndarray,
                  beta_index: int | None) -> np.ndarray:
        """Cheapest assignment within the loss budget whose samples over the latency
        target stay within the SLA's allowance. Two constraints: the allowance is priced
        in by a Lagrange multiplier (bisection over a grid), each price solved exactly.
        If no price keeps both, the SLA wins and the loss is minimised under it."""
        _, over = self._sla_tables(beta_index)
        rows, allow, budget = np.arange(len(choice)), self._sla_allowance(), self._budget()
        fits = lambda c: over[rows, c].sum() <= allow + 1e-9
        if fits(choice):
            return choice
        scale = max(abs(cost).max(), 1e-12)
        prices = np.concatenate([scale * np.geomspace(1e-4, 1e3, 22), [scale * 1e6]])
        lo, hi, best = 0, len(prices) - 1, None
        while lo <= hi:  # smallest price whose solution fits (fewer overs as it grows)
            mid = (lo + hi) // 2
            sol = solve_min_cost(cost + prices[mid] * over, penalised, budget)
            if sol.feasible and fits(sol.choice):
                best, hi = sol.choice, mid - 1
            else:
                lo = mid + 1
        if best is not None:
            return best
        sol = solve_min_cost(penalised, over.astype(float), allow)  # least loss under SLA
        return sol.choice

    # ------------------------------------------------------------ inference
    def predict_cluster(self, split: Split) -> np.ndarray:
        return self.kmeans_.predict(self._features(split))

    def route(self, split: Split, clusters: np.ndarray | None = None) -> Routing:
        """Tier, answering exit and cost for every sample of ``split``.

        A re-solve never moves a sample to another cluster, so callers that route the
        same split under many settings pass ``clusters`` (from :meth:`predict_cluster`)
        once instead of paying for k-means prediction every time.
        """
        if split.probs.shape[1] != self.num_layers_:
            raise ValueError(f"split has {split.probs.shape[1]} layers, router was fitted "
                             f"on {self.num_layers_}")
        if clusters is None:
            cluster = self.predict_cluster(split)
        else:
            cluster = np.asarray(clusters)
            if cluster.shape != (split.n,) or cluster.dtype.kind not in "iu" or (
                    split.n and not 0 <= cluster.min() <= cluster.max() < self.n_clusters):
                raise ValueError(f"clusters must be {split.n} integers in "
                                 f"[0, {self.n_clusters - 1}]")
        option = self.cluster_tiers_[cluster]
        L = self.num_layers_
        tier = option.copy()
        up = np.zeros(split.n, dtype=bool)
        if self.beta_ is not None:
            conf = split.probs[:, [self.m - 1, self.n - 1]].max(2)
            gated = option >= GATED
            gate = np.asarray(GATE_GRID)[np.where(gated, option - GATED, 0)]
            gated_mobile = gated & reaches(conf[:, 0], gate)
            at_edge = gated & ~gated_mobile
            up = at_edge & ~reaches(conf[:, 1], self.beta_)
            tier = np.where(gated_mobile, MOBILE, np.where(up, CLOUD, np.where(
                at_edge, EDGE, option)))
        cost = self._polys().per_sample(tier, up, sample_lengths(split.lengths, split.n))
        exit_layer = np.array([self.m, self.n, L])[tier]
        return Routing(tier=tier, exit_layer=exit_layer, cost=cost, cluster=cluster,
                       escalated=up)

    def predict(self, split: Split) -> np.ndarray:
        """Class predictions: the answer of the exit each sample was routed to."""
        return self.route(split).predictions(split.probs)


def from_config(config, escalate: bool = False) -> DIMEERouter:
    """An unfitted router at ``config``'s settings (a :class:`~dimee_core.config.DIMEEConfig`)."""
    return DIMEERouter(**config.router_kwargs(), escalate=escalate)
