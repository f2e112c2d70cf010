import numpy as np
import pytest
from sklearn.cluster import KMeans

from dimee_core.costs import CostModel
from dimee_core.features import correct_matrix
from dimee_core.router import CLOUD, DIMEERouter

from .conftest import synthetic_split


@pytest.mark.slow
def test_sklearn_conventions(split):
    r = DIMEERouter(n_clusters=5, random_state=1)
    assert r.get_params()["n_clusters"] == 5
    assert not hasattr(r, "kmeans_")
    r.fit(split)
    assert r.labels_.shape == (split.n,) and r.cluster_tiers_.shape == (5,)
    tiers = r.route(split).tier
    assert set(np.unique(tiers)) <= {0, 1, 2}


@pytest.mark.slow
def test_deterministic_with_random_state(split):
    a = DIMEERouter(n_clusters=6, random_state=3).fit(split).route(split)
    b = DIMEERouter(n_clusters=6, random_state=3).fit(split).route(split)
    np.testing.assert_array_equal(a.tier, b.tier)


@pytest.mark.slow
def test_cost_change_does_not_refit(split, monkeypatch):
    r = DIMEERouter(n_clusters=6, policy="budget", epsilon=1.0).fit(split)
    centers, labels = r.kmeans_.cluster_centers_.copy(), r.labels_.copy()
    monkeypatch.setattr(KMeans, "fit", lambda *a, **k: pytest.fail("k-means refitted"))
    before = r.route(split)
    r.set_params(cost_model=CostModel(o_cloud=50.0, o_edge=0.1), n=5, epsilon=3.0)
    r.solve()
    after = r.route(split)
    np.testing.assert_array_equal(r.kmeans_.cluster_centers_, centers)
    np.testing.assert_array_equal(r.labels_, labels)
    np.testing.assert_array_equal(before.cluster, after.cluster)
    assert after.cost.mean() != before.cost.mean()


@pytest.mark.slow
def test_budget_respects_epsilon_on_calibration(split):
    for eps in (0.0, 1.0, 5.0):
        r = DIMEERouter(n_clusters=8, policy="budget", epsilon=eps, safety=0.0).fit(split)
        route = r.route(split)
        correct = correct_matrix(split.probs, split.labels)
        got = correct[np.arange(split.n), route.exit_layer - 1].mean()
        drop_pp = 100 * (correct[:, -1].mean() - got)
        assert drop_pp <= eps + 1e-9


@pytest.mark.slow
def test_larger_epsilon_never_costs_more(split):
    r = DIMEERouter(n_clusters=8, policy="budget", safety=0.0).fit(split)
    costs = []
    for eps in (0.0, 0.5, 1, 2, 5, 10, 100):
        r.set_params(epsilon=eps).solve()
        costs.append(r.route(split).cost.mean())
    assert all(b <= a + 1e-9 for a, b in zip(costs, costs[1:]))
    assert costs[-1] == pytest.approx(2.0)  # unlimited drop: everything on the mobile


@pytest.mark.slow
def test_safety_margin_is_conservative():
    """A cluster whose mobile exit is right by luck must not be trusted with a margin.

    Mobile and cloud disagree on half of the samples in every cluster; on calibration the
    mobile looks marginally better by chance, on fresh data it is a coin flip. With
    safety 0 the solver moves everything to the mobile; with a margin it keeps the cloud.
    """
    rng = np.random.default_rng(0)
    cal = synthetic_split(2000, seed=5)
    no_margin = DIMEERouter(n_clusters=4, epsilon=0.3, safety=0.0, features="embed").fit(cal)
    margin = DIMEERouter(n_clusters=4, epsilon=0.3, safety=2.0, features="embed").fit(cal)
    share = lambda r: (r.route(cal).tier == CLOUD).mean()
    assert share(margin) >= share(no_margin)
    test = synthetic_split(2000, seed=6)
    drop = lambda r: 100 * ((test.probs[:, -1].argmax(1) == test.labels).mean()
                            - (r.predict(test) == test.labels).mean())
    assert drop(margin) <= max(drop(no_margin), 0.3) + 1e-9
    del rng


@pytest.mark.slow
def test_pools_policy_follows_majority_pool(split):
    r = DIMEERouter(n_clusters=6, policy="pools", alpha=0.8).fit(split)
    np.testing.assert_array_equal(r.cluster_tiers_, r.pool_mix().argmax(1))


@pytest.mark.slow
def test_reward_mu_zero_maximises_accuracy(split):
    r = DIMEERouter(n_clusters=6, policy="reward", mu=0.0).fit(split)
    s = r.stats_
    best = np.stack([s.correct[:, 1], s.correct[:, 3], s.correct[:, 5]], 1).max(1)
    chosen = np.stack([s.correct[:, 1], s.correct[:, 3], s.correct[:, 5]], 1)[
        np.arange(6), r.cluster_tiers_]
    np.testing.assert_array_equal(chosen, best)


