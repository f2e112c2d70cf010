import numpy as np
import pytest

from dimee_core import baselines
from dimee_core.costs import CostModel
from dimee_core.evaluate import DIMEEConfig, evaluate


def test_all_in_cloud_is_final_exit(shipped):
    ev = evaluate(shipped, n_boot=0)
    final = (shipped.test.probs[:, -1].argmax(1) == shipped.test.labels).mean()
    assert ev.methods["all_in_cloud"].accuracy == pytest.approx(final)
    assert ev.methods["all_in_cloud"].cost_reduction_pct == 0
    cfg = ev.config
    exit_m = (shipped.test.probs[:, cfg.m - 1].argmax(1) == shipped.test.labels).mean()
    exit_n = (shipped.test.probs[:, cfg.n - 1].argmax(1) == shipped.test.labels).mean()
    assert ev.methods["mobile_only"].accuracy == pytest.approx(exit_m)
    assert ev.methods["edge_only"].accuracy == pytest.approx(exit_n)
    assert ev.methods["mobile_only"].mean_cost == cfg.m * cfg.costs.lambda_mobile
    oracle = ev.methods["oracle"]
    any_right = (shipped.test.probs[:, [cfg.m - 1, cfg.n - 1, -1]].argmax(2)
                 == shipped.test.labels[:, None]).any(1).mean()
    assert oracle.accuracy == pytest.approx(any_right)
    assert oracle.mean_cost <= ev.methods["dimee"].mean_cost + 1e-9 or \
        oracle.accuracy >= ev.methods["dimee"].accuracy


def test_reduction_and_drop_definitions(shipped):
    ev = evaluate(shipped, n_boot=200)
    ref = ev.methods["all_in_cloud"]
    for name, r in ev.methods.items():
        assert r.cost_reduction_pct == pytest.approx(100 * (1 - r.mean_cost / ref.mean_cost))
        assert r.accuracy_drop_pp == pytest.approx(100 * (ref.accuracy - r.accuracy))
        assert sum(r.tier_shares.values()) == pytest.approx(1.0)
    lo, hi = ev.methods["dimee"].drop_ci95
    assert lo <= ev.methods["dimee"].accuracy_drop_pp <= hi
    rand = ev.methods["random"].tier_shares
    for t, share in ev.methods["dimee"].tier_shares.items():
        assert rand[t] == pytest.approx(share, abs=1 / shipped.test.n)


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
