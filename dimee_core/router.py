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

from .cache import Split
from .costs import CostModel, check_split
from .features import (FEATURE_SETS, block_sizes, confidences, correct_matrix, pools,
                       routing_features)
from .solver import solve_min_cost

POLICIES = ("pools", "reward", "budget")
MOBILE, EDGE, CLOUD, EDGE_ESCALATE = 0, 1, 2, 3
# DIMEE+ thresholds on the edge exit's confidence: below beta the edge hands over to cloud.
BETA_GRID = (0.0, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97,
             0.98, 0.99, 0.995, 1.01)


@dataclass(frozen=True)
class Routing:
    """Where each sample was answered and what it cost: the common output of every method."""

    tier: np.ndarray  # [N] 0 mobile, 1 edge, 2 cloud (where the answer came from)
    exit_layer: np.ndarray  # [N] 1-based exit that produced the answer
    cost: np.ndarray  # [N] per-sample cost
    cluster: np.ndarray | None = None  # [N] DIMEE cluster, when there is one

    def predictions(self, probs: np.ndarray) -> np.ndarray:
        return probs[np.arange(len(self.tier)), self.exit_layer - 1].argmax(1)


@dataclass(frozen=True)
class ClusterStats:
    """Per-cluster sufficient statistics over the calibration split (k rows)."""

    size: np.ndarray  # [k]
    correct: np.ndarray  # [k, L]  exit i right
    worse: np.ndarray  # [k, L]   exit i wrong where the final exit is right
    better: np.ndarray  # [k, L]  exit i right where the final exit is wrong
    esc_worse: np.ndarray  # [L, B, k]  DIMEE+: same for "edge exit n, escalate below beta"
    esc_better: np.ndarray  # [L, B, k]
    escalated: np.ndarray  # [L, B, k]  how many the edge hands on to the cloud


