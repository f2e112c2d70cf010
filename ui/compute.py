"""Cached services that fit and score: k-means routers, every method's results, the
selection's candidates, real-unit views, memoised per server with :func:`ui.memo.cached`
(loading and stored records live in the light :mod:`ui.memo`)."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import pandas as pd

from dimee_core import answer, explore, network as sweep, report, selection, summary
from dimee_core.cache import Cache
from dimee_core.evaluate import (DIMEEConfig, Evaluation, evaluate, fit_routers, resolve,
                                  score_routing, unit_results)
from dimee_core.metrics import MethodResult
from dimee_core.objective import Objective
from dimee_core.recommendation import Recommendation
from dimee_core.profiles import Profile, UnitSummary, per_request, summarise
from dimee_core.router import DIMEERouter, Routing
from ui.memo import APP_DIR, cached, mtime, with_tokens

RESULTS_FILE = APP_DIR / "docs" / "results.json"  # python -m dimee_core report
INTERACTIVE_BOOT = 200  # bootstrap resamples for live KPIs: ~ms, CIs still usable


# ---------------------------------------------------------------- fitting and results

@dataclass
class RouterPair:
    lock: threading.Lock
    dimee: DIMEERouter
    plus: DIMEERouter
    test_clusters: Any  # [N] test-split clusters: fixed for a fit, whatever the costs


@cached(show_spinner="Clustering the calibration split…", max_entries=16)
def _fitted(cache: Cache, m: int, k: int, features: str, random_state: int,
            fit_fraction: float) -> RouterPair:
    cfg = DIMEEConfig.for_cache(cache, m=m, n=m + 1, k=k, features=features,
                                random_state=random_state, fit_fraction=fit_fraction)
    dimee, plus = fit_routers(cache, cfg)
    return RouterPair(threading.Lock(), dimee, plus, dimee.predict_cluster(cache.test))


def pair(cache: Cache, cfg: DIMEEConfig) -> RouterPair:
    """The k-means-fitted routers of cfg's clustering (shared: re-solve under the lock)."""
    return _fitted(cache, cfg.m, cfg.k, cfg.features, cfg.random_state, cfg.fit_fraction)


@contextmanager
def routers(cache: Cache, cfg: DIMEEConfig) -> Iterator[tuple[DIMEERouter, DIMEERouter]]:
    """Fitted routers for cfg's clustering, re-solved for cfg, held under their lock."""
    p = pair(cache, cfg)
    with p.lock:
        resolve(p.dimee, cfg)
        resolve(p.plus, cfg)
        yield p.dimee, p.plus


def _dimee_routing(cache: Cache, cfg: DIMEEConfig) -> Routing:
    """DIMEE's test routing at cfg (DIMEE only: DIMEE+'s re-solve is 7x dearer)."""
    p = pair(cache, cfg)
    with p.lock:
        return resolve(p.dimee, cfg).route(cache.test, p.test_clusters)


@cached(max_entries=64)
def _kpis(cache: Cache, cfg: DIMEEConfig, n_boot: int) -> MethodResult:
    return score_routing(cache, cfg, _dimee_routing(cache, cfg), n_boot)


def kpis(cache: Cache, cfg: DIMEEConfig, n_boot: int = INTERACTIVE_BOOT) -> MethodResult:
    """DIMEE's headline numbers only (identical to results().evaluation's): drawn
    before the full evaluation so the KPIs update first after a slider move."""
    return _kpis(cache, cfg, n_boot)


@dataclass(frozen=True)
class Results:
    """Everything pages draw from one configuration (no live router references)."""

    evaluation: Evaluation
    clusters: pd.DataFrame  # DIMEE's per-cluster table
    clusters_plus: pd.DataFrame
    escalated: Any  # [N] bool, DIMEE+ samples the edge handed to the cloud
    beta_plus: float | None

    def to_json(self, cache: Cache | None = None, units: dict[str, UnitSummary] | None = None,
                profile: Profile | None = None) -> dict[str, Any]:
        """Configuration, every method's results, both routers' per-cluster decisions
        and (given the cache) which build of which cache produced them; with ``units``,
        every method's real-unit figures under ``profile`` too."""
        out = {**self.evaluation.to_json(units), "dimee_plus_beta": self.beta_plus,
               "clusters": {"dimee": _records(self.clusters),
                            "dimee_plus": _records(self.clusters_plus)}}
        if cache is not None:
            out["cache"] = {"name": cache.name, "build_id": cache.build_id,
                            "built_at": cache.meta.get("built_at"),
                            "model_id": cache.meta.get("model_id")}
        if units is not None and profile is not None:
            out["profile"] = profile.to_dict()
        return out


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows (NaN -> null: a DIMEE+ cluster the phone never answers)."""
    return json.loads(df.to_json(orient="records"))


@cached(max_entries=64)
def _results(cache: Cache, cfg: DIMEEConfig, n_boot: int) -> Results:
    test_clusters = pair(cache, cfg).test_clusters
    with routers(cache, cfg) as (dimee, plus):
        ev = evaluate(cache, cfg, routers=(dimee, plus), n_boot=n_boot,
                      test_clusters=test_clusters)
        return Results(ev,
                       explore.cluster_table(dimee, ev.routings["dimee"].cluster),
                       explore.cluster_table(plus, ev.routings["dimee_plus"].cluster),
                       explore.via_edge(ev.routings["dimee_plus"]), plus.beta_)


def results(cache: Cache, cfg: DIMEEConfig, n_boot: int = INTERACTIVE_BOOT) -> Results:
    """Evaluation of every method at cfg (memoised per config; k-means cached apart)."""
    return _results(cache, cfg, n_boot)


@cached("data", show_spinner="Sweeping the frontiers…", max_entries=32)
def frontiers(cache: Cache, cfg: DIMEEConfig, objective: Objective | None = None
              ) -> pd.DataFrame:
    """The frontier sweeps at cfg; costs in ``objective``'s unit when it is a real one."""
    lengths = None if objective is None else with_tokens(cache)[0].test.lengths
    with routers(cache, cfg) as both:
        return explore.frontiers(cache, cfg, both, objective=objective, lengths=lengths)


