"""Valid p-values for "a setting's mean paired loss is at least the target", and the bounds
and sample sizes they imply.

The per-sample paired loss is d = 1[cloud right] - 1[setting right] in {-1, 0, 1}; the
drop is its mean p+ - p-, where p+ = P(d = 1) and p- = P(d = -1). Two tests:

* ``exact`` (the default): an exact unconditional test on the disagreement counts
  (a, b) = (#d = 1, #d = -1). Its statistic is a z-score with a variance floor,
  T = (n t - a + b) / sqrt(a + b + n t + 1), increasing in b and decreasing in a; its
  p-value is the largest P(T >= T_obs) over the null boundary p+ = p- + t. The nuisance
  p- is confined to a (1 - gamma) Clopper-Pearson interval from b (Berger & Boos 1994;
  gamma = GAMMA_SHARE * delta is added to the p-value), and the supremum over that
  interval is bounded rigorously, not sampled: the interval is cut into pieces and every
  cell takes its largest probability over its piece. Nulls inside the boundary are
  covered because the p-value cannot fall when a zero turns into a +1. With no
  disagreement it certifies from 772 samples at 0.3 pp, delta 0.1 ((1 - t)^n + gamma
  <= delta, plus the bound's slack), against the 767 that any valid test needs.
* ``betting``: a betting test martingale (Waudby-Smith & Ramdas 2023) with Kelly bets,
  p = 1 / max_j K_j (Ville). Kept as the earlier rule, for comparison (bench).
"""

from __future__ import annotations

import functools
import math

import numpy as np

TESTS = ("exact", "betting")
GAMMA_SHARE = 0.01  # share of delta spent on the interval that confines p-
_PIECES = 128  # pieces of that interval: the bound's slack shrinks with their width
_WIDTH = 6.0  # standard deviations of the +1 count summed exactly; the rest is bounded
LAMBDA_CAP = 0.99  # betting: at most this share of the wealth a loss (d = 1) could take
PRIOR = (0.5, 1.0, 0.5)  # betting: pseudo-counts of d = +1, 0, -1 for the first bets
PRIOR_WEIGHT = 50.0  # betting: the fit part's counts count as this many samples
_CHUNK = 256  # betting: rows per vectorised block (bounds memory)


def check_test(test: str) -> None:
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")


# ---------------------------------------------------------------- the exact test

def exact_statistic(a, b, n: int, t: float):
    """T(a, b): large when the drop is small; increasing in b, decreasing in a (the
    variance floor n t + 1 keeps it monotone in b even at a = b = 0)."""
    return (n * t - a + b) / np.sqrt(a + b + n * t + 1.0)


def _least_b(T: float, a: np.ndarray, n: int, t: float) -> np.ndarray:
    """The least b >= 0 with T(a, b) >= T (T > 0): the upper root of a quadratic in b.
    Rounding can only admit a cell tied with T, which makes the p-value larger."""
    u = n * t - a
    root = (T * T - 2 * u + T * np.sqrt(T * T + 8 * a + 4)) / 2
    return np.maximum(0.0, np.ceil(root - 1e-9))