def _check_int(name: str, v, lo: int, hi: int | None = None) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo or (
            hi is not None and v > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be an integer {rng}, got {v!r}")


def _check_float(name: str, v, lo: float, hi: float) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not (
            lo <= float(v) <= hi):
        raise ValueError(f"{name} must be a number in [{lo}, {hi}], got {v!r}")


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
        DIMEE+: the edge may hand a sample on to the cloud when its exit confidence is
        below a threshold beta fitted on calibration (paying o_edge_cloud).
    cost_model : CostModel
    max_fit_samples : int
        k-means is fitted on at most this many calibration samples (a seeded subsample);
        statistics always use all of them.
    random_state : int
    """

    def __init__(self, m: int = 2, n: int = 4, n_clusters: int = 6, alpha: float = 0.9,
                 features: str = "signals", policy: str = "budget", mu: float = 1.0,
                 epsilon: float = 0.3, safety: float = 1.0, escalate: bool = False,
                 cost_model: CostModel | None = None, max_fit_samples: int = 50_000,
                 random_state: int = 0):
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
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    # ------------------------------------------------------------ validation
    def _validate_solve_params(self, num_layers: int) -> None:
        check_split(self.m, self.n, num_layers)
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {self.policy!r}")
        _check_float("alpha", self.alpha, 0.0, 1.0)
        _check_float("mu", self.mu, 0.0, 1e6)
        _check_float("epsilon", self.epsilon, 0.0, 100.0)
        _check_float("safety", self.safety, 0.0, 10.0)
        if self.cost_model is not None and not isinstance(self.cost_model, CostModel):
            raise ValueError("cost_model must be a CostModel")

    @property
    def costs_(self) -> CostModel:
        return self.cost_model if self.cost_model is not None else CostModel()

    # ------------------------------------------------------------ fitting
    def _features(self, split: Split) -> np.ndarray:
        X = routing_features(split.probs, split.feats, self.m, self.features)
        Xs = self.scaler_.transform(X)
        return Xs * self.block_weights_

    def fit(self, calibration: Split, y=None) -> "DIMEERouter":
        """Cluster the calibration split and collect per-cluster statistics."""
        L = calibration.probs.shape[1]
        self._validate_solve_params(L)
        if self.features not in FEATURE_SETS:
            raise ValueError(f"features must be one of {FEATURE_SETS}, got {self.features!r}")
        N = calibration.n
        _check_int("n_clusters", self.n_clusters, 1, N)
        _check_int("max_fit_samples", self.max_fit_samples, self.n_clusters)
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
        self.stats_ = self._cluster_stats(calibration, self.labels_)
        self.conf_ = confidences(calibration.probs)  # pools policy re-reads these for alpha
        self.n_calibration_ = N
        self.solve()
        return self

    def _cluster_stats(self, split: Split, labels: np.ndarray) -> ClusterStats:
        k = self.n_clusters
        corr = correct_matrix(split.probs, split.labels)
        final = corr[:, -1:]
        count = lambda mask: np.stack([np.bincount(labels, weights=mask[:, i], minlength=k)
                                       for i in range(mask.shape[1])], 1)
        conf = confidences(split.probs)
        L, B = corr.shape[1], len(BETA_GRID)
        esc_w, esc_b, esc_n = (np.zeros((L, B, k)) for _ in range(3))
        for n in range(1, L):
            # a sample escalates at beta_b iff conf < beta_b, i.e. for every b >= pos
            pos = np.searchsorted(BETA_GRID, conf[:, n - 1], side="right")
            cell = labels * (B + 1) + pos
            per_pos = lambda w: np.bincount(cell, weights=w, minlength=k * (B + 1)).reshape(
                k, B + 1)
            kept = lambda w: (per_pos(w)[:, ::-1].cumsum(1)[:, ::-1][:, 1:]).T  # pos > b
            esc_w[n] = kept(final[:, 0] & ~corr[:, n - 1])  # escalated ones: final answers
            esc_b[n] = kept(~final[:, 0] & corr[:, n - 1])
            esc_n[n] = per_pos(None).cumsum(1)[:, :B].T
        return ClusterStats(size=np.bincount(labels, minlength=k).astype(float),
                            correct=count(corr), worse=count(final & ~corr),
                            better=count(~final & corr), esc_worse=esc_w, esc_better=esc_b,
                            escalated=esc_n)

    # ------------------------------------------------------------ solving (k x tiers only)
    def pool_mix(self) -> np.ndarray:
        """[k, 3] calibration samples per cluster in the easy / medium / hard pool."""
        p = pools(self.conf_, self.alpha, self.m, self.n)
        return np.stack([np.bincount(self.labels_, weights=p == i, minlength=self.n_clusters)
                         for i in range(3)], 1)

    def _option_table(self, beta_index: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per cluster and option: total cost, loss vs all-in-cloud, loss std-error."""
        s, L = self.stats_, self.num_layers_
        t = self.costs_.tier_costs(self.m, self.n, L)
        m, n = self.m - 1, self.n - 1
        worse = [s.worse[:, m], s.worse[:, n], np.zeros_like(s.size)]
        better = [s.better[:, m], s.better[:, n], np.zeros_like(s.size)]
        cost = [s.size * t[0], s.size * t[1], s.size * t[2]]
        if beta_index is not None:
            worse.append(s.esc_worse[self.n, beta_index])
            better.append(s.esc_better[self.n, beta_index])
            cost.append(s.size * t[1] + s.escalated[self.n, beta_index]
                        * self.costs_.escalation_cost(self.n, L))
        worse, better, cost = (np.stack(a, 1) for a in (worse, better, cost))
        return cost, worse - better, np.sqrt(worse + better)

    def solve(self) -> "DIMEERouter":
        """Re-pick a tier per cluster for the current costs / policy / mu / epsilon / n.

        Touches only the k x tiers statistics (plus the stored calibration confidences
        for the ``pools`` policy when alpha changes); k-means is never refitted.
        """
        self._validate_solve_params(self.num_layers_)
        betas = [None] if not self.escalate else range(len(BETA_GRID))
        if self.policy == "pools":
            betas = [None] if not self.escalate else [int(np.searchsorted(
                BETA_GRID, self.alpha))]
        best = None
        for b in betas:
            choice, total = self._solve_one(b)
            if best is None or total < best[1] - 1e-12:
                best = (choice, total, b)
        self.cluster_tiers_, self.beta_index_ = best[0], best[2]
        self.beta_ = None if best[2] is None else float(BETA_GRID[best[2]])
        return self

    def _solve_one(self, beta_index: int | None) -> tuple[np.ndarray, float]:
        cost, loss, stderr = self._option_table(beta_index)
        size = self.stats_.size
        if self.policy == "pools":
            mix = self.pool_mix()
            choice = mix.argmax(1)
            if beta_index is not None:
                choice = np.where(choice == EDGE, EDGE_ESCALATE, choice)
        elif self.policy == "reward":
            ref = self.costs_.reference_cost(self.num_layers_)
            n = np.maximum(size, 1)[:, None]
            acc_gap = -loss / n  # accuracy relative to the final exit
            reward = acc_gap - self.mu * (cost / n) / ref
            choice = reward.argmax(1)
        else:
            budget = self.epsilon / 100.0 * self.n_calibration_
            sol = solve_min_cost(cost, loss + self.safety * stderr, budget)
            choice = sol.choice
        choice = np.where(size == 0, CLOUD, choice)  # no evidence: stay safe
        # objective for picking beta: budget -> cost (feasible first); reward -> -reward
        rows = np.arange(len(choice))
        if self.policy == "reward":
            total = -float(reward[rows, choice].sum())
        else:
            penal = (loss + self.safety * stderr)[rows, choice].sum()
            over = max(0.0, penal - self.epsilon / 100.0 * self.n_calibration_)
            total = float(cost[rows, choice].sum()) + 1e9 * over
        return choice, total

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
        t = self.costs_.tier_costs(self.m, self.n, self.num_layers_)
        L = self.num_layers_
        tier = np.where(option == EDGE_ESCALATE, EDGE, option)
        cost = t[tier].astype(float)
        if self.beta_ is not None:
            conf_n = split.probs[:, self.n - 1].max(1)
            up = (option == EDGE_ESCALATE) & (conf_n < self.beta_)
            tier = np.where(up, CLOUD, tier)
            cost = cost + up * self.costs_.escalation_cost(self.n, L)
        exit_layer = np.array([self.m, self.n, L])[tier]
        return Routing(tier=tier, exit_layer=exit_layer, cost=cost, cluster=cluster)

    def predict(self, split: Split) -> np.ndarray:
        """Class predictions: the answer of the exit each sample was routed to."""
        return self.route(split).predictions(split.probs)