@pytest.mark.parametrize("params, message", [
    ({"m": 3, "n": 3}, "1 <= m < n < L"),
    ({"n_clusters": 0}, "n_clusters must be an integer"),
    ({"n_clusters": 10_000}, r"n_clusters must be an integer \[1, 400\]"),
    ({"policy": "vibes"}, "policy must be one of"),
    ({"features": "pixels"}, "features must be one of"),
    ({"alpha": 1.5}, "alpha must be a number"),
    ({"epsilon": -1}, "epsilon must be a number"),
])
def test_bad_parameters(split, params, message):
    with pytest.raises(ValueError, match=message):
        DIMEERouter(**params).fit(split)


def test_dimee_plus_escalation_cost_by_hand():
    """DIMEE+ on an edge-routed sample pays edge + (o_edge_cloud + (L-n) lambda) only
    when the edge exit is unsure, and is then answered by the final exit."""
    s = synthetic_split(300, seed=2)
    r = DIMEERouter(n_clusters=1, escalate=True, policy="pools", alpha=0.0).fit(s)
    # alpha 0: every sample is easy -> mobile; force the single cluster onto edge+escalate
    from dimee_core.router import EDGE_ESCALATE
    r.cluster_tiers_ = np.array([EDGE_ESCALATE])
    r.beta_ = 0.8
    route = r.route(s)
    conf_n = s.probs[:, 3].max(1)
    c = CostModel()
    expected = np.where(conf_n < 0.8, 6 + 3 + 2, 6)
    np.testing.assert_allclose(route.cost, expected)
    np.testing.assert_array_equal(route.exit_layer, np.where(conf_n < 0.8, 6, 4))
    assert c.tier_costs(2, 4, 6)[1] == 6


@pytest.mark.slow
def test_gate_statistics_match_direct_count(split):
    """Per cluster, for every edge split n, beta and mobile gate gamma: mobile answers
    when c_m >= gamma, else the edge, which escalates to the cloud when c_n < beta."""
    from dimee_core.features import confidences
    from dimee_core.router import BETA_GRID, GATE_GRID
    r = DIMEERouter(n_clusters=4, m=2).fit(split)
    conf, corr = confidences(split.probs), correct_matrix(split.probs, split.labels)
    final, lab = corr[:, -1], r.labels_
    count = lambda w: np.bincount(lab, weights=w, minlength=4)
    for n in (3, 4, 5):
        for b, beta in enumerate(BETA_GRID):
            for g, gamma in enumerate(GATE_GRID):
                mob = conf[:, 1] >= gamma
                up = ~mob & (conf[:, n - 1] < beta)
                ans = np.where(mob, corr[:, 1], np.where(up, final, corr[:, n - 1]))
                at = (n, b, g)
                np.testing.assert_allclose(r.stats_.gated_worse[at], count(final & ~ans))
                np.testing.assert_allclose(r.stats_.gated_better[at], count(~final & ans))
                np.testing.assert_allclose(r.stats_.gated_to_edge[at], count(~mob))
                np.testing.assert_allclose(r.stats_.gated_escalated[at], count(up))


@pytest.mark.slow
def test_all_gated_is_the_cascade(split):
    """Every cluster GATED at beta routes exactly like the confidence cascade at alpha =
    beta: same tiers, exits and costs (so DIMEE+ contains the cascade)."""
    from dimee_core.baselines import cascade
    from dimee_core.router import BETA_GRID, GATE_GRID, GATED
    costs = CostModel(o_edge=1.5, o_edge_cloud=2.5)
    r = DIMEERouter(n_clusters=3, escalate=True, cost_model=costs).fit(split)
    for b in (3, 10, 20):
        gate = GATED + GATE_GRID.index(BETA_GRID[b])
        r.cluster_tiers_, r.beta_ = np.full(3, gate), float(BETA_GRID[b])
        mine, theirs = r.route(split), cascade(split.probs, r.beta_, 2, 4, costs)
        np.testing.assert_array_equal(mine.tier, theirs.tier)
        np.testing.assert_array_equal(mine.exit_layer, theirs.exit_layer)
        np.testing.assert_allclose(mine.cost, theirs.cost)
        np.testing.assert_array_equal(mine.escalated, theirs.tier == CLOUD)