@functools.lru_cache(maxsize=65536)
def exact_p_value(a: int, b: int, n: int, target_pp: float, delta: float) -> float:
    """Valid p-value of H0 "mean paired loss >= target" from a = #(+1), b = #(-1) among
    n samples (see the module docstring); ``delta`` sets gamma only."""
    from scipy.stats import beta as beta_dist
    from scipy.stats import binom

    t = target_pp / 100.0
    if not (0.0 <= t < 1.0 and 0 <= a and 0 <= b and a + b <= n):
        raise ValueError(f"need 0 <= target < 100 pp and counts within n, got "
                         f"{target_pp}, {a}, {b}, {n}")
    gamma = GAMMA_SHARE * delta
    T = float(exact_statistic(a, b, n, t))
    if T <= 0:
        return 1.0
    s_lo = 0.0 if b == 0 else float(beta_dist.ppf(gamma / 2, b, n - b + 1))
    s_hi = 1.0 if b == n else float(beta_dist.ppf(1 - gamma / 2, b + 1, n - b))
    s_hi = min(s_hi, (1 - t) / 2)
    if s_lo > s_hi:  # no null point fits b: the interval alone rejects
        return gamma
    edges = np.linspace(s_lo, s_hi, _PIECES + 1)
    lo, hi = edges[:-1], edges[1:]
    p_lo, p_hi = lo + t, hi + t  # P(d = 1) over each piece
    q_hi = np.minimum(hi / (1 - hi - t), 1.0)  # P(d = -1 | d != 1), largest on the piece
    sd = np.sqrt(n * p_hi * (1 - p_lo)) + 1
    a_lo = np.maximum(np.floor(n * p_lo - _WIDTH * sd), 0)
    a_hi = np.minimum(np.ceil(n * p_hi + _WIDTH * sd), n)
    A = a_lo[:, None] + np.arange(int((a_hi - a_lo).max()) + 1)[None, :]
    inside = A <= a_hi[:, None]
    A = np.minimum(A, n)
    # each count of +1s at its likeliest P(d = 1) on the piece (the binomial pmf is
    # unimodal in p), times the largest chance of enough -1s among the rest
    pmf = binom.pmf(A, n, np.clip(A / n, p_lo[:, None], p_hi[:, None]))
    enough = binom.sf(_least_b(T, A, n, t) - 1, n - A, q_hi[:, None])
    tails = binom.cdf(a_lo - 1, n, p_lo) + binom.sf(a_hi, n, p_hi)  # counts not summed
    sup = (np.where(inside, pmf * enough, 0.0).sum(1) + tails).max()
    return float(min(1.0, sup + gamma))


def exact_p_values(D: np.ndarray, target_pp: float, delta: float) -> np.ndarray:
    """The exact test's p-value for each row of D ([C, N] in {-1, 0, 1})."""
    D = np.atleast_2d(D)
    a, b = (D == 1).sum(1), (D == -1).sum(1)
    n = D.shape[1]
    return np.array([exact_p_value(int(x), int(y), n, float(target_pp), float(delta))
                     for x, y in zip(a, b)])


# ---------------------------------------------------------------- the betting test

def kelly_bet(p_plus: np.ndarray, p_zero: np.ndarray, p_minus: np.ndarray,
              t: float) -> np.ndarray:
    """The lambda in [0, LAMBDA_CAP / (1 - t)] maximising E log(1 + lambda (t - d)) for
    d in {1, 0, -1} with these probabilities (0 when the mean is not below t).

    Setting the derivative to zero and clearing the three denominators gives
    a lambda^2 + b lambda + c = 0; exactly one root lies in (0, 1 / (1 - t))."""
    x1, x0, x2 = t - 1.0, t, t + 1.0
    a = x0 * x1 * x2
    b = p_plus * x1 * (x0 + x2) + p_zero * x0 * (x1 + x2) + p_minus * x2 * (x1 + x0)
    c = t - (p_plus - p_minus)
    hi = 1.0 / (1.0 - t)
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))
        q = -0.5 * (b + np.where(b >= 0, sq, -sq))
        r1 = q / a if a != 0 else np.full_like(q, np.inf)
        r2 = c / q
        root = np.where((r1 > 0) & (r1 < hi), r1, r2)
    root = np.where(np.isfinite(root), root, 0.0)
    return np.where(c > 0, np.clip(root, 0.0, LAMBDA_CAP * hi), 0.0)


def bet_prior(n_plus: np.ndarray, n_minus: np.ndarray, n: int,
              weight: float = PRIOR_WEIGHT) -> np.ndarray:
    """[C, 3] pseudo-counts of d = +1, 0, -1 for the first bets: the fit part's counts
    (independent of the held-out samples, so validity is untouched), shrunk to ``weight``
    samples so that the held-out samples soon dominate the bet."""
    n_plus, n_minus = np.atleast_1d(n_plus).astype(float), np.atleast_1d(n_minus).astype(float)
    a_plus = weight * (n_plus + 0.5) / (n + 2.0)
    a_minus = weight * (n_minus + 0.5) / (n + 2.0)
    return np.stack([a_plus, weight - a_plus - a_minus, a_minus], 1)


