"""DIMEE, DIMEE+ and every baseline on a cache's test split, under one configuration."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import baselines
from .cache import Cache
from .config import BY_NAME, CLUSTER_PARAMS, HIDDEN_SIZE, DIMEEConfig
from .costs import CostModel
from .features import correct_matrix
from .metrics import MethodResult, score, tier_shares
from .profiles import FALLBACK_TOKENS, Profile, UnitSummary, sample_lengths, summarise
from .router import DIMEERouter, Routing, from_config
from .splits import Split


@dataclass(frozen=True)
class Evaluation:
    dataset: str
    num_layers: int
    config: DIMEEConfig
    methods: dict[str, MethodResult]
    routings: dict[str, Routing]
    dimee: DIMEERouter
    dimee_plus: DIMEERouter
    plus_config: DIMEEConfig | None = None  # DIMEE+'s own setting when it differs

    def config_of(self, method: str) -> DIMEEConfig:
        """The setting a method's routing was made at (its m and n place the tiers)."""
        return self.plus_config or self.config if method == "dimee_plus" else self.config

    def to_json(self, units: dict[str, UnitSummary] | None = None) -> dict[str, Any]:
        """The evaluation as JSON; ``units`` (from :func:`unit_results`) add each
        method's latency_ms, phone_energy_mj, money_per_million and bytes_uplink."""
        methods = {k: {**v.to_dict(), **(units[k].to_dict() if units else {})}
                   for k, v in self.methods.items()}
        out = {"dataset": self.dataset, "L": self.num_layers, "config": self.config.to_dict(),
               "dimee_plus_beta": None if self.config_of("dimee_plus").as_cascade
               else self.dimee_plus.beta_, "methods": methods}
        if self.plus_config is not None and self.plus_config != self.config:
            out["dimee_plus_config"] = self.plus_config.to_dict()
        if self.config.latency_sla_ms is not None:
            out["sla_kept_accuracy_budget"] = self.sla_kept_budget()
        return out

    def sla_kept_budget(self) -> dict[str, bool]:
        """Per router: did meeting the p95 SLA on calibration leave the accuracy budget
        (epsilon) intact? False: the SLA won and the drop was minimised under it."""
        return {"dimee": bool(self.dimee.sla_kept_budget_),
                "dimee_plus": bool(self.dimee_plus.sla_kept_budget_)}


def unit_results(ev: Evaluation, profile: Profile, lengths: np.ndarray,
                 hidden_size: int = HIDDEN_SIZE) -> dict[str, UnitSummary]:
    """Every method's test routing in real units under ``profile``. Routings do not
    change with the profile, so a profile change costs only this (no re-solve)."""
    if lengths.shape != ev.routings["dimee"].tier.shape:
        raise ValueError(f"need one token count per test sample, got {lengths.shape}")
    return {name: summarise(profile, r.tier, r.escalated, lengths, ev.config_of(name).m,
                            ev.config_of(name).n, ev.num_layers, ev.config.costs.mode,
                            hidden_size, reference=name == "all_in_cloud")
            for name, r in ev.routings.items()}


def same_clusters(a: DIMEEConfig, b: DIMEEConfig) -> bool:
    """Both configs cluster the same samples the same way (one k-means serves both)."""
    return all(getattr(a, p) == getattr(b, p) for p in (*CLUSTER_PARAMS, "fit_fraction"))


def fit_routers(cache: Cache, config: DIMEEConfig, plus_config: DIMEEConfig | None = None
                ) -> tuple[DIMEERouter, DIMEERouter]:
    """Fit DIMEE and DIMEE+ on the calibration split with one k-means fit: fitting
    ignores ``escalate`` (the DIMEE+ statistics are always collected), so DIMEE+ is
    DIMEE's fitted state re-solved with escalation on (with ``plus_config``'s solve
    settings when given). Only a DIMEE+ config that clusters differently fits again."""
    dimee = from_config(config).fit(config.fit_split(cache.calibration))
    return dimee, plus_router(cache, config, plus_config or config, dimee)


def plus_router(cache: Cache, config: DIMEEConfig, plus_config: DIMEEConfig,
                fitted: DIMEERouter) -> DIMEERouter:
    """DIMEE+ at ``plus_config`` from a router ``fitted`` at ``config`` (left unchanged):
    a re-solved copy when both cluster alike, else a fit of its own."""
    if not same_clusters(config, plus_config):
        return from_config(plus_config, escalate=True).fit(
            plus_config.fit_split(cache.calibration))
    return resolve(copy.deepcopy(fitted).set_params(escalate=True), plus_config)


def resolve(router: DIMEERouter, config: DIMEEConfig) -> DIMEERouter:
    """Apply non-clustering settings (costs, n, alpha, policy, mu, epsilon, safety)
    to a fitted router and re-solve its k x tiers problem; no refit."""
    fitted = {BY_NAME[p].arg for p in CLUSTER_PARAMS}
    for p in CLUSTER_PARAMS:
        have = getattr(router, BY_NAME[p].arg)
        if have != getattr(config, p):
            raise ValueError(f"router was fitted with {p}={have!r}; refit for {getattr(config, p)!r}")
    router.set_params(**{k: v for k, v in config.router_kwargs().items() if k not in fitted})
    return router.solve()


