"""The p-values behind the guarantee, checked against independent computations: the
exact test's size summed cell by cell from the trinomial law at points of the null
boundary (not only where its own bound looks), a brute-force supremum at small n, and the
likelihood bound that no valid test can beat."""

from __future__ import annotations

import math

import numpy as np
import pytest
from dimee_core import pvalues as P

DELTA = 0.1


def _size(n: int, t: float, s: float, delta: float = DELTA) -> float:
    """P(p <= delta) under the trinomial (p+, p-) = (s + t, s), summed exactly. For a
    fixed count b of -1s the p-value cannot fall as the +1s grow (its statistic falls,
    its interval for p- depends on b only), so the rejections are a <= a*(b); a*(b) is
    found by stepping from a*(b - 1) and checked at both ends. Counts of -1s beyond the
    1e-9 tail are counted as rejections (an upper bound)."""
    from scipy.stats import binom

    rejects = lambda a, b: a <= n - b and P.exact_p_value(a, b, n, 100 * t, delta) <= delta
    b_hi = int(binom.isf(1e-9, n, s)) if s > 0 else 0
    total, a = 0.0, 0
    for b in range(0, b_hi + 1):
        while a > 0 and not rejects(a, b):
            a -= 1
        if not rejects(a, b):
            continue
        while rejects(a + 1, b):
            a += 1
        # P(N- = b) * P(N+ <= a | N- = b)
        total += binom.pmf(b, n, s) * binom.cdf(a, n - b, (s + t) / (1 - s))
    return total + (binom.sf(b_hi, n, s) if s > 0 else 0.0)


@pytest.mark.parametrize("n, target_pp, ss", [
    pytest.param(400, 1.0, (0.0, 0.001, 0.005, 0.03), marks=pytest.mark.slow),
    (900, 0.3, (0.0, 0.0004, 0.0015, 0.006))])
def test_exact_test_rejects_at_most_delta_on_the_null_boundary(n, target_pp, ss):
    """p- from none to many disagreements: the rejection probability, summed exactly."""
    for s in ss:
        assert _size(n, target_pp / 100, s) <= DELTA + 1e-9, (n, target_pp, s)


@pytest.mark.slow
def test_exact_p_value_is_at_least_a_brute_force_supremum_and_close_to_it():
    """n = 40, target 5 pp: every count pair enumerated, the supremum over p- taken on a
    grid of 2,000 points within the same nuisance interval; the rigorous bound must lie
    above it (validity) and within 8 % of it (power)."""
    from scipy.special import gammaln
    from scipy.stats import beta

    n, t = 40, 0.05
    gamma = P.GAMMA_SHARE * DELTA
    a_all, b_all = np.array([(a, b) for a in range(n + 1) for b in range(n + 1 - a)]).T
    c_all = n - a_all - b_all
    T = P.exact_statistic(a_all, b_all, n, t)
    log_coef = gammaln(n + 1) - gammaln(a_all + 1) - gammaln(b_all + 1) - gammaln(c_all + 1)
    for a, b in [(0, 0), (1, 0), (0, 1), (2, 3), (1, 4), (2, 1), (5, 8)]:  # T > 0
        lo = 0.0 if b == 0 else beta.ppf(gamma / 2, b, n - b + 1)
        hi = min(beta.ppf(1 - gamma / 2, b + 1, n - b), (1 - t) / 2)
        region = T >= P.exact_statistic(a, b, n, t) - 1e-12
        s = np.linspace(lo, hi, 2000)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_pmf = (log_coef + a_all * np.log(s + t) + np.where(b_all > 0, b_all * np.log(s), 0)
                       + np.where(c_all > 0, c_all * np.log(1 - 2 * s - t), 0))
        brute = float(np.exp(np.where(region, log_pmf, -np.inf)).sum(1).max())
        p = P.exact_p_value(a, b, n, 100 * t, DELTA)
        assert brute + gamma - 1e-9 <= p <= 1.08 * (brute + gamma) + 1e-9, (a, b, p, brute)


def test_exact_test_needs_no_more_than_the_likelihood_bound_plus_its_interval_share():
    """With no disagreement, any valid test needs (1 - t)^n <= delta (767 samples at 0.3 pp,
    delta 0.1); the exact test needs (1 - t)^n + gamma <= delta (770) plus the slack of its
    rigorous supremum: 772."""
    bound = math.log(DELTA) / math.log(1 - 0.003)
    need = P.samples_needed(0.3, DELTA)
    assert bound <= need <= math.log(DELTA - P.GAMMA_SHARE * DELTA) / math.log(1 - 0.003) + 3
    assert P.exact_p_value(0, 0, need - 1, 0.3, DELTA) > DELTA
    assert P.exact_p_value(0, 0, need, 0.3, DELTA) <= DELTA
    assert P.samples_needed(0.0, DELTA) is None


def test_exact_test_uses_the_minus_ones_where_a_count_of_plus_ones_alone_cannot():
    """15 more errors than the cloud but 12 fixes among 1,400 samples (drop -0.2 pp):
    the exact test certifies 0.3 pp; a binomial test on the +1s alone could not."""
    from scipy.stats import binom

    assert P.exact_p_value(3, 15, 1400, 0.3, DELTA) <= DELTA
    assert binom.cdf(3, 1400, 0.003) > DELTA
    assert P.exact_p_value(15, 12, 1400, 0.3, DELTA) > DELTA  # drop +0.21 pp, noisy


def test_exact_upper_bound_matches_the_test_it_inverts():
    d = np.zeros(1400, np.int8)
    d[:3], d[3:8] = 1, -1
    u = P.upper_bound_pp(d, DELTA)
    assert P.exact_p_value(3, 5, 1400, u, DELTA) <= DELTA
    assert P.exact_p_value(3, 5, 1400, u - 0.01, DELTA) > DELTA
    # no disagreement in 5,000: (1 - u)^5000 + gamma <= delta from u = 0.046 pp on
    assert P.upper_bound_pp(np.zeros(5000, np.int8), DELTA) == 0.05
