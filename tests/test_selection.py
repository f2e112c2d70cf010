"""The guaranteed selection: valid p-values, the fixed-sequence walk, and the guarantee
itself by simulation (a known true drop: the exact drop on a finite population that the
calibration samples are drawn from, with replacement)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dimee_core import pvalues as P
from dimee_core import selection as S
from dimee_core.cache import load_cache
from dimee_core.splits import Split
from dimee_core.config import DIMEEConfig
from dimee_core.splits import two_way

from .conftest import SHIPPED

DELTA = 0.1


def mc_limit(rate: float, reps: int) -> float:
    """The nominal rate plus three Monte-Carlo standard errors."""
    return rate + 3 * math.sqrt(rate * (1 - rate) / reps)


def trinomial(rng, reps: int, n: int, p_plus: float, p_minus: float) -> np.ndarray:
    u = rng.random((reps, n))
    return np.where(u < p_plus, 1, np.where(u < p_plus + p_minus, -1, 0)).astype(np.int8)


@pytest.mark.slow
def test_kelly_bet_maximises_expected_log_wealth():
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = rng.dirichlet([0.3, 3.0, 0.3])
        t = float(rng.choice([0.0, 0.003, 0.01, 0.05, -0.01]))
        lam = float(P.kelly_bet(np.array([p[0]]), np.array([p[1]]), np.array([p[2]]), t)[0])
        grid = np.linspace(0, P.LAMBDA_CAP / (1 - t), 20001)
        growth = (p[0] * np.log1p(grid * (t - 1)) + p[1] * np.log1p(grid * t)
                  + p[2] * np.log1p(grid * (t + 1)))
        best = grid[np.argmax(growth)]
        assert lam == pytest.approx(best, abs=2 * grid[1])


@pytest.mark.slow
@pytest.mark.parametrize("target_pp, disagree", [(0.3, 0.0), (0.3, 0.01), (1.0, 0.04),
                                                 (1.0, 0.2)])
def test_p_values_are_valid_at_the_null_boundary(target_pp, disagree):
    """True mean drop exactly at the target (the hardest null): P(p <= delta) <= delta."""
    t = target_pp / 100
    p_plus = (disagree + t) / 2 if disagree else t
    p_minus = p_plus - t
    reps, n = 2000, 900
    D = trinomial(np.random.default_rng(1), reps, n, p_plus, p_minus)
    assert abs(D.mean() - t) < 0.2 * t + 0.001  # the simulated null is the intended one
    for prior in (None, P.bet_prior(0, 0, 1000), P.bet_prior(40, 0, 1000)):  # any fit part
        p = P.p_values(D, target_pp, random_state=2, prior=prior)
        assert (p <= DELTA).mean() <= mc_limit(DELTA, reps)


def test_no_valid_test_certifies_fewer_samples_than_the_likelihood_bound():
    """Under the null p(+1) = t, n agreeing samples have probability (1 - t)^n; at 0.3 pp
    and delta 0.1 no valid test may certify 700 of them ((0.997)^700 = 0.12), and ours
    should certify 1000 when the fit part saw no disagreement either."""
    flawless = P.bet_prior(0, 0, 1000)
    assert P.p_values(np.zeros((1, 700), np.int8), 0.3, prior=flawless)[0] > DELTA
    assert P.p_values(np.zeros((1, 1000), np.int8), 0.3, prior=flawless)[0] <= DELTA
    need = P.samples_needed(0.3, DELTA, "betting")
    assert math.log(DELTA) / math.log(1 - 0.003) <= need <= 1.1 * 767
    assert P.samples_needed(0.0, DELTA, "betting") is None


def test_upper_bound_covers_and_adapts_to_variance():
    rng = np.random.default_rng(4)
    quiet = trinomial(rng, 1, 2000, 0.002, 0.0)[0]  # mean 0.2 pp, few disagreements
    noisy = trinomial(rng, 1, 2000, 0.101, 0.099)[0]  # mean 0.2 pp, 20 % disagreements
    b_quiet, b_noisy = (P.upper_bound_pp(quiet, DELTA, "betting"),
                        P.upper_bound_pp(noisy, DELTA, "betting"))
    assert 100 * quiet.mean() <= b_quiet < 0.6
    assert 100 * noisy.mean() < b_noisy and b_noisy > b_quiet + 0.5
    # Hoeffding on [-1, 1] would add 2 * sqrt(ln(10) / (2 * 2000)) = 4.8 pp
    assert b_quiet < 100 * quiet.mean() + 2 * math.sqrt(math.log(10) / 4000) * 100 / 10


def test_standard_error_is_sd_over_sqrt_n():
    d = np.array([1, 0, 0, -1, 1, 0, 0, 0])
    mean = 1 / 8
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 7)
    drop, se = S.drop_and_se(d)
    assert drop == pytest.approx(100 * mean)
    assert se == pytest.approx(100 * sd / math.sqrt(8))  # not / 8


def test_bad_requests_are_refused_plainly():
    with pytest.raises(S.SelectionError, match="target accuracy drop must be a number >= 0"):
        S.check_request(-0.1, 0.1)
    for bad in (0.0, 1.0, 1.5, -0.2):
        with pytest.raises(S.SelectionError, match="strictly between 0 and 1"):
            S.check_request(0.3, bad)


def _hand_candidates(D: np.ndarray, reductions, fit_drop) -> S.Candidates:
    rows = len(D)
    table = pd.DataFrame({"method": ["cascade"] * rows, "m": 2, "n": 4, "k": 1,
                          "features": "", "policy": "budget", "epsilon": 0.0, "mu": 0.0,
                          "safety": 0.0, "alpha": np.linspace(0.99, 0.5, rows), "beta": np.nan,
                          "fit_drop_pp": fit_drop, "fit_se_pp": 0.0,
                          "fit_risk_pp": fit_drop, "fit_differ": 0.0, "fit_plus": 0,
                          "fit_minus": 0, "fit_cost": 11 - np.asarray(reductions) / 10,
                          "reduction_pct": reductions})
    return S.Candidates(DIMEEConfig(), 0.3, 6, 1000, D.shape[1], table, D, {})


def test_fixed_sequence_stops_at_the_first_failure():
    """Path (by fit-part risk): safe, safe, FAIL, would-pass-and-cheapest. The walk must stop
    at the failure: the cheapest certified is the second, never the fourth."""
    n = 3000
    ok = np.zeros(n, np.int8)
    bad = np.zeros(n, np.int8)
    bad[:300] = 1  # 10 pp drop
    D = np.stack([ok, ok, bad, ok])
    cands = _hand_candidates(D, reductions=[10.0, 20.0, 30.0, 40.0],
                             fit_drop=[0.0, 0.1, 0.2, 0.3])
    rec = S.certify(cands, 0.3, DELTA, "cascade")
    assert rec.ok and rec.index == 1 and rec.tested == 3 and rec.certified == 2
    assert rec.reduction_pct == 20.0 and rec.bound_pp <= 0.3


def test_nothing_certified_says_how_many_samples_are_needed():
    D = np.zeros((2, 400), np.int8)
    rec = S.certify(_hand_candidates(D, [10.0, 20.0], [0.0, 0.0]), 0.3, DELTA, "cascade")
    assert not rec.ok and rec.config is None
    need = P.samples_needed(0.3, DELTA)
    assert f"needs {need} held-out samples" in rec.message and "holds out 400" in rec.message


def test_two_way_split_is_stratified_and_keeps_groups_together():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 900)
    groups = np.array([f"text {i // 3}" for i in range(900)])  # triples share a text
    labels = labels[np.arange(900) // 3 * 3]  # a text has one label
    a, b = two_way(labels, groups, 0.3, random_state=5)
    assert len(np.intersect1d(groups[a], groups[b])) == 0
    assert sorted(np.concatenate([a, b])) == list(range(900))
    for c in range(3):
        share = (labels[a] == c).sum() / (labels == c).sum()
        assert share == pytest.approx(0.3, abs=0.02)


# ---------------------------------------------------------------- the guarantee, end to end

SIM_GRID = S.Grid(split_points=((2, 4), (3, 5)), ks=(4,), features=("conf",),
                  epsilons=(0.0, 1.0, 3.0), safeties=(0.0,), mus=(0.3,),
                  alphas=(0.6, 0.7, 0.8, 0.9, 0.95, 0.99))


def _population() -> Split:
    cache = load_cache(SHIPPED / "trec")
    c, t = cache.calibration, cache.test
    return Split(np.concatenate([c.labels, t.labels]), np.concatenate([c.probs, t.probs]),
                 np.concatenate([c.feats, t.feats]), ())


@pytest.mark.slow
@pytest.mark.parametrize("rule", [S.RULE, S.Rule(paths="shared"), S.EARLIER_RULE],
                         ids=["default", "shared", "earlier"])
def test_guarantee_holds_over_200_synthetic_calibration_splits(rule):
    """Calibration splits of 1000 samples drawn i.i.d. (with replacement) from a fixed
    population of 3.2 k real trec samples: the true drop of any rule is its exact drop on
    the population. Each family's certified recommendation exceeds the target in at most
    delta of the splits (+ Monte-Carlo error), and so do the families read from one walk
    together; picking the cheapest candidate whose
    held-out drop is within the target (no multiplicity control, the old rule's winner's
    curse) does not keep it."""
    pop = _population()
    base = DIMEEConfig()
    corr = pop.probs.argmax(2) == pop.labels[:, None]
    target, reps = 1.0, 200
    rng = np.random.default_rng(11)
    families = ("dimee", "dimee_plus", "cascade", "any")
    certified = {f: 0 for f in families}
    violations = {f: 0 for f in families}
    joint = naive_violations = 0
    for r in range(reps):
        cal = pop.take(rng.integers(0, pop.n, 1000))
        cands = S.evaluate_candidates(cal, replace(base, random_state=r), SIM_GRID)

        def true_drop(i):
            route = cands.routing(i, pop)
            return 100 * (corr[:, -1].mean() - corr[np.arange(pop.n), route.exit_layer - 1].mean())

        broke = False  # any family on the same walk as DIMEE+ broke the target
        for f in families:
            rec = S.certify(cands, target, DELTA, f, rule=rule, bound=False)
            if rec.ok:
                certified[f] += 1
                bad = true_drop(rec.index) > target + 1e-9
                violations[f] += bad
                broke |= bad and rule.walk_of(f) == rule.walk_of("dimee_plus")
        joint += broke
        held = 100 * cands.D.mean(1)
        naive = int(np.argmax(np.where(held <= target, cands.table["reduction_pct"], -np.inf)))
        naive_violations += true_drop(naive) > target + 1e-9
    assert certified["any"] >= reps // 2  # the test is not vacuous: it certifies most splits
    for f in families:
        assert violations[f] / reps <= mc_limit(DELTA, reps), f
    assert joint / reps <= mc_limit(DELTA, reps)  # one walk's picks hold jointly
    if rule.walk_of("cascade") == rule.walk_of("dimee_plus"):
        assert certified["dimee_plus"] >= certified["cascade"]
    assert naive_violations / reps > mc_limit(DELTA, reps)


# ---------------------------------------------------------------- the tightest target (tune --target auto)

@pytest.mark.slow
def test_a_small_split_gets_the_tightest_target_it_can_certify_and_what_0_3_pp_needs():
    """667 trec calibration samples (467 held out): 0.3 pp is out of reach (772 held-out
    samples needed); the tightest target is found with delta split over the ladder."""
    from dimee_core.tuning import AUTO_TARGETS, tightest

    cache = load_cache(SHIPPED / "trec")
    small = cache.calibration.take(np.arange(667))
    cands = S.evaluate_candidates(small, DIMEEConfig.for_cache(cache))
    assert not S.certify(cands, 0.3, DELTA, "dimee_plus").ok
    tight = tightest(cands, DELTA, requested_pp=0.3)
    assert tight.ok and tight.target_pp in AUTO_TARGETS and tight.target_pp > 0.3
    share = DELTA / len(AUTO_TARGETS)
    rec = tight.recommendations["dimee_plus"]
    assert rec.ok and rec.delta == share and rec.p_value <= share
    # each smaller ladder target fails at the split delta (so this one is the tightest)
    for t in AUTO_TARGETS[:AUTO_TARGETS.index(tight.target_pp)]:
        assert not S.certify(cands, t, share, "dimee_plus").ok
    assert tight.samples_needed == P.samples_needed(0.3, DELTA)
    assert f"needs at least {tight.samples_needed} held-out samples" in tight.message
    assert f"saves {rec.reduction_pct:.1f} %" in tight.message


@pytest.mark.slow
def test_auto_target_refuses_plainly_when_nothing_up_to_5_pp_certifies():
    from dimee_core.tuning import tune

    cache = load_cache(SHIPPED / "trec")
    tiny = replace(cache, calibration=cache.calibration.take(np.arange(90)))
    with pytest.raises(S.SelectionError, match="nothing stored: No target up to 5 pp"):
        tune(tiny, "auto")


def test_population_violations_counts_true_drops_not_scored_ones():
    """validity.population_violations against a direct recomputation of the same draws:
    each method's certified rule routed on the whole population, its exact drop there."""
    from dimee_core.validity import population_violations

    pop, base, draws, n_cal = _population(), DIMEEConfig(), 6, 1000
    got = population_violations(pop, base, n_cal, draws, (1.0,), DELTA, SIM_GRID, 3)
    corr = pop.probs.argmax(2) == pop.labels[:, None]
    rng = np.random.default_rng(3)
    ok = {m: 0 for m in S.METHODS}
    bad = {m: 0 for m in S.METHODS}
    for r in range(draws):
        cands = S.evaluate_candidates(pop.take(rng.integers(0, pop.n, n_cal)),
                                      replace(base, random_state=3 + r), SIM_GRID)
        for m in S.METHODS:
            rec = S.certify(cands, 1.0, DELTA, m)
            if rec.ok:
                e = cands.routing(rec.index, pop).exit_layer
                ok[m] += 1
                bad[m] += 100 * (corr[:, -1].mean() - corr[np.arange(pop.n), e - 1].mean()) > 1.0
    for m in S.METHODS:
        assert got["1"][m]["certified_rate"] == ok[m] / draws
        assert got["1"][m]["true_violation_rate"] == bad[m] / draws
    assert ok["dimee_plus"] >= draws // 2
