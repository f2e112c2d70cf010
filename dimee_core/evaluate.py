"""DIMEE, DIMEE+ and every baseline on a cache's test split, under one configuration."""

from __future__ import annotations

import copy
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from . import baselines
from .cache import Cache
from .costs import CostModel
from .features import correct_matrix
from .metrics import MethodResult, score, tier_shares
from .profiles import (FALLBACK_TOKENS, LatencySLA, Profile, UnitCosts, UnitSummary, profile_from_dict,
                       sample_lengths, summarise)
from .router import DIMEERouter, Routing
from .splits import Split, fit_part

METHODS = ("dimee", "dimee_plus", "all_in_cloud", "mobile_only", "edge_only", "random",
           "cascade", "oracle")
METHOD_LABELS = {"dimee": "DIMEE", "dimee_plus": "DIMEE+", "all_in_cloud": "All in cloud",
                 "mobile_only": "Mobile only", "edge_only": "Edge only",
                 "random": "Random (DIMEE shares)", "cascade": "Confidence cascade",
                 "oracle": "Oracle (bound)"}
CLUSTER_PARAMS = ("m", "k", "features", "random_state")  # a change here refits k-means
OBJECTIVES = ("abstract", "latency_ms", "energy_mj", "usd")  # what the router minimises


@dataclass(frozen=True)
class DIMEEConfig:
    """Every knob of an evaluation. Defaults are the project's documented defaults."""

    m: int = 2
    n: int = 4
    k: int = 6
    alpha: float = 0.9
    features: str = "signals"
    policy: str = "budget"
    mu: float = 1.0
    epsilon: float = 0.3
    safety: float = 1.0
    random_state: int = 0
    costs: CostModel = field(default_factory=CostModel)
    # share of the calibration split the routers are fitted on (a seeded, stratified
    # part); the rest is what a guaranteed recommendation was certified on. 1: all of it
    fit_fraction: float = 1.0
    # Real units: minimise mean latency / phone energy / money under ``profile`` instead
    # of the abstract cost, optionally with "p95 latency <= latency_sla_ms".
    objective: str = "abstract"
    profile: Profile | None = None
    latency_sla_ms: float | None = None
    hidden_size: int = 384  # width of the shipped hidden state (the cache's meta)
    # DIMEE+ only: run as the confidence cascade it contains (every cluster gated at
    # gamma = beta = alpha at m, n). ``tune`` stores this when the cheapest certified
    # DIMEE+ setting is a cascade; the DIMEE+ router would pick other gates.
    as_cascade: bool = False

    def __post_init__(self) -> None:
        if self.profile is not None and not isinstance(self.profile, Profile):
            raise ValueError("profile must be a profiles.Profile")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.profile is None and (self.objective != "abstract"
                                     or self.latency_sla_ms is not None):
            raise ValueError("minimising latency, energy or money, or a latency SLA, needs a "
                             "device-and-network profile")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["costs"] = self.costs.to_dict()
        d["profile"] = self.profile.to_dict() if self.profile is not None else None
        return d

    def cost_objective(self):
        """What the routers minimise: the abstract costs or a profile's unit."""
        if self.objective == "abstract":
            return self.costs
        return UnitCosts(self.profile, self.objective, self.costs.mode, self.hidden_size)

    def sla(self) -> LatencySLA | None:
        if self.latency_sla_ms is None:
            return None
        return LatencySLA(UnitCosts(self.profile, "latency_ms", self.costs.mode,
                                    self.hidden_size), self.latency_sla_ms)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DIMEEConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown configuration keys: {sorted(unknown)}")
        d = dict(d)
        if isinstance(d.get("costs"), dict):
            d["costs"] = CostModel(**d["costs"])
        if isinstance(d.get("profile"), dict):
            d["profile"] = profile_from_dict(d["profile"])
        return cls(**d)

    @classmethod
    def for_cache(cls, cache: Cache, method: str = "dimee", **overrides: Any) -> "DIMEEConfig":
        """The cache's documented defaults (meta.json ``defaults``), then ``overrides``.
        ``method="dimee_plus"``: DIMEE+'s own certified defaults (``defaults["dimee_plus"]``,
        written by ``tune``) where the cache has them, else DIMEE's."""
        d = dict(cache.defaults)
        plus = d.get("dimee_plus")
        if method == "dimee_plus" and isinstance(plus, dict):
            if plus.get("method") == method:
                d.update(plus)
            elif plus.get("method") == "cascade":
                d.update(m=plus["m"], n=plus["n"], alpha=plus["alpha"], as_cascade=True)
        base = {k: v for k, v in d.items() if k in {f.name for f in fields(cls)}}
        base["hidden_size"] = int(cache.meta.get("hidden_size") or 384)
        return cls.from_dict({**base, **overrides})

    def fit_split(self, calibration: Split) -> Split:
        """The part of ``calibration`` the routers are fitted on."""
        if not 0.0 < self.fit_fraction <= 1.0:
            raise ValueError(f"fit_fraction must be in (0, 1], got {self.fit_fraction!r}")
        if self.fit_fraction == 1.0:
            return calibration
        return calibration.take(fit_part(calibration, self.fit_fraction, self.random_state)[0])

    def check(self, num_layers: int, n_calibration: int) -> None:
        """Raise ValueError unless this configuration can be fitted on a cache with
        ``num_layers`` exits and ``n_calibration`` calibration samples."""
        self.router().check_params(num_layers, n_calibration)

    def router(self, escalate: bool = False) -> DIMEERouter:
        return DIMEERouter(m=self.m, n=self.n, n_clusters=self.k, alpha=self.alpha,
                           features=self.features, policy=self.policy, mu=self.mu,
                           epsilon=self.epsilon, safety=self.safety, escalate=escalate,
                           cost_model=self.cost_objective(), latency_sla=self.sla(),
                           random_state=self.random_state)


