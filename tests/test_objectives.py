"""The router minimising real units (latency, energy, money) and keeping a p95 SLA."""

import itertools
from dataclasses import replace

import numpy as np
import pytest

from dimee_core.features import confidences, correct_matrix
from dimee_core.profiles import PRESETS, LatencySLA, UnitCosts
from dimee_core.router import BETA_GRID, GATE_GRID, GATED, DIMEERouter

from .conftest import synthetic_split
from .test_profiles import ODD, by_hand

M, N_SPLIT, L = 2, 4, 6


def with_tokens(seed=0, n=400):
    s = synthetic_split(n=n, seed=seed)
    return replace(s, lengths=np.random.default_rng(seed + 7).integers(1, 200, n))


def sample_costs(split, metric, route, escalated=None):
    """Per-sample figure by hand for every sample on ``route`` (0/1/2)."""
    esc = np.zeros(split.n, bool) if escalated is None else escalated
    return np.array([by_hand(ODD, 1 if e else route, bool(e), int(t), M, N_SPLIT, L,
                             "resume", 384)[metric] for t, e in zip(split.lengths, esc)])


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["latency_ms", "energy_mj", "usd"])
def test_cluster_option_costs_are_sums_of_per_sample_costs(metric):
    s = with_tokens()
    r = DIMEERouter(m=M, n=N_SPLIT, n_clusters=4, escalate=True,
                    cost_model=UnitCosts(ODD, metric)).fit(s)
    lab = r.labels_
    per_cluster = lambda v: np.bincount(lab, weights=v, minlength=4)
    conf = confidences(s.probs)
    routes = [sample_costs(s, metric, t) for t in range(3)]
    up_all = sample_costs(s, metric, 2, np.ones(s.n, bool))  # edge + escalation
    for b in (0, 5, 20):
        cost, _, _ = r._option_table(b)
        for t in range(3):
            np.testing.assert_allclose(cost[:, t], per_cluster(routes[t]), rtol=1e-9)
        for g in (0, 7, len(GATE_GRID) - 1):
            mob = conf[:, M - 1] >= GATE_GRID[g]
            up = ~mob & (conf[:, N_SPLIT - 1] < BETA_GRID[b])
            each = np.where(mob, routes[0], np.where(up, up_all, routes[1]))
            np.testing.assert_allclose(cost[:, GATED + g], per_cluster(each), rtol=1e-9)


def brute_force(cost, loss, budget, over=None, allow=np.inf):
    best = None
    k, T = cost.shape
    for choice in itertools.product(range(T), repeat=k):
        rows = np.arange(k)
        if loss[rows, choice].sum() > budget + 1e-9:
            continue
        if over is not None and over[rows, choice].sum() > allow + 1e-9:
            continue
        c = cost[rows, choice].sum()
        if best is None or c < best - 1e-9:
            best = c
    return best


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["latency_ms", "energy_mj", "usd"])
@pytest.mark.parametrize("eps", [0.0, 1.0, 5.0])
def test_unit_objective_is_minimised_exactly(metric, eps):
    s = with_tokens(seed=1)
    r = DIMEERouter(m=M, n=N_SPLIT, n_clusters=5, epsilon=eps, safety=0.0,
                    cost_model=UnitCosts(ODD, metric)).fit(s)
    cost, loss, _ = r._option_table(None)
    best = brute_force(cost, loss, eps / 100 * s.n)
    rows = np.arange(5)
    assert cost[rows, r.cluster_tiers_].sum() == pytest.approx(best, rel=1e-9)
    # the routed per-sample costs are the per-sample figures of the chosen tiers
    route = r.route(s)
    hand = np.choose(route.tier, [sample_costs(s, metric, t) for t in range(3)])
    np.testing.assert_allclose(route.cost, hand, rtol=1e-9)


@pytest.mark.slow
def test_objective_changes_the_routing_and_resolve_needs_no_samples():
    s = with_tokens(seed=2)
    r = DIMEERouter(m=M, n=N_SPLIT, n_clusters=6, epsilon=2.0,
                    cost_model=UnitCosts(PRESETS["LTE + cloud GPU"], "energy_mj")).fit(s)
    energy = r.cluster_tiers_.copy()
    # an energy objective on LTE avoids the radio tail: mostly mobile
    assert (energy == 0).sum() >= (r.set_params(cost_model=None).solve().cluster_tiers_ == 0
                                   ).sum()
    r.conf_ = None  # re-solving the budget policy never reads a sample again
    r.set_params(cost_model=UnitCosts(PRESETS["Wi-Fi + edge GPU"], "usd")).solve()


