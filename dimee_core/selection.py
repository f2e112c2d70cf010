"""The one place that recommends a setting, with a distribution-free guarantee.

Learn then Test (Angelopoulos, Bates, Candès, Jordan & Lei 2021) on the calibration split:

1. a seeded, stratified part of it (``fit_fraction``) fits every candidate: one k-means
   per (m, k, features) serves every n, policy, epsilon / mu, safety margin and both
   DIMEE and DIMEE+; the cascade is a candidate like any other;
2. the same part orders the candidates into paths: one for DIMEE+ and the cascade it
   contains (so DIMEE+ never ends below the cascade), one for DIMEE, one over every
   method (the pick across methods); the likeliest to pass first, as the fit part
   predicts the held-out test (its smooth paired loss, the cloud's probability of the
   true label minus the setting's, against the share of its answers that differ from
   the cloud's), then the dearest;
3. the held-out rest tests "true accuracy drop > target" for each candidate in that order
   with a valid p-value (``pvalues``: an exact test on the disagreement counts), stopping
   at the first that cannot be rejected (fixed-sequence testing: no multiplicity penalty
   along a path fixed before the held-out part is seen);
4. each family's recommendation is its cheapest candidate among those certified.

Guarantee: if calibration samples and future samples are exchangeable (i.i.d. from the
same population), the family-wise error of each walk is at most delta: with probability
at least 1 - delta over calibration draws, EVERY candidate it certified has a true drop
within the target, whatever the grid. So choosing among one walk's certified candidates
afterwards (the cheapest, DIMEE+ or the cascade) keeps the guarantee; choosing between
DIMEE's walk and DIMEE+'s on their numbers would not (2 delta): pick across methods from
the "any" walk, or by a rule fixed in advance. ``Rule(paths="shared")`` puts every
method on one walk instead (jointly covered, but DIMEE's noisy candidates then stop
DIMEE+'s walk early: vitaminc, 0.3 pp). The recommendation is the cheapest certified
candidate, not the cheapest setting whose true drop is within the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cache import Split
# the candidate grid lives in .candidates; its names are part of this module's API
from .candidates import (FIT_FRACTION, METHODS, SETTING_COLUMNS, Candidates,  # noqa: F401
                         Grid, SelectionError, drop_and_se, evaluate_candidates, paired_loss)
from .config import DELTA, DIMEEConfig  # noqa: F401  (DELTA: part of this API)
from .pvalues import check_test, samples_needed, test_p_values, upper_bound_pp
from .stats import GATE_GRID

# which candidates each recommendation may pick: DIMEE+ contains the cascade
FAMILIES = {"dimee": ("dimee",), "dimee_plus": ("dimee_plus", "cascade"),
            "cascade": ("cascade",), "any": METHODS}
PSEUDO_PER_CLUSTER = {"dimee": 1.0, "dimee_plus": 3.0, "cascade": 0.0}  # "counts" order only
ORDERS = ("smooth", "power", "counts")
PATHS = ("shared", "family", "own")


def check_request(target_pp: float, delta: float) -> None:
    if not isinstance(target_pp, (int, float)) or not math.isfinite(target_pp) or target_pp < 0:
        raise SelectionError(f"target accuracy drop must be a number >= 0 pp, got {target_pp!r}")
    if not isinstance(delta, (int, float)) or not 0.0 < delta < 1.0:
        raise SelectionError(f"delta (the allowed risk) must lie strictly between 0 and 1, "
                             f"got {delta!r}")


@dataclass(frozen=True)
class Rule:
    """How the path is made and tested. ``order``: "power" (the held-out z-score the fit
    part predicts for the target: smooth risk against the share of answers that differ
    from the cloud's), "smooth" (the fit-part smooth paired loss alone) or "counts"
    (fit-part 0/1 disagreements plus a per-cluster penalty, the earlier rule); ``test``:
    see ``pvalues``; ``paths``: "shared", one path for every family; "family", one for
    DIMEE and one for DIMEE+ that the cascade (which DIMEE+ contains) reads too, plus one
    over every method for "any"; "own", one per family (the earlier rule). Each walk
    holds at delta; a choice between families of different walks is covered only at the
    sum of their deltas, so pick across methods from the "any" walk."""

    order: str = "power"
    test: str = "exact"
    paths: str = "family"

    def __post_init__(self):
        if self.order not in ORDERS:
            raise SelectionError(f"order must be one of {ORDERS}, got {self.order!r}")
        check_test(self.test)
        if self.paths not in PATHS:
            raise SelectionError(f"paths must be one of {PATHS}, got {self.paths!r}")

    def walk_of(self, family: str) -> str:
        """Which walk certifies ``family``."""
        if self.paths == "shared":
            return "any"
        return "dimee_plus" if self.paths == "family" and family == "cascade" else family


RULE = Rule()
EARLIER_RULE = Rule(order="counts", test="betting", paths="own")  # before issue 22


# ---------------------------------------------------------------- testing along the path

def guarantee_words(target_pp: float, delta: float) -> str:
    """The claim in words; the confidence is over calibration draws."""
    return (f"accuracy drop vs all-in-cloud ≤ {target_pp:g} pp with "
            f"{100 * (1 - delta):g} % confidence")


@dataclass(frozen=True)
class Recommendation:
    """The cheapest candidate of a family certified at ``target_pp`` with risk ``delta``;
    ``index`` is None when none was."""

    family: str
    target_pp: float
    delta: float
    index: int | None
    method: str | None  # the winner's own kind (a DIMEE+ recommendation may be a cascade)
    config: DIMEEConfig | None
    p_value: float | None
    bound_pp: float | None  # (1 - delta) upper bound of this setting on the held-out part
    held_out_drop_pp: float | None
    reduction_pct: float | None  # on the whole calibration split
    n_fit: int
    n_held_out: int
    tested: int  # candidates tested along the path (the last one failed unless all passed)
    certified: int  # candidates rejected (certified) along the path
    path_length: int
    message: str

    @property
    def ok(self) -> bool:
        return self.index is not None

    def guarantee(self) -> str:
        return guarantee_words(self.target_pp, self.delta)

    def setting(self) -> dict:
        """The knobs of the recommendation (what tune stores and Apply sets)."""
        if self.config is None:
            return {}
        c = self.config
        if self.method == "cascade":
            return {"method": "cascade", "m": c.m, "n": c.n, "alpha": c.alpha}
        out = {"method": self.method, "m": c.m, "n": c.n, "k": c.k, "features": c.features,
               "policy": c.policy}
        if c.policy == "budget":
            out.update(epsilon=c.epsilon, safety=c.safety)
        elif c.policy == "reward":
            out["mu"] = c.mu
        return out

    def to_dict(self) -> dict:
        return {"family": self.family, "target_pp": self.target_pp, "delta": self.delta,
                "certified": self.ok, "setting": self.setting(),
                "p_value": self.p_value, "bound_pp": self.bound_pp,
                "held_out_drop_pp": self.held_out_drop_pp,
                "calibration_reduction_pct": self.reduction_pct,
                "n_fit": self.n_fit, "n_held_out": self.n_held_out,
                "tested": self.tested, "path_length": self.path_length,
                "guarantee": self.guarantee() if self.ok else None, "message": self.message}


def path_order(cands: Candidates, family: str, delta: float, rule: Rule = RULE,
               split_points: tuple[int, int] | None = None,
               target_pp: float | None = None) -> np.ndarray:
    """Row indices in testing order, fixed by the fit part alone. The path holds every
    method its walk serves (``Rule.walk_of``). Least estimated risk first, then
    the dearest; a candidate is kept only when it is cheaper than every safer candidate
    of its own method, so each test offers a saving and fewer tests can stop the walk.

    Risk estimates: "smooth", the fit-part mean r of the cloud's probability of the true
    label minus the setting's (low variance: every sample contributes, not only the few
    that disagree); "power", the chance of passing the held-out test as the fit part
    predicts it, Phi((t - r+ - z se) / sqrt(se^2 + v / n_fit)), with r+ = max(r, 0) (a
    setting more confident than the cloud is not predicted to disagree less than never;
    unclipped, such settings jumped ahead and one +1 stopped the walk), v the fit-part share
    of answers differing from the cloud's, se = sqrt((v + t + 1/n) / n) the held-out
    mean's spread and v / n_fit the fit part's own uncertainty about r (a setting that
    disagrees often is noisy to test and to predict, so it waits); "counts", max(fit-part drop, 0) + z * sqrt(disagreements + c * k) / N
    with c pseudo-disagreements per cluster (a setting fitted on these samples flatters
    itself there)."""
    from scipy.stats import norm

    if family not in FAMILIES:
        raise SelectionError(f"family must be one of {sorted(FAMILIES)}, got {family!r}")
    t = cands.table
    keep = t["method"].isin(FAMILIES[rule.walk_of(family)])
    # a setting no cheaper than all-in-cloud on the fit part offers nothing to certify
    # (all-in-cloud is the fallback anyway), and with too few samples its test would
    # stop the walk before the candidates that do save
    keep &= t["fit_cost"] < cands.base.costs.reference_cost(cands.num_layers) - 1e-9
    if split_points is not None:
        keep = keep & (t["m"] == split_points[0]) & (t["n"] == split_points[1])
    rows = np.flatnonzero(keep.to_numpy())
    if rule.order == "smooth":
        score = t["fit_risk_pp"].to_numpy()
    elif rule.order == "power":  # the likeliest to pass first (see the docstring)
        if target_pp is None:
            raise SelectionError("the power order needs the target")
        tt, n, v = target_pp / 100, cands.n_held_out, t["fit_differ"].to_numpy()
        se = np.sqrt((v + tt + 1 / n) / n)  # the held-out mean's spread
        r = np.maximum(t["fit_risk_pp"].to_numpy() / 100, 0.0)  # none is safer than 0
        score = -((tt - r) - norm.ppf(1 - delta) * se) / (
            np.sqrt(se * se + v / cands.n_fit))
    else:
        spread = np.sqrt(t["fit_plus"] + t["fit_minus"] + t["method"].map(
            PSEUDO_PER_CLUSTER) * t["k"]) / cands.n_fit
        score = (np.maximum(t["fit_drop_pp"], 0.0) + 100 * norm.ppf(1 - delta) * spread
                 ).to_numpy()
    score, cost = np.round(score[rows], 9), t["fit_cost"].to_numpy()[rows]
    kind = t["method"].to_numpy()[rows]
    order = np.lexsort((-cost, score))
    kept = np.zeros(len(order), bool)
    for k in np.unique(kind):  # per method: cheaper than every safer one of its kind
        mine = order[kind[order] == k]
        prev = np.minimum.accumulate(np.concatenate([[np.inf], cost[mine][:-1]]))
        kept[np.flatnonzero(kind[order] == k)[cost[mine] < prev - 1e-12]] = True
    return rows[order[kept]]


@dataclass(frozen=True)
class Walk:
    """One fixed-sequence walk: the path, the candidates certified (a prefix of it, with
    their p-values) and the p-value that stopped it (None: every candidate passed)."""

    path: np.ndarray
    passed: tuple[tuple[int, float], ...]
    stop_p: float | None

    @property
    def tested(self) -> int:
        return len(self.passed) + (self.stop_p is not None)


def walk(cands: Candidates, target_pp: float, delta: float = DELTA, family: str = "any",
         rule: Rule = RULE, random_state: int = 0,
         split_points: tuple[int, int] | None = None) -> Walk:
    """Test along the path until the first candidate that cannot be certified (memoised:
    with a shared path, every family reads the same walk)."""
    check_request(target_pp, delta)
    key = (float(target_pp), float(delta), rule.walk_of(family), rule,
           random_state, split_points)
    if key not in cands.walks:
        order = path_order(cands, family, delta, rule, split_points, target_pp)
        passed: list[tuple[int, float]] = []
        stop_p = None
        for s in range(0, len(order), 16):  # block by block until the first failure
            block = order[s:s + 16]
            p = test_p_values(cands.D[block], target_pp, delta, rule.test, random_state,
                              cands.prior(block))
            bad = np.flatnonzero(p > delta)
            stop = int(bad[0]) if bad.size else len(block)
            passed += [(int(i), float(pv)) for i, pv in zip(block[:stop], p[:stop])]
            if bad.size:
                stop_p = float(p[stop])
                break
        cands.walks[key] = Walk(order, tuple(passed), stop_p)
    return cands.walks[key]


def certified_rows(cands: Candidates, target_pp: float, delta: float = DELTA,
                   family: str = "any", rule: Rule = RULE) -> np.ndarray:
    """Every certified candidate of ``family`` (jointly covered: pick any of them)."""
    w = walk(cands, target_pp, delta, family, rule)
    rows = np.array([i for i, _ in w.passed], dtype=int)
    return rows[np.isin(cands.table["method"].to_numpy()[rows], FAMILIES[family])]


def _refusal(cands: Candidates, target_pp: float, delta: float, rule: Rule,
             w: Walk) -> str:
    need = samples_needed(target_pp, delta, rule.test)
    if need is None:
        why = ("a target of 0 pp is only certifiable for a setting that beats the cloud "
               "on the held-out samples")
    elif need > cands.n_held_out:
        total = math.ceil(need / (1 - cands.fit_fraction))
        why = (f"the calibration split is too small for this target: even a setting that "
               f"never disagrees with the cloud needs {need} held-out samples (about "
               f"{total} calibration samples in all); this one holds out "
               f"{cands.n_held_out}")
    elif not w.passed:
        why = (f"the first candidate tested (the safest by the fit part) was not "
               f"certified (p = {w.stop_p:.3g} > δ = {delta:g}); try a larger target or δ")
    else:
        why = (f"the walk stopped (p = {w.stop_p:.3g} > δ = {delta:g}) before reaching a "
               f"setting of this family; try a larger target or δ")
    return f"No setting can be guaranteed: {why}."


def certify(cands: Candidates, target_pp: float, delta: float = DELTA,
            family: str = "any", random_state: int = 0,
            split_points: tuple[int, int] | None = None, rule: Rule = RULE,
            bound: bool = True, rank: np.ndarray | None = None) -> Recommendation:
    """The cheapest certified candidate of ``family`` (on calibration). ``split_points``
    restricts the path to one (m, n) (its own walk, its own delta). ``bound``: also
    compute the winner's (1 - delta) upper bound (not adjusted for the selection).
    ``rank``: each candidate's saving in an objective's unit (objective.reductions; by
    default the abstract one): every certified candidate is covered at once, so the
    cheapest in any unit may be picked."""
    w = walk(cands, target_pp, delta, family, rule, random_state, split_points)
    t = cands.table
    mine = [(i, p) for i, p in w.passed if t["method"].iat[i] in FAMILIES[family]]
    base = dict(family=family, target_pp=float(target_pp), delta=float(delta),
                n_fit=cands.n_fit, n_held_out=cands.n_held_out, tested=w.tested,
                certified=len(mine), path_length=len(w.path))
    if not mine:
        return Recommendation(index=None, method=None, config=None, p_value=None,
                              bound_pp=None, held_out_drop_pp=None, reduction_pct=None,
                              message=_refusal(cands, target_pp, delta, rule, w), **base)
    rank = t["reduction_pct"].to_numpy() if rank is None else rank
    best, p_best = min(mine, key=lambda ip: (-rank[ip[0]], -t["reduction_pct"].iat[ip[0]],
                                             ip[0]))
    d = cands.D[best]
    shared = {"any": " shared by every method", "dimee_plus": " shared by DIMEE+ and the "
              "cascade"}.get(rule.walk_of(family), "")
    return Recommendation(
        index=best, method=str(t["method"].iat[best]), config=cands.config(best),
        p_value=p_best,
        bound_pp=(upper_bound_pp(d, delta, rule.test, random_state, cands.prior([best]))
                  if bound else None),
        held_out_drop_pp=drop_and_se(d)[0], reduction_pct=float(t["reduction_pct"].iat[best]),
        message=(f"Certified {len(w.passed)} of {w.tested} candidates tested along a path "
                 f"of {len(w.path)}{shared}; the cheapest of this family saves "
                 f"{t['reduction_pct'].iat[best]:.1f} % on calibration."), **base)


FRONTIER_TARGETS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
# what a screen showing these must say (the guarantee does not cover choosing after looking)
FRONTIER_NOTE = ("Each target on this frontier is certified on its own. Choosing a target "
                 "after seeing what it saves is a choice made on the same data, which δ does "
                 "not cover: fix the target first and read this as a guide.")
HEATMAP_NOTE = ("Every cell is its split points' cheapest setting among the candidates "
                "certified by ONE walk, so the cells hold jointly: choosing a cell after "
                "looking keeps the guarantee.")
BOUND_NOTE = ("The bound is this setting's own (1 − δ) upper confidence bound on the "
              "held-out part; it is not adjusted for having chosen the setting there.")


def certified_frontier(cands: Candidates, delta: float = DELTA, family: str = "any",
                       targets=FRONTIER_TARGETS, rule: Rule = RULE,
                       rank: np.ndarray | None = None) -> list[Recommendation]:
    """The recommendation for each target (each its own guarantee at that target: see
    FRONTIER_NOTE), one per distinct setting: a cost / guaranteed-drop frontier
    (``rank``: what each candidate saves, as in :func:`certify`)."""
    seen, out = set(), []
    for t in targets:
        rec = certify(cands, t, delta, family, rule=rule, rank=rank)
        if rec.ok and rec.index not in seen:
            seen.add(rec.index)
            out.append(rec)
    return out


def split_point_table(cands: Candidates, target_pp: float, delta: float = DELTA,
                      family: str = "any", rule: Rule = RULE,
                      rank: np.ndarray | None = None) -> pd.DataFrame:
    """Best certified saving for every (m, n) (NaN where none): each cell the cheapest
    of ``family`` at its split points among the one walk's certified candidates, so the
    whole table holds jointly (HEATMAP_NOTE). ``bound_pp``: that setting's own bound;
    ``rank``: what each candidate saves, as in :func:`certify` (``index``: the pick)."""
    from .pvalues import upper_bound_pp as bound_of

    t = cands.table
    rows = certified_rows(cands, target_pp, delta, family, rule)
    pairs = sorted({(int(m), int(n)) for m, n in zip(t["m"], t["n"])})
    out = []
    for m, n in pairs:
        here = rows[(t["m"].to_numpy()[rows] == m) & (t["n"].to_numpy()[rows] == n)]
        saving = t["reduction_pct"].to_numpy() if rank is None else rank
        best = int(here[np.argmax(saving[here])]) if here.size else None
        out.append({"m": m, "n": n, "index": np.nan if best is None else best,
                    "reduction_pct": np.nan if best is None else t["reduction_pct"].iat[best],
                    "method": None if best is None else t["method"].iat[best],
                    "bound_pp": None if best is None else bound_of(
                        cands.D[best], delta, rule.test, 0, cands.prior([best]))})
    return pd.DataFrame(out)


NEVER = float(GATE_GRID[-1])  # a threshold above 1: no exit is ever sure


def cascade_alpha(calibration: Split, config: DIMEEConfig, target_pp: float,
                  delta: float = DELTA, fit_fraction: float = FIT_FRACTION,
                  rule: Rule = RULE) -> float:
    """The cascade's certified alpha at ``config``'s split points and costs (the selection
    restricted to the cascade at one (m, n): no k-means, milliseconds). ``NEVER`` (every
    sample climbs to the cloud) when no alpha can be certified."""
    grid = Grid(split_points=((config.m, config.n),), methods=("cascade",))
    rec = certify(evaluate_candidates(calibration, config, grid, fit_fraction), target_pp,
                  delta, "cascade", rule=rule, bound=False)
    return rec.config.alpha if rec.ok else NEVER