@cached(show_spinner="Fitting and routing every candidate setting on the calibration "
                     "split…", max_entries=8)
def _candidates(cache: Cache, base: DIMEEConfig) -> selection.Candidates:
    return selection.evaluate_candidates(cache.calibration, base)


def candidates(cache: Cache, cfg: DIMEEConfig) -> selection.Candidates:
    """Every candidate of the selection under cfg's costs (its m, n, k, ... are searched;
    only the costs, α of the pools policy and the seed are taken from cfg). Read-only
    for callers: ``routing`` copies the router it needs."""
    base = DIMEEConfig(alpha=cfg.alpha, random_state=cfg.random_state, costs=cfg.costs)
    return _candidates(cache, base)


@cached(max_entries=16)  # shared, read-only: drawn above the KPIs on every Overview run
def _headline(cache: Cache, results_stamp: float) -> pd.DataFrame | None:
    result = report.load_results(RESULTS_FILE)
    return None if result is None else report.headline_table(result, cache)


def headline(cache: Cache) -> pd.DataFrame | None:
    """The report's calibration-tuned operating points for this cache (None for a cache
    the shipped report does not cover, or covers in another build)."""
    return _headline(cache, mtime(RESULTS_FILE))


@cached(max_entries=16)  # shared: read-only for callers (with_test copies)
def recommendation(cache: Cache) -> Recommendation:
    """The cache's recommended method at its stored setting (independent of the sidebar),
    computed, with its test routings (what real units rescore)."""
    with routers(cache, DIMEEConfig.for_cache(cache)) as both:  # the default view's fit
        return summary.recommend(cache, routers=both, n_boot=answer.N_BOOT)


# ---------------------------------------------------------------- real units

def route_units(cache: Cache, cfg: DIMEEConfig, routing: Routing, profile: Profile
                ) -> tuple[UnitSummary, UnitSummary]:
    """One test-split routing made at ``cfg`` and all-in-cloud, in ``profile``'s units
    (a few passes over N: cheap enough to run uncached)."""
    lengths = with_tokens(cache)[0].test.lengths
    args = (cfg.m, cfg.n, cache.num_layers, cfg.costs.mode, cfg.hidden_size)
    return (summarise(profile, routing.tier, routing.escalated, lengths, *args),
            summarise(profile, routing.tier, None, lengths, *args, reference=True))


@cached(max_entries=64)
def unit_kpis(cache: Cache, cfg: DIMEEConfig, profile: Profile
              ) -> tuple[UnitSummary, UnitSummary]:
    """DIMEE's and all-in-cloud's figures in real units (the KPI fast path)."""
    return route_units(cache, cfg, _dimee_routing(cache, cfg), profile)


@cached(max_entries=32)
def unit_view(cache: Cache, cfg: DIMEEConfig, profile: Profile
              ) -> tuple[dict[str, UnitSummary], dict[str, Any]]:
    """Every method in real units, and its per-sample latencies (for distributions)."""
    ev = results(cache, cfg).evaluation
    lengths = with_tokens(cache)[0].test.lengths
    summaries = unit_results(ev, profile, lengths, cfg.hidden_size)
    latencies = {name: per_request(profile, "latency_ms", r.tier, r.escalated, lengths, cfg.m,
                                   cfg.n, cache.num_layers, cfg.costs.mode, cfg.hidden_size
                                   )[1 if name == "all_in_cloud" else 0]
                 for name, r in ev.routings.items()}
    return summaries, latencies


@cached("data", max_entries=32)
def recommendation_units(cache: Cache, profile: Profile
                         ) -> dict[str, tuple[UnitSummary, UnitSummary]]:
    """Each method of the cache's recommendation as (own, all-in-cloud) in ``profile``'s
    units: its own test routings rescored (memoised: the Overview redraws it every run)."""
    rec = recommendation(cache)
    return {m: route_units(cache, rec.config_of(m), rec.routings[m], profile)
            for m in rec.test}


@cached("data", show_spinner="Sweeping every split and k on the calibration split…",
        max_entries=16)
def network(cache: Cache, cfg: DIMEEConfig, ks: tuple[int, ...]):
    """Every (m, n, k) for cfg's profile and objective, compared on calibration; the
    calibration-cheapest cell's test evaluation (None when no cell qualifies)."""
    return sweep.best_split(with_tokens(cache)[0], cfg, ks, INTERACTIVE_BOOT)