def sla_router(split, max_ms, eps, k=4, escalate=False):
    lat = UnitCosts(ODD, "latency_ms")
    return DIMEERouter(m=M, n=N_SPLIT, n_clusters=k, epsilon=eps, safety=0.0,
                       escalate=escalate, cost_model=UnitCosts(ODD, "usd"),
                       latency_sla=LatencySLA(lat, max_ms)).fit(split)


@pytest.mark.slow
@pytest.mark.parametrize("max_ms", [40.0, 60.0, 90.0, 200.0])
@pytest.mark.parametrize("eps", [0.5, 3.0])
def test_sla_is_met_on_calibration_and_budget_kept_when_possible(max_ms, eps):
    s = with_tokens(seed=3)
    r = sla_router(s, max_ms, eps)
    route = r.route(s)
    lat = np.choose(route.tier, [sample_costs(s, "latency_ms", t) for t in range(3)])
    assert np.mean(lat > max_ms) <= 0.05 + 1e-12  # p95 <= target, counted per sample
    cost, loss, _ = r._option_table(None)
    _, over = r._sla_tables(None)
    both = brute_force(cost, loss, eps / 100 * s.n, over, 0.05 * s.n)
    assert r.sla_kept_budget_ == (both is not None)
    if both is not None:  # the multiplier search found a cheapest-or-close solution
        rows = np.arange(4)
        assert cost[rows, r.cluster_tiers_].sum() >= both - 1e-9
        assert loss[rows, r.cluster_tiers_].sum() <= eps / 100 * s.n + 1e-9


@pytest.mark.slow
def test_sla_with_dimee_plus_counts_gates_at_their_slowest_route():
    s = with_tokens(seed=4)
    r = sla_router(s, 60.0, 1.0, escalate=True)
    route = r.route(s)
    esc = route.escalated
    lat = np.array([by_hand(ODD, 1 if e else int(t), bool(e), int(x), M, N_SPLIT, L, "resume",
                            384)["latency_ms"] for t, e, x in zip(route.tier, esc, s.lengths)])
    assert np.mean(lat > 60.0) <= 0.05 + 1e-12


@pytest.mark.slow
def test_unreachable_sla_is_one_clear_error():
    s = with_tokens(seed=5)
    phone = np.array([by_hand(ODD, 0, False, int(t), M, N_SPLIT, L, "resume", 384)[
        "latency_ms"] for t in s.lengths])
    with pytest.raises(ValueError, match=r"no routing can meet p95 latency <= 1 ms: even "
                                         r"answering every sample on the phone gives p95 = "
                                         + f"{np.quantile(phone, 0.95, method='inverted_cdf'):.1f}"):
        sla_router(s, 1.0, 1.0)


def test_sla_needs_budget_policy_and_latency_costs():
    with pytest.raises(ValueError, match="needs latency costs"):
        LatencySLA(UnitCosts(ODD, "usd"), 50.0)
    with pytest.raises(ValueError, match="positive number of ms"):
        LatencySLA(UnitCosts(ODD, "latency_ms"), -5.0)
    s = with_tokens()
    with pytest.raises(ValueError, match="needs the budget policy"):
        DIMEERouter(policy="reward", latency_sla=LatencySLA(UnitCosts(ODD), 50.0)).fit(s)


@pytest.mark.slow
def test_abstract_default_is_unchanged_by_token_counts(split):
    """The paper's cost does not depend on T: routing with or without lengths agrees."""
    a = DIMEERouter(n_clusters=4, escalate=True).fit(split)
    b = DIMEERouter(n_clusters=4, escalate=True).fit(replace(
        split, lengths=np.random.default_rng(0).integers(1, 300, split.n)))
    np.testing.assert_array_equal(a.cluster_tiers_, b.cluster_tiers_)
    np.testing.assert_array_equal(a.route(split).cost, b.route(split).cost)