def plus_routing(split: Split, plus_config: DIMEEConfig, dimee_plus: DIMEERouter,
                 clusters: np.ndarray | None = None) -> Routing:
    """DIMEE+'s routing of ``split`` (abstract costs): its router's, or the cascade it
    contains when its setting is one (``as_cascade``)."""
    c = plus_config
    if c.as_cascade:
        return baselines.cascade(split.probs, c.alpha, c.m, c.n, c.costs)
    return _abstract(dimee_plus.route(split, clusters), split, c.costs, dimee_plus)


def all_routings(cache: Cache, config: DIMEEConfig, dimee: DIMEERouter,
                 dimee_plus: DIMEERouter, test_clusters: np.ndarray | None = None,
                 plus_config: DIMEEConfig | None = None) -> dict[str, Routing]:
    test, L, c = cache.test, cache.num_layers, config.costs
    N, m, n = test.n, config.m, config.n
    if test_clusters is None:
        test_clusters = dimee.predict_cluster(test)
    r_dimee = _abstract(dimee.route(test, test_clusters), test, c, dimee)
    shared = dimee_plus.kmeans_ is dimee.kmeans_ or (  # a deep copy of DIMEE's fit
        dimee_plus.n_clusters == dimee.n_clusters and np.array_equal(
            dimee_plus.kmeans_.cluster_centers_, dimee.kmeans_.cluster_centers_))
    return {
        "dimee": r_dimee,
        "dimee_plus": plus_routing(test, plus_config or config, dimee_plus,
                                   test_clusters if shared else None),
        "all_in_cloud": baselines.all_in_cloud(N, L, c),
        "mobile_only": baselines.fixed_tier(N, 0, m, n, L, c),
        "edge_only": baselines.fixed_tier(N, 1, m, n, L, c),
        "random": baselines.random_routing(N, np.array(list(tier_shares(r_dimee.tier).values())),
                                           m, n, L, c, config.random_state),
        "cascade": baselines.cascade(test.probs, config.alpha, m, n, c),
        "oracle": baselines.oracle(test.probs, test.labels, m, n, c),
    }


def _abstract(r: Routing, split, costs: CostModel, router: DIMEERouter) -> Routing:
    """A router's routing with its costs in the abstract unit (what every method is
    scored in), whatever unit the router minimised."""
    if router.cost_model is None or isinstance(router.cost_model, CostModel):
        return r
    polys = costs.route_polynomials(router.m, router.n, split.probs.shape[1])
    return replace(r, cost=polys.per_sample(r.tier, r.escalated,
                                            sample_lengths(split.lengths, split.n)))


def score_routing(cache: Cache, config: DIMEEConfig, routing: Routing,
                  n_boot: int = 0) -> MethodResult:
    """Score one routing on the test split against all-in-cloud (the final exit)."""
    test, L = cache.test, cache.num_layers
    ref_correct = correct_matrix(test.probs, test.labels)[:, L - 1]
    return score(routing.predictions(test.probs), test.labels, routing.cost, routing.tier,
                 ref_correct, config.costs.reference_cost(L), n_boot, config.random_state)


def evaluate(cache: Cache, config: DIMEEConfig | None = None,
             routers: tuple[DIMEERouter, DIMEERouter] | None = None,
             n_boot: int = 1000, test_clusters: np.ndarray | None = None,
             plus_config: DIMEEConfig | None = None) -> Evaluation:
    """Score every method on the test split. Pass fitted ``routers`` to skip k-means,
    and their ``test_clusters`` (``predict_cluster(cache.test)``) to skip predicting.
    Without ``config``, DIMEE and DIMEE+ each run at the cache's own defaults."""
    if config is None:
        config = DIMEEConfig.for_cache(cache)
        plus_config = plus_config or DIMEEConfig.for_cache(cache, "dimee_plus")
    plus_config = plus_config or config
    for c in (config, plus_config):
        if c.k > cache.calibration.n:
            raise ValueError(f"k={c.k} exceeds the {cache.calibration.n} calibration samples")
    if config.profile is not None and any(s.lengths is None for s in (cache.calibration,
                                                                       cache.test)):
        warnings.warn(f"{cache.name}: no token counts; real units assume {FALLBACK_TOKENS} "
                      f"tokens per sample (tokens.with_lengths recomputes them)")
    dimee, plus = routers if routers is not None else fit_routers(cache, config, plus_config)
    if routers is not None:
        resolve(dimee, config)
        resolve(plus, plus_config)
    routings = all_routings(cache, config, dimee, plus, test_clusters, plus_config)
    methods = {name: score_routing(cache, config, r, n_boot if name in (
        "dimee", "dimee_plus", "cascade") else 0) for name, r in routings.items()}
    return Evaluation(cache.name, cache.num_layers, config, methods, routings, dimee, plus,
                      None if plus_config == config else plus_config)