def betting_log_wealth(D: np.ndarray, t: float, prior: np.ndarray | None = None) -> np.ndarray:
    """[C] max over time of log K_j for each row of D ([C, N] in {-1, 0, 1}), testing
    H0: mean >= t. The bet on sample i uses only the prior and the samples before i
    (predictable), so K is a nonnegative supermartingale under H0."""
    D = np.asarray(D, dtype=np.int8)
    C, N = D.shape
    prior = np.broadcast_to(np.asarray(PRIOR, float) if prior is None else prior, (C, 3))
    out = np.zeros(C)
    seen = np.arange(N, dtype=np.float64)[None, :]
    for s in range(0, C, _CHUNK):
        d, a = D[s:s + _CHUNK], prior[s:s + _CHUNK]
        before = lambda v: np.cumsum(d == v, axis=1, dtype=np.float64) - (d == v)
        total = seen + a.sum(1, keepdims=True)
        p_plus = (before(1) + a[:, :1]) / total
        p_minus = (before(-1) + a[:, 2:]) / total
        lam = kelly_bet(p_plus, 1.0 - p_plus - p_minus, p_minus, t)
        log_k = np.cumsum(np.log1p(lam * (t - d)), axis=1)
        out[s:s + _CHUNK] = np.maximum(log_k.max(axis=1), 0.0)
    return out


def p_values(D: np.ndarray, target_pp: float, random_state: int = 0,
             prior: np.ndarray | None = None) -> np.ndarray:
    """The betting test's p-values of H0 "mean paired loss >= target" for each row of D;
    the samples are taken in one seeded random order (the same for every row)."""
    D = np.atleast_2d(np.asarray(D, dtype=np.int8))
    order = np.random.default_rng(random_state).permutation(D.shape[1])
    return np.exp(-betting_log_wealth(D[:, order], target_pp / 100.0, prior))


# ---------------------------------------------------------------- what the tests imply

def test_p_values(D: np.ndarray, target_pp: float, delta: float, test: str = "exact",
                  random_state: int = 0, prior: np.ndarray | None = None) -> np.ndarray:
    """p-values of each row of D under ``test`` (the prior serves the betting test only)."""
    check_test(test)
    if test == "exact":
        return exact_p_values(D, target_pp, delta)
    return p_values(D, target_pp, random_state, prior)


def upper_bound_pp(d: np.ndarray, delta: float, test: str = "exact", random_state: int = 0,
                   prior: np.ndarray | None = None) -> float:
    """The (1 - delta) upper confidence bound on one fixed setting's mean paired loss
    (pp): the least u whose null "mean >= u" the test rejects (bisection to 0.01 pp,
    rounded up). The exact test tests u >= 0 only: a bound of 0 means "at most 0". Not
    adjusted for choosing the setting: only the certification along the path is."""
    d = np.asarray(d)
    p = lambda u: test_p_values(d, u, delta, test, random_state, prior)[0]
    mean = 100 * float(d.mean())
    lo = max(mean, 0.0) if test == "exact" else mean - 1.0  # the exact p is > delta here
    step = 100 * 4 * float(d.std()) / math.sqrt(max(d.size, 1)) + 0.05
    hi = lo + step
    while p(hi) > delta:  # widen until rejected
        if hi >= 99.0:
            return 99.0
        lo, hi, step = hi, min(hi + 2 * step, 99.0), 2 * step
    if test == "exact" and lo <= 0.0 and p(0.0) <= delta:
        return 0.0
    while hi - lo > 0.005:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if p(mid) <= delta else (mid, hi)
    return math.ceil(round(hi * 100, 6)) / 100


def _flawless_betting(n: int, t: float, delta: float) -> bool:
    return p_values(np.zeros((1, n), np.int8), 100 * t, prior=bet_prior(0, 0, 1000))[0] <= delta


def samples_needed(target_pp: float, delta: float, test: str = "exact",
                   limit: int = 10_000_000) -> int | None:
    """Held-out samples a setting that never disagrees with the cloud needs before the
    test can certify it (None: never, e.g. target 0). Any valid test needs at least
    ln(1/delta) / -ln(1 - target): 767 at 0.3 pp, delta 0.1."""
    check_test(test)
    t = target_pp / 100.0
    if t <= 0 or t >= 1:
        return None
    ok = ((lambda n: exact_p_value(0, 0, n, float(target_pp), float(delta)) <= delta)
          if test == "exact" else (lambda n: _flawless_betting(n, t, delta)))
    lo = max(1, math.floor(math.log(delta) / math.log1p(-t)) - 1)  # nothing certifies below
    if ok(lo):
        return lo
    hi = lo
    while not ok(hi):
        if hi >= limit:
            return None
        lo, hi = hi, min(2 * hi, limit)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi
