"""dimee_core.explore checked against independent computations on the shipped cache."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dimee_core import explore
from dimee_core.cache import load_cache
from dimee_core.costs import CostModel
from dimee_core.config import DIMEEConfig
from dimee_core.evaluate import evaluate, fit_routers, score_routing
from dimee_core.router import from_config

ROOT = Path(__file__).resolve().parent.parent
# The shipped cache; DIMEE_TEST_CACHE only points local runs elsewhere before it exists.
CACHE_DIR = Path(os.environ.get("DIMEE_TEST_CACHE", ROOT / "cache" / "rt-snippets"))


@pytest.fixture(scope="module")
def cache():
    return load_cache(CACHE_DIR)


@pytest.fixture(scope="module")
def cfg(cache):
    # every calibration sample fits (the stored defaults may name a fit part only)
    return replace(DIMEEConfig.for_cache(cache, k=min(6, cache.calibration.n)),
                   fit_fraction=1.0)


@pytest.fixture(scope="module")
def routers(cache, cfg):
    return fit_routers(cache, cfg)


def _final_acc(split) -> float:
    return float((split.probs[:, -1].argmax(1) == split.labels).mean())


@pytest.mark.slow
def test_one_fit_equals_two_fits(cache, cfg, routers):
    """fit_routers' DIMEE+ (DIMEE's fit re-solved) equals an independent DIMEE+ fit."""
    two = (from_config(cfg).fit(cache.calibration),
           from_config(cfg, escalate=True).fit(cache.calibration))
    for fast, slow in zip(routers, two):
        np.testing.assert_array_equal(fast.labels_, slow.labels_)
        np.testing.assert_array_equal(fast.cluster_tiers_, slow.cluster_tiers_)
        assert fast.beta_ == slow.beta_ and fast.escalate == slow.escalate


def test_cascade_extremes_match_fixed_tiers(cache, cfg):
    test, L = cache.test, cache.num_layers
    front = explore.cascade_sweep(cache, cfg, alphas=(0.0, 1.01))
    lo, hi = front.iloc[0], front.iloc[1]
    # alpha = 0: every mobile exit is confident, so it is "mobile only"
    assert lo["accuracy"] == pytest.approx(float((test.probs[:, cfg.m - 1].argmax(1)
                                                  == test.labels).mean()))
    assert lo["mean_cost"] == pytest.approx(cfg.m * cfg.costs.lambda_mobile)
    # alpha > 1: nothing is ever confident, everything climbs to the cloud via the edge
    assert hi["accuracy"] == pytest.approx(_final_acc(test))
    assert hi["accuracy_drop_pp"] == pytest.approx(0.0)
    c = cfg.costs
    via_edge = (cfg.m * c.lambda_mobile + c.o_edge + (cfg.n - cfg.m) * c.lambda_edge
                + c.o_edge_cloud + (L - cfg.n) * c.lambda_cloud)
    assert hi["mean_cost"] == pytest.approx(via_edge)
    ref = c.o_cloud + L * c.lambda_cloud
    assert hi["cost_reduction_pct"] == pytest.approx(100 * (1 - via_edge / ref))


@pytest.mark.slow
def test_router_sweep_matches_evaluate_and_restores_state(cache, cfg, routers):
    dimee, plus = routers
    before = (dimee.cluster_tiers_.copy(), plus.cluster_tiers_.copy())
    front = explore.frontiers(cache, cfg, routers)
    assert set(front["method"]) == {"dimee", "dimee_plus", "cascade"}
    assert np.array_equal(dimee.cluster_tiers_, before[0])
    assert np.array_equal(plus.cluster_tiers_, before[1])
    for eps in (0.0, 2.0, 30.0):
        ref = evaluate(cache, replace(cfg, policy="budget", epsilon=eps), n_boot=0)
        for method in ("dimee", "dimee_plus"):
            row = front[(front["method"] == method) & (front["value"] == eps)].iloc[0]
            assert row["accuracy"] == pytest.approx(ref.methods[method].accuracy)
            assert row["mean_cost"] == pytest.approx(ref.methods[method].mean_cost)
    mu = explore.router_sweep(dimee, cfg, cache.test, "mu", (0.0, 100.0), "dimee")
    # mu = 0 never trades accuracy for cost, a huge mu always does: cost cannot rise
    assert mu.iloc[1]["mean_cost"] <= mu.iloc[0]["mean_cost"] + 1e-9


def test_cost_breakdown_sums_to_route_cost(cache, cfg, routers):
    for mode in ("resume", "recompute"):
        c = replace(cfg, costs=CostModel(o_edge=1.5, o_cloud=7.0, o_edge_cloud=2.5,
                                         lambda_edge=0.5, mode=mode))
        ev = evaluate(cache, c, routers=routers, n_boot=0)
        for name in ("dimee", "dimee_plus"):
            r = ev.routings[name]
            esc = explore.via_edge(r)
            total = [sum(explore.cost_breakdown(c.costs, c.m, c.n, cache.num_layers, t,
                                                bool(e)).values())
                     for t, e in zip(r.tier, esc)]
            np.testing.assert_allclose(total, r.cost)
    evaluate(cache, cfg, routers=routers, n_boot=0)  # leave the shared routers as found


def test_sample_and_cluster_tables(cache, cfg, routers):
    ev = evaluate(cache, cfg, routers=routers, n_boot=0)
    r = ev.routings["dimee"]
    table = explore.sample_table(cache, cfg, r)
    assert len(table) == cache.test.n
    assert table["correct"].mean() == pytest.approx(ev.methods["dimee"].accuracy)
    assert table["cost"].mean() == pytest.approx(ev.methods["dimee"].mean_cost)
    # pools recomputed by hand: first exit whose confidence reaches alpha
    conf = cache.test.probs.max(2)
    for i in range(0, cache.test.n, max(1, cache.test.n // 50)):
        hits = np.flatnonzero(conf[i] >= cfg.alpha)
        e = hits[0] + 1 if hits.size else cache.num_layers
        want = "easy" if e <= cfg.m else "medium" if e <= cfg.n else "hard"
        assert table.at[i, "pool"] == want
    clusters = explore.cluster_table(ev.dimee, r.cluster)
    assert clusters["size"].sum() == cache.calibration.n
    assert clusters["test_size"].sum() == cache.test.n
    assert (clusters[["easy", "medium", "hard"]].sum(axis=1) == clusters["size"]).all()
    weighted = (clusters["acc_cloud"] * clusters["size"]).sum() / cache.calibration.n
    assert weighted == pytest.approx(_final_acc(cache.calibration))


def test_layer_accuracy_pools_and_projection(cache, cfg, routers):
    acc = explore.layer_accuracy(cache.test)
    ev = evaluate(cache, cfg, routers=routers, n_boot=0)
    assert acc["accuracy"].iloc[-1] == pytest.approx(ev.methods["all_in_cloud"].accuracy)
    shares = explore.pool_shares(cache.test, cfg.m, cfg.n)
    np.testing.assert_allclose(shares[["easy", "medium", "hard"]].sum(axis=1), 1.0)
    assert (np.diff(shares["easy"]) <= 1e-12).all()  # a stricter alpha never adds easy ones
    assert shares["hard"].iloc[-1] == pytest.approx(1.0)  # alpha > 1
    pts, centres = explore.projection(routers[0], cache.calibration, random_state=0)
    assert len(centres) == cfg.k
    if cache.calibration.n <= 4000:  # no subsampling: clusters are the fitted labels
        np.testing.assert_array_equal(pts["cluster"], routers[0].labels_)
    long = explore.confidence_long(cache.test, max_samples=50, random_state=0)
    assert len(long) == min(50, cache.test.n) * cache.num_layers


def test_trajectory_and_examples(cache):
    t = explore.trajectory(cache.test, 0, cache.label_names)
    np.testing.assert_allclose(t["confidence"], cache.test.probs[0].max(1), rtol=1e-6)
    with pytest.raises(ValueError):
        explore.trajectory(cache.test, cache.test.n, cache.label_names)
    ex = explore.example_samples(cache.test, 0.9, 2, 4)
    conf = cache.test.probs.max(2)
    if ex["easy"] is not None:
        assert conf[ex["easy"], :2].max() >= 0.9
    if ex["hard"] is not None:
        assert conf[ex["hard"], :4].max() < 0.9


def test_compare_results_difference(cache, cfg, routers):
    a = evaluate(cache, replace(cfg, costs=CostModel(o_cloud=2.0)), routers=routers,
                 n_boot=0).methods["dimee"]
    b = evaluate(cache, cfg, routers=routers, n_boot=0).methods["dimee"]
    d = explore.compare_results(a, b)
    np.testing.assert_allclose(d["difference"], d["b"] - d["a"])
    assert d.loc[0, "a"] == pytest.approx(100 * a.accuracy)


def test_fast_paths_match_the_core(cache, cfg, routers):
    dimee, plus = routers
    ev = evaluate(cache, cfg, routers=routers, n_boot=50)
    clusters = dimee.predict_cluster(cache.test)
    np.testing.assert_array_equal(clusters, ev.routings["dimee"].cluster)
    given = dimee.route(cache.test, clusters)  # precomputed clusters: same routing
    for field in ("tier", "exit_layer", "cost", "cluster"):
        np.testing.assert_array_equal(getattr(given, field), getattr(ev.routings["dimee"], field))
    fast = score_routing(cache, cfg, given, n_boot=50)
    assert "predict_cluster" not in dimee.__dict__  # the router is never patched
    assert fast == ev.methods["dimee"]  # same numbers and the same bootstrap CIs
    ev2 = evaluate(cache, cfg, routers=routers, n_boot=50, test_clusters=clusters)
    assert ev2.methods == ev.methods
    with pytest.raises(ValueError, match="clusters must be"):
        dimee.route(cache.test, clusters[:-1])


def test_cluster_table_phone_gate_matches_routing(cache, cfg, routers):
    """The 'gate' column is the phone confidence a DIMEE+ cluster's test samples need to
    be answered on the phone: check it against where they were actually answered."""
    plus = routers[1]
    route = plus.route(cache.test)
    table = explore.cluster_table(plus)
    conf_m = cache.test.probs[:, cfg.m - 1].max(1)
    for c, gate in zip(table["cluster"], table["gate"]):
        rows = route.cluster == c
        on_phone = route.tier[rows] == 0
        if np.isnan(gate):
            assert not on_phone.any()
        else:
            np.testing.assert_array_equal(on_phone, conf_m[rows] >= gate)


@pytest.mark.slow
def test_projection_of_a_single_routing_feature_is_a_strip(cache):
    """m = 1 with "conf" features gives one column (the defaults a guaranteed selection
    can store): the projection must not ask PCA for two components."""
    one = replace(DIMEEConfig.for_cache(cache, k=3), m=1, n=2, features="conf")
    router = fit_routers(cache, one)[0]
    pts, centres = explore.projection(router, cache.calibration, random_state=0)
    assert (pts["y"] == 0).all() and (centres["y"] == 0).all()
    conf1 = cache.calibration.probs[:, 0].max(1)
    order = np.argsort(conf1[pts["id"]])  # one axis: PCA keeps the order (up to sign)
    x = pts["x"].to_numpy()[order]
    assert (np.diff(x) >= -1e-9).all() or (np.diff(x) <= 1e-9).all()


def test_a_frontier_in_real_units_is_each_routing_scored_by_the_profile(cache, cfg, routers):
    """Each swept point's ms (mean, p95) and $ per million equal profiles.summarise of
    the same routing (re-made here through evaluate / baselines), against all-in-cloud's."""
    from dimee_core import baselines
    from dimee_core.objective import Objective
    from dimee_core.profiles import PRESETS, summarise
    from dimee_core.tokens import with_lengths

    lengths = with_lengths(cache)[0].test.lengths
    lte = PRESETS["LTE + cloud GPU"]
    figure = {"latency_ms": lambda s: s.latency_ms["mean"],
              "latency_p95_ms": lambda s: s.latency_ms["p95"],
              "usd": lambda s: s.money_per_million}
    for name, read in figure.items():
        front = explore.frontiers(cache, cfg, routers, objective=Objective(name, lte),
                                  lengths=lengths)
        abstract = explore.frontiers(cache, cfg, routers)
        assert (front["accuracy"] == abstract["accuracy"]).all()  # only the unit moved
        kw = dict(lengths=lengths, m=cfg.m, n=cfg.n, num_layers=cache.num_layers)
        ev = evaluate(cache, replace(cfg, policy="budget", epsilon=2.0), n_boot=0)
        cascade = baselines.cascade(cache.test.probs, 0.9, cfg.m, cfg.n, cfg.costs)
        for method, value, r in (("dimee", 2.0, ev.routings["dimee"]),
                                 ("dimee_plus", 2.0, ev.routings["dimee_plus"]),
                                 ("cascade", 0.9, cascade)):
            row = front[(front["method"] == method) & (front["value"] == value)].iloc[0]
            own = read(summarise(lte, r.tier, r.escalated, **kw))
            ref = read(summarise(lte, r.tier, None, **kw, reference=True))
            assert row["mean_cost"] == pytest.approx(own, rel=1e-9)
            assert row["cost_reduction_pct"] == pytest.approx(100 * (1 - own / ref), rel=1e-9)
    evaluate(cache, cfg, routers=routers, n_boot=0)  # leave the shared routers as found
    with pytest.raises(ValueError, match="token counts"):
        explore.frontiers(cache, cfg, routers, objective=Objective("usd", lte))