def check_defaults(defaults: dict[str, Any], num_layers: int, n_calibration: int) -> None:
    """Raise ValueError (or TypeError) unless a cache's stored ``defaults`` make a valid
    configuration: the known keys with the right types and ranges, costs included.
    Other keys (notes such as ``chosen_by``) are left alone."""
    if not isinstance(defaults, dict):
        raise ValueError("defaults must be an object")
    known = {f.name for f in fields(DIMEEConfig)}
    plus = defaults.get("dimee_plus")
    if plus is not None and not isinstance(plus, dict):
        raise ValueError("dimee_plus must be an object")
    for layer in ({}, plus or {}):  # DIMEE's defaults, and DIMEE+'s on top of them
        d = {k: v for k, v in {**defaults, **layer}.items() if k in known}
        if "costs" in d and not isinstance(d["costs"], dict):
            raise ValueError("costs must be an object")
        DIMEEConfig.from_dict(d).check(num_layers, n_calibration)


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
                 hidden_size: int = 384) -> dict[str, UnitSummary]:
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
    dimee = config.router().fit(config.fit_split(cache.calibration))
    return dimee, plus_router(cache, config, plus_config or config, dimee)


def plus_router(cache: Cache, config: DIMEEConfig, plus_config: DIMEEConfig,
                fitted: DIMEERouter) -> DIMEERouter:
    """DIMEE+ at ``plus_config`` from a router ``fitted`` at ``config`` (left unchanged):
    a re-solved copy when both cluster alike, else a fit of its own."""
    if not same_clusters(config, plus_config):
        return plus_config.router(escalate=True).fit(plus_config.fit_split(cache.calibration))
    return resolve(copy.deepcopy(fitted).set_params(escalate=True), plus_config)


def resolve(router: DIMEERouter, config: DIMEEConfig) -> DIMEERouter:
    """Apply non-clustering settings (costs, n, alpha, policy, mu, epsilon, safety)
    to a fitted router and re-solve its k x tiers problem; no refit."""
    for p in CLUSTER_PARAMS:
        have = router.n_clusters if p == "k" else getattr(router, p)
        if have != getattr(config, p):
            raise ValueError(f"router was fitted with {p}={have!r}; refit for {getattr(config, p)!r}")
    router.set_params(n=config.n, alpha=config.alpha, policy=config.policy, mu=config.mu,
                      epsilon=config.epsilon, safety=config.safety,
                      cost_model=config.cost_objective(), latency_sla=config.sla())
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


def with_costs(config: DIMEEConfig, **cost_overrides: Any) -> DIMEEConfig:
    return replace(config, costs=replace(config.costs, **cost_overrides))