@pytest.mark.slow
def test_gated_cost_by_hand():
    """m=2, n=4, L=6, default costs: mobile 2; edge 2+2+2 = 6; escalated 6+3+2 = 11."""
    from dimee_core.router import GATE_GRID, GATED
    s = synthetic_split(300, seed=4)
    r = DIMEERouter(n_clusters=2, escalate=True).fit(s)
    # cluster 0 gates the mobile at 0.9, cluster 1 at 0.6; the edge escalates below 0.7
    r.cluster_tiers_ = np.array([GATED + GATE_GRID.index(0.9), GATED + GATE_GRID.index(0.6)])
    r.beta_ = 0.7
    route = r.route(s)
    gamma = np.where(r.labels_ == 0, 0.9, 0.6)
    c2, c4 = s.probs[:, 1].max(1), s.probs[:, 3].max(1)
    expected = np.where(c2 >= gamma, 2.0, np.where(c4 >= 0.7, 6.0, 11.0))
    np.testing.assert_allclose(route.cost, expected)
    np.testing.assert_array_equal(route.exit_layer, np.where(c2 >= gamma, 2, np.where(
        c4 >= 0.7, 4, 6)))


@pytest.mark.slow
def test_dimee_plus_never_costlier_than_calibrated_cascade_on_calibration(split):
    """On the calibration split, with no safety margin, DIMEE+ at budget epsilon costs
    at most what the cheapest cascade within the same drop costs (it can copy it)."""
    from dimee_core.baselines import cascade
    from dimee_core.router import BETA_GRID
    r = DIMEERouter(n_clusters=5, escalate=True, safety=0.0).fit(split)
    final = correct_matrix(split.probs, split.labels)[:, -1]
    for eps in (0.0, 0.5, 2.0, 5.0):
        r.set_params(epsilon=eps).solve()
        mine = r.route(split)
        ok = [cascade(split.probs, float(b), 2, 4, CostModel()) for b in BETA_GRID]
        acc = lambda route: (route.predictions(split.probs) == split.labels).mean()
        ok = [c for c in ok if 100 * (final.mean() - acc(c)) <= eps + 1e-9]
        assert mine.cost.mean() <= min(c.cost.mean() for c in ok) + 1e-9


@pytest.mark.slow
def test_memoised_solve_matches_fresh_router(split):
    """Re-solving after parameter changes (served from the memo) equals a fresh fit."""
    r = DIMEERouter(n_clusters=6, escalate=True, epsilon=1.0).fit(split)
    for params in ({"epsilon": 0.2}, {"safety": 0.0}, {"cost_model": CostModel(o_cloud=9)},
                   {"n": 5}, {"epsilon": 1.0, "safety": 1.0, "n": 4,
                              "cost_model": CostModel()}):
        r.set_params(**params).solve()
        fresh = DIMEERouter(**r.get_params()).fit(split)
        np.testing.assert_array_equal(r.cluster_tiers_, fresh.cluster_tiers_)
        assert r.beta_ == fresh.beta_


@pytest.mark.slow
@pytest.mark.parametrize("eps,safety", [(0.0, 0.0), (0.5, 1.0), (3.0, 0.5), (20.0, 2.0)])
def test_beta_pruning_finds_the_exhaustive_optimum(split, eps, safety):
    """solve() skips betas whose Lagrangian lower bound cannot win; the cost it reaches
    must equal the best over solving every beta, and the bounds must be valid."""
    from dimee_core.router import BETA_GRID
    r = DIMEERouter(n_clusters=6, escalate=True, epsilon=eps, safety=safety).fit(split)
    totals = [r._solve_one(b)[1] for b in range(len(BETA_GRID))]
    bounds = r._cost_lower_bounds(range(len(BETA_GRID)))
    feasible = np.array(totals) < 1e9
    assert np.all(bounds[feasible] <= np.array(totals)[feasible] + 1e-6)
    r.solve()
    assert r._solve_one(r.beta_index_)[1] == pytest.approx(min(totals))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(8))
def test_route_costs_match_the_itemised_breakdown(seed):
    """Random settings and costs: every sample's cost equals the sum of its itemised
    parts (mobile compute, offload, remote compute, escalation) computed independently,
    and its answering exit matches its tier."""
    from dimee_core.explore import cost_breakdown
    rng = np.random.default_rng(seed)
    s = synthetic_split(300, seed=seed)
    m = int(rng.integers(1, 4))
    costs = CostModel(o_edge=float(rng.uniform(0, 5)), o_cloud=float(rng.uniform(0, 10)),
                      o_edge_cloud=float(rng.uniform(0, 5)),
                      mode=str(rng.choice(["resume", "recompute"])))
    r = DIMEERouter(m=m, n=int(rng.integers(m + 1, 6)), n_clusters=int(rng.integers(1, 12)),
                    policy=str(rng.choice(["pools", "reward", "budget"])),
                    epsilon=float(rng.choice([0.0, 1.0, 10.0])), escalate=bool(seed % 2),
                    alpha=float(rng.uniform(0.5, 1.0)), cost_model=costs).fit(s)
    route = r.route(s)
    for i in range(s.n):
        parts = cost_breakdown(costs, r.m, r.n, 6, int(route.tier[i]), bool(route.escalated[i]))
        assert sum(parts.values()) == pytest.approx(route.cost[i])
    np.testing.assert_array_equal(route.exit_layer, np.array([r.m, r.n, 6])[route.tier])
