import numpy as np
import pytest

from dimee_core import baselines
from dimee_core.splits import Split
from dimee_core.costs import CostModel
from dimee_core.config import DIMEEConfig
from dimee_core.evaluate import evaluate


def _acc(split, layer):
    return float((split.probs[:, layer - 1].argmax(1) == split.labels).mean())


@pytest.mark.slow
def test_fixed_baselines_by_hand(shipped):
    """Every fixed baseline against a hand count on the arrays and the cost formulas of
    DIMEE.md (resume mode): mobile m, edge m + o_edge + (n - m), cloud reference o_cloud + L."""
    ev = evaluate(shipped, n_boot=0)
    cfg, test, L = ev.config, shipped.test, shipped.num_layers
    c = cfg.costs
    ref = c.o_cloud + L * c.lambda_cloud
    cloud = ev.methods["all_in_cloud"]
    assert cloud.accuracy == pytest.approx(_acc(test, L)) and cloud.mean_cost == ref
    mobile, edge = ev.methods["mobile_only"], ev.methods["edge_only"]
    assert mobile.accuracy == pytest.approx(_acc(test, cfg.m))
    assert edge.accuracy == pytest.approx(_acc(test, cfg.n))
    assert mobile.mean_cost == pytest.approx(cfg.m * c.lambda_mobile)
    assert edge.mean_cost == pytest.approx(cfg.m * c.lambda_mobile + c.o_edge
                                           + (cfg.n - cfg.m) * c.lambda_edge)
    assert mobile.cost_reduction_pct == pytest.approx(100 * (1 - cfg.m * c.lambda_mobile / ref))
    assert mobile.accuracy_drop_pp == pytest.approx(100 * (_acc(test, L) - _acc(test, cfg.m)))
    # the oracle: the cheapest of mobile / edge / cloud that is right, else the mobile
    right = test.probs[:, [cfg.m - 1, cfg.n - 1, L - 1]].argmax(2) == test.labels[:, None]
    tier_cost = [cfg.m * c.lambda_mobile, edge.mean_cost,
                 cfg.m * c.lambda_mobile + c.o_cloud + (L - cfg.m) * c.lambda_cloud]
    by_hand = np.where(right[:, 0], tier_cost[0], np.where(right[:, 1], tier_cost[1],
                                                           np.where(right[:, 2], tier_cost[2],
                                                                    tier_cost[0])))
    assert ev.methods["oracle"].accuracy == pytest.approx(right.any(1).mean())
    assert ev.methods["oracle"].mean_cost == pytest.approx(by_hand.mean())


@pytest.mark.slow
def test_reduction_and_drop_of_every_method_by_hand(shipped):
    """Each method's reported numbers recomputed from its own routing, independently of
    metrics.score: accuracy from the answering exit, cost from the per-sample costs."""
    ev = evaluate(shipped, n_boot=200)
    test, L = shipped.test, shipped.num_layers
    ref_cost = ev.config.costs.reference_cost(L)
    ref_acc = _acc(test, L)
    for name, r in ev.methods.items():
        route = ev.routings[name]
        answer = test.probs[np.arange(test.n), route.exit_layer - 1].argmax(1)
        acc = float((answer == test.labels).mean())
        assert r.accuracy == pytest.approx(acc)
        assert r.accuracy_drop_pp == pytest.approx(100 * (ref_acc - acc))
        assert r.cost_reduction_pct == pytest.approx(100 * (1 - route.cost.mean() / ref_cost))
        shares = np.bincount(route.tier, minlength=3) / test.n
        assert [r.tier_shares[t] for t in ("mobile", "edge", "cloud")] == pytest.approx(shares)
    # each 95 % interval against the normal approximation of its own paired differences:
    # an unpaired, rescaled, swapped or other method's interval lands outside the band
    ref_correct = test.probs[:, L - 1].argmax(1) == test.labels
    with_ci = [name for name, r in ev.methods.items() if r.drop_ci95 is not None]
    assert {"dimee", "dimee_plus", "cascade"} <= set(with_ci)
    for name in with_ci:
        r, route = ev.methods[name], ev.routings[name]
        answered = test.probs[np.arange(test.n), route.exit_layer - 1].argmax(1) == test.labels
        diff = 100 * (ref_correct.astype(np.float64) - answered)
        lo, hi = r.drop_ci95
        if np.ptp(diff) == 0:  # every resample has the same mean: the interval is a point
            assert lo == hi == pytest.approx(diff[0])
            continue
        se = diff.std(ddof=1) / np.sqrt(test.n)
        d = r.accuracy_drop_pp
        assert 1.4 < (d - lo) / se < 2.6 and 1.4 < (hi - d) / se < 2.6, (name, lo, d, hi, se)
    rand = ev.methods["random"].tier_shares
    for t, share in ev.methods["dimee"].tier_shares.items():
        assert rand[t] == pytest.approx(share, abs=1 / shipped.test.n)


def _on_threshold(conf_m: float, conf_n: float) -> np.ndarray:
    """One 2-class sample, L = 4, with exactly these exit-1 and exit-2 confidences."""
    probs = np.full((1, 4, 2), 0.5, np.float32)
    probs[0, 0] = [conf_m, 1 - conf_m]
    probs[0, 1] = [conf_n, 1 - conf_n]
    return probs


def test_cascade_answers_a_sample_lying_exactly_on_alpha():
    """c >= alpha, not >: a sample whose confidence equals alpha exits there (0.75 is
    exact in float32)."""
    r = baselines.cascade(_on_threshold(0.75, 0.6), 0.75, 1, 2, CostModel())
    assert r.tier[0] == 0
    r = baselines.cascade(_on_threshold(0.6, 0.75), 0.75, 1, 2, CostModel())
    assert r.tier[0] == 1
    r = baselines.cascade(_on_threshold(0.6, 0.7499), 0.75, 1, 2, CostModel())
    assert r.tier[0] == 2


def test_cascade_and_dimee_plus_gates_compare_in_the_same_dtype():
    """float32(0.9) = 0.89999998 lies below the float64 gate 0.9: the cascade at alpha 0.9
    and DIMEE+'s phone gate 0.9 must agree on it (float32 comparison would send it to the
    mobile in the cascade and to the edge in DIMEE+)."""
    from dimee_core.router import GATED, DIMEERouter
    from dimee_core.stats import BETA_GRID, GATE_GRID

    probs = _on_threshold(float(np.float32(0.9)), 0.99)
    assert baselines.cascade(probs, 0.9, 1, 2, CostModel()).tier[0] == 1  # not the mobile
    split = Split(np.array([0]), probs, np.zeros((1, 4, 2), np.float32), ("x",))
    router = DIMEERouter(m=1, n=2, n_clusters=1, features="conf", escalate=True).fit(split)
    g = int(np.flatnonzero(np.isclose(GATE_GRID, 0.9))[0])
    router.cluster_tiers_ = np.array([GATED + g])
    router.beta_ = float(BETA_GRID[1 + g])
    assert router.route(split).tier[0] == 1
    # and the calibration statistics count it as not answered on the phone at gate 0.9
    s = router.stats_
    assert s.gated_to_edge[2, 1 + g, g, 0] == 1


def test_cascade_by_hand():
    probs = np.array([  # 3 samples, L=4, 2 classes; m=1, n=2
        [[0.95, 0.05], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1]],   # sure at m -> mobile
        [[0.6, 0.4], [0.05, 0.95], [0.1, 0.9], [0.1, 0.9]],   # sure at n -> edge
        [[0.6, 0.4], [0.55, 0.45], [0.3, 0.7], [0.2, 0.8]],   # unsure -> cloud via edge
    ], dtype=np.float32)
    c = CostModel()
    r = baselines.cascade(probs, 0.9, 1, 2, c)
    np.testing.assert_array_equal(r.tier, [0, 1, 2])
    np.testing.assert_array_equal(r.exit_layer, [1, 2, 4])
    # mobile 1; edge 1 + 2 + 1; cloud via edge 4 + 3 + 2 layers
    np.testing.assert_allclose(r.cost, [1, 4, 9])


def test_oracle_picks_cheapest_correct():
    probs = np.array([[[0.9, 0.1], [0.9, 0.1], [0.9, 0.1]],
                      [[0.1, 0.9], [0.9, 0.1], [0.9, 0.1]],
                      [[0.1, 0.9], [0.1, 0.9], [0.9, 0.1]],
                      [[0.1, 0.9], [0.1, 0.9], [0.1, 0.9]]], dtype=np.float32)
    r = baselines.oracle(probs, np.array([0, 0, 0, 0]), 1, 2, CostModel())
    np.testing.assert_array_equal(r.tier, [0, 1, 2, 0])


@pytest.mark.slow
def test_raising_o_cloud_with_routing_fixed(shipped):
    cfg = DIMEEConfig.for_cache(shipped)
    ev = evaluate(shipped, cfg, n_boot=0)
    tiers = ev.routings["dimee"].tier
    import dataclasses
    for o in (6.0, 10.0, 20.0):
        c2 = dataclasses.replace(cfg.costs, o_cloud=o)
        t = c2.tier_costs(cfg.m, cfg.n, shipped.num_layers)
        red = 100 * (1 - t[tiers].mean() / c2.reference_cost(shipped.num_layers))
        assert red >= ev.methods["dimee"].cost_reduction_pct - 1e-9
