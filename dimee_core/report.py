"""The headline report: cost reduction at a target accuracy drop, chosen with a guarantee.

For every cache and every target drop (0.3 pp, 1 pp): ``selection`` recommends DIMEE,
DIMEE+ and the cascade on the calibration split alone (Learn then Test along one shared
path: over calibration draws, the chance that any of the three has a true drop above the
target is at most delta). Only then
is the test split scored (with paired bootstrap 95 % intervals). Frontiers sweep each
method's knob and score every point on test. ``resplits`` repeats the whole selection on
R fresh 50/50 re-splits of calibration + test and counts how often the target is broken.
"""

from __future__ import annotations

import itertools
import json
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from . import baselines, price
from .cache import Cache
from .config import SHORT_LABELS, DIMEEConfig
from .evaluate import fit_routers, score_routing
from .explore import cascade_sweep, router_sweep
from .io import atomic_write_text
from .metrics import MethodResult
from .report_plots import SWEEP, TUNED, plot_frontiers, plot_resplits
from .router import Routing
from .selection import (DELTA, METHODS, RULE, Candidates, Grid, Recommendation, certify,
                        evaluate_candidates, paired_loss)
from .splits import Split, concat, split_groups, two_way
from .stats import GATE_GRID

TARGETS_PP = (0.3, 1.0)
# Targets of the calibration-tuned frontier: each method is re-selected for each of them.
TARGET_SWEEP = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0)
EPSILON_SWEEP = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0,
                 35.0)
HEADLINE = {"reduction_pct": 43.0, "drop_pp": 0.3}
RESPLITS = 100


@dataclass(frozen=True)
class OperatingPoint:
    dataset: str
    method: str  # dimee | dimee_plus | cascade
    target_pp: float
    setting: dict
    calibration_drop_pp: float
    test: MethodResult


@dataclass(frozen=True)
class Tuned:
    """One method recommended for one target on calibration, routed on test."""

    method: str
    setting: dict
    calibration_drop_pp: float  # on the held-out part of calibration
    routing: Routing


def point_setting(rec: Recommendation, cands: Candidates) -> dict:
    """What a report records of a recommendation: its knobs and its guarantee."""
    if not rec.ok:
        return {"certified": False, "deployed": "all in cloud"}
    setting = dict(rec.setting())
    if rec.method == "dimee_plus":
        setting["beta"] = float(cands.table["beta"].iat[rec.index])
    return {**setting, "fit_fraction": cands.fit_fraction, "certified": True,
            "bound_pp": rec.bound_pp, "p_value": round(rec.p_value, 5)}


class Recommended:
    """Each method's recommendation for any target from one set of candidates (evaluated
    once, on calibration only), routed on the test split; memoised per target."""

    def __init__(self, cache: Cache, base: DIMEEConfig, cands: Candidates,
                 delta: float = DELTA):
        self.cache, self.base, self.cands, self.delta = cache, base, cands, delta
        self._tuned: dict[float, list[Tuned]] = {}

    def tune(self, target_pp: float) -> list[Tuned]:
        if target_pp not in self._tuned:
            self._tuned[target_pp] = [self._one(target_pp, m) for m in METHODS]
        return self._tuned[target_pp]

    def _one(self, target_pp: float, method: str) -> Tuned:
        rec = certify(self.cands, target_pp, self.delta, method)
        test = self.cache.test
        routing = (self.cands.routing(rec.index, test) if rec.ok else
                   baselines.all_in_cloud(test.n, self.cache.num_layers, self.base.costs))
        return Tuned(method, point_setting(rec, self.cands),
                     rec.held_out_drop_pp if rec.ok else 0.0, routing)


def operating_points(tuner: Recommended, target_pp: float, n_boot: int = 1000
                     ) -> list[OperatingPoint]:
    """Each method tuned for ``target_pp`` on calibration, scored on test with CIs."""
    return [OperatingPoint(tuner.cache.name, t.method, target_pp, t.setting,
                           t.calibration_drop_pp,
                           score_routing(tuner.cache, tuner.base, t.routing, n_boot))
            for t in tuner.tune(target_pp)]


def _tuned_row(target: float, t: Tuned, result: MethodResult) -> dict:
    return {"method": t.method, "protocol": TUNED, "knob": "target_pp", "value": target,
            "setting": t.setting, "drop_pp": result.accuracy_drop_pp,
            "reduction_pct": result.cost_reduction_pct}


def frontiers(tuner: Recommended) -> list[dict]:
    """Test (drop, reduction) along two frontiers per method.

    ``calibration-tuned``: every method recommended (certified) on calibration for each
    target of TARGET_SWEEP by the same selection, then scored on test: the like-for-like
    comparison (targets where a method has no certified setting are left out).
    ``test sweep``: each method's own knob (epsilon of the tuned setting, cascade alpha)
    swept and scored on test; the cascade's is then its best case, chosen on test."""
    cache, base = tuner.cache, tuner.base
    rows = [_tuned_row(target, t, score_routing(cache, base, t.routing))
            for target in TARGET_SWEEP for t in tuner.tune(target)
            if t.setting.get("certified")]
    dimee, plus = fit_routers(cache, base)
    sweeps = pd.concat([
        router_sweep(dimee, base, cache.test, "epsilon", EPSILON_SWEEP, "dimee"),
        router_sweep(plus, base, cache.test, "epsilon", EPSILON_SWEEP, "dimee_plus"),
        cascade_sweep(cache, base, GATE_GRID)], ignore_index=True)
    rows += [{"method": r.method, "protocol": SWEEP, "knob": r.param, "value": r.value,
              "drop_pp": r.accuracy_drop_pp, "reduction_pct": r.cost_reduction_pct}
             for r in sweeps.itertuples()]
    return rows


def _staircase_gaps(my_drop: np.ndarray, my_red: np.ndarray, their_drop: np.ndarray,
                    their_red: np.ndarray) -> np.ndarray:
    """At each of their points, the best reduction of mine with no larger drop, minus
    theirs; NaN where none of mine is that accurate. Leading axes (bootstrap resamples)
    broadcast: (..., M) and (..., T) give (..., T)."""
    ok = my_drop[..., None, :] <= their_drop[..., :, None] + 1e-9
    best = np.where(ok, my_red[..., None, :], -np.inf).max(-1, initial=-np.inf)
    return np.where(ok.any(-1), best - their_red, np.nan)


def _gap_summary(gaps: np.ndarray) -> dict:
    done = gaps[~np.isnan(gaps)]
    return {"points": len(done), "not_worse": int((done >= -1e-9).sum()), "of": len(gaps),
            "worst_gap_pp": float(done.min()) if len(done) else float("nan"),
            "mean_gap_pp": float(done.mean()) if len(done) else float("nan")}


def frontier_gap(rows: list[dict], method: str = "dimee_plus", other: str = "cascade",
                 protocol: str | None = TUNED) -> dict:
    """At every operating point of ``other``, the best reduction ``method`` reaches with no
    larger test drop; counts the points where ``method`` is cheaper or equal."""
    rows = [r for r in rows if protocol is None or r.get("protocol") == protocol]
    arr = {name: (np.array([r["drop_pp"] for r in rows if r["method"] == name], float),
                  np.array([r["reduction_pct"] for r in rows if r["method"] == name], float))
           for name in (method, other)}
    return _gap_summary(_staircase_gaps(*arr[method], *arr[other]))


def frontier_gap_bootstrap(tuner: Recommended, method: str = "dimee_plus", other: str = "cascade",
                           n_boot: int = 1000, random_state: int = 0) -> dict:
    """Is the calibration-tuned frontier gap more than test noise? Paired bootstrap over
    the test samples (every point of both methods rescored on the same resample; the
    settings stay those chosen on calibration): a 95 % interval of the mean gap, and the
    points where the gap's interval lies wholly below (above) zero. A point where, in a
    resample, ``method`` has nothing as accurate counts as worse there."""
    test = tuner.cache.test
    ref = tuner.base.costs.reference_cost(tuner.cache.num_layers)
    weights = np.random.default_rng(random_state).multinomial(
        test.n, np.full(test.n, 1 / test.n), size=n_boot) / test.n  # B x N, paired

    def rescored(name: str) -> tuple[np.ndarray, np.ndarray]:
        """(drop, reduction) of each of the method's points on every resample: B x points."""
        ts = [t for target in TARGET_SWEEP for t in tuner.tune(target)
              if t.method == name and t.setting.get("certified")]
        if not ts:
            return np.zeros((n_boot, 0)), np.zeros((n_boot, 0))
        diff = np.stack([paired_loss(test, t.routing.exit_layer) for t in ts]).astype(float)
        cost = np.stack([t.routing.cost for t in ts])
        return 100 * weights @ diff.T, 100 * (1 - weights @ cost.T / ref)

    gaps = _staircase_gaps(*rescored(method), *rescored(other))  # B x their points
    filled = np.where(np.isnan(gaps), -np.inf, gaps)
    with warnings.catch_warnings():  # a resample where no point overlaps: NaN, said as such
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_gap = np.nanmean(gaps, axis=1)
        ci = [float(np.nanpercentile(mean_gap, 2.5)), float(np.nanpercentile(mean_gap, 97.5))]
    lo, hi = np.percentile(filled, [2.5, 97.5], axis=0, method="inverted_cdf")  # no inf - inf
    return {"mean_gap_ci95": ci,
            "significantly_worse": int((hi < -1e-9).sum()),
            "significantly_better": int((lo > 1e-9).sum()), "n_boot": n_boot}


def final_exit_accuracy(cache: Cache) -> float:
    """Test accuracy of all-in-cloud: what a report records to name the build it used."""
    return float((cache.test.probs[:, -1].argmax(1) == cache.test.labels).mean())


def _one_resplit(pooled: Split, base: DIMEEConfig, seed: int, targets, delta: float,
                 grid: Grid, num_layers: int) -> dict:
    """One re-split: {(target, method): (cost reduction %, drop pp) on the scoring half}."""
    first, second = two_way(pooled.labels, split_groups(pooled), 0.5, seed)
    cal, held = pooled.take(first), pooled.take(second)
    cands = evaluate_candidates(cal, replace(base, random_state=seed), grid)
    ref = base.costs.reference_cost(num_layers)
    out = {}
    for t, m in itertools.product(targets, METHODS):
        rec = certify(cands, t, delta, m, bound=False)
        if rec.ok:
            route = cands.routing(rec.index, held)
            drop = 100 * float(paired_loss(held, route.exit_layer).mean())
            out[t, m] = (100 * (1 - float(route.cost.mean()) / ref), drop)
        else:
            out[t, m] = (0.0, 0.0)
    return out


def resplit_evaluation(cache: Cache, resplits: int = RESPLITS, targets=TARGETS_PP,
                       delta: float = DELTA, grid: Grid = Grid(), random_state: int = 0,
                       base: DIMEEConfig | None = None, jobs: int = 1) -> dict:
    """Pool calibration and test, then ``resplits`` times: a fresh stratified,
    group-aware 50/50 split; the whole selection on one half; every method's
    recommendation scored on the other half. An uncertified method deploys all-in-cloud
    (saves 0 %, loses 0 pp): that is what a user following the selection would run."""
    from joblib import Parallel, delayed

    base = base or DIMEEConfig.for_cache(cache)
    pooled = concat(cache.calibration, cache.test)
    outcomes = Parallel(n_jobs=jobs)(
        delayed(_one_resplit)(pooled, base, random_state + r, targets, delta, grid,
                              cache.num_layers) for r in range(resplits))
    got = {key: [o[key] for o in outcomes] for key in outcomes[0]} if outcomes else {}
    return {f"{t:g}": {m: {"n_resplits": resplits,
                           "mean_cost_reduction_pct": float(np.mean([v[0] for v in got[t, m]])),
                           "mean_accuracy_drop_pp": float(np.mean([v[1] for v in got[t, m]])),
                           "violation_rate": float(np.mean([v[1] > t + 1e-9
                                                            for v in got[t, m]]))}
                       for m in METHODS} for t in targets}


def run_report(caches: list[Cache], out_dir: str | Path, n_boot: int = 1000,
               resplits: int = RESPLITS, delta: float = DELTA, grid: Grid = Grid(),
               log=print, jobs: int = 1) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"targets_pp": list(TARGETS_PP), "delta": delta, "rule": asdict(RULE),
              "datasets": {}}
    if resplits:
        result["resplits"] = {"delta": delta, "datasets": {}}
    seconds = {}
    for cache in caches:
        start = time.perf_counter()
        base = DIMEEConfig.for_cache(cache)
        cands = evaluate_candidates(cache.calibration, base, grid)
        tuner = Recommended(cache, base, cands, delta)
        pts = [p for t in TARGETS_PP for p in operating_points(tuner, t, n_boot)]
        rows = frontiers(tuner)
        result["datasets"][cache.name] = {
            "title": cache.meta.get("title", cache.name),
            "config": base.to_dict(),
            "final_exit_accuracy": final_exit_accuracy(cache),
            "n_calibration": cache.calibration.n, "n_test": cache.test.n,
            "candidates": len(cands.table), "selection_seconds": round(cands.seconds, 2),
            "points": [dict(asdict(p), test=p.test.to_dict()) for p in pts],
            "frontier": rows,
            "dimee_plus_vs_cascade": {**frontier_gap(rows),
                                      **frontier_gap_bootstrap(tuner, n_boot=n_boot)},
            "dimee_vs_cascade": frontier_gap(rows, "dimee"),
            "dimee_plus_vs_cascade_test_sweep": frontier_gap(rows, protocol=SWEEP),
        }
        result["datasets"][cache.name]["price_of_certainty"] = price.by_target(
            cache.calibration, base, TARGETS_PP, delta, cands, grid)
        mid = time.perf_counter()
        if resplits:
            result["resplits"]["datasets"][cache.name] = resplit_evaluation(
                cache, resplits, TARGETS_PP, delta, grid, base=base, jobs=jobs)
        seconds[cache.name] = {"report": round(mid - start, 1),
                               "resplits": round(time.perf_counter() - mid, 1)}
        log(f"{cache.name}: {len(cands.table)} candidates; selection {cands.seconds:.1f} s, "
            f"report {seconds[cache.name]['report']} s, {resplits} re-splits "
            f"{seconds[cache.name]['resplits']} s")
    result["seconds"] = seconds
    atomic_write_text(out_dir / "results.json", json.dumps(result, indent=1))
    atomic_write_text(out_dir / "results.md", results_markdown(result))
    plot_frontiers(result, out_dir / "frontiers.png")
    if resplits:
        plot_resplits(result["resplits"], out_dir / "resplits.png")
    return result


def _fmt_ci(ci) -> str:
    return f"[{ci[0]:.1f}, {ci[1]:.1f}]" if ci else ""


def setting_text(setting: dict) -> str:
    """A recorded setting in words: its knobs, then its certified bound."""
    if setting.get("certified") is False:
        return "none certified: all in cloud"
    knobs = ", ".join(f"{k}={v}" for k, v in setting.items()
                      if k not in ("oof_drop_pp", "certified", "p_value", "bound_pp",
                                   "fit_fraction"))
    bound = setting.get("bound_pp")
    return knobs + (f" (held-out bound {bound:.2f} pp)" if bound is not None else "")


def point_cells(p: dict) -> dict:
    """One operating point of results.json as the report's table cells."""
    t = p["test"]
    meets = ""
    if p["target_pp"] == 0.3:
        ok = (t["cost_reduction_pct"] >= HEADLINE["reduction_pct"]
              and t["accuracy_drop_pp"] <= HEADLINE["drop_pp"])
        meets = "yes" if ok else "no"
    return {"target": f"≤ {p['target_pp']} pp", "method": SHORT_LABELS[p["method"]],
            "setting": setting_text(p["setting"]),
            "reduction": t["cost_reduction_pct"], "reduction_ci": _fmt_ci(t["reduction_ci95"]),
            "drop": t["accuracy_drop_pp"], "drop_ci": _fmt_ci(t["drop_ci95"]), "meets": meets}


def load_results(path: str | Path) -> dict | None:
    """A report's results.json, or None when it is missing or not a report."""
    try:
        result = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) and isinstance(
        result.get("datasets"), dict) else None


def made_with_current_rule(result: dict) -> bool:
    """Whether ``result`` was selected with today's ``selection.RULE``: a report without
    the record predates it (issue 22), so its settings need not be the cache's answer."""
    return result.get("rule") == asdict(RULE)


def headline_table(result: dict, cache: Cache) -> pd.DataFrame | None:
    """The report's calibration-tuned operating points for ``cache``; None when the report
    holds no such dataset or was made from another build of it (its test size or
    final-exit accuracy differ), so stale numbers are never shown as this cache's."""
    d = result.get("datasets", {}).get(cache.name)
    if not isinstance(d, dict):
        return None
    try:
        if (d["n_test"] != cache.test.n
                or abs(float(d["final_exit_accuracy"]) - final_exit_accuracy(cache)) > 1e-9):
            return None
        table = pd.DataFrame([point_cells(p) for p in d["points"]])
        table.attrs["current_rule"] = made_with_current_rule(result)
        return table
    except (KeyError, TypeError, ValueError):  # not a report this code wrote
        return None


def results_markdown(result: dict) -> str:
    lines = ["| dataset | target | method | setting (certified on calibration) | test cost reduction % "
             "[95 % CI] | test accuracy drop pp [95 % CI] | meets 43 % @ ≤ 0.3 pp |",
             "|---|---|---|---|---|---|---|"]
    for ds, d in result["datasets"].items():
        for p in d["points"]:
            c = point_cells(p)
            lines.append(f"| {ds} | {c['target']} | {c['method']} | {c['setting']} | "
                         f"{c['reduction']:.1f} {c['reduction_ci']} | "
                         f"{c['drop']:+.2f} {c['drop_ci']} | {c['meets']} |")
    lines += ["", "DIMEE+ vs the cascade along the test frontiers (at each cascade point, "
              "DIMEE+'s best reduction at no larger test drop). Significance: paired "
              "bootstrap over the test samples, settings fixed from calibration:", "",
              "| dataset | both tuned on calibration for each target: DIMEE+ not worse at "
              "| mean gap [95 % CI] / worst (pp of reduction) | significantly worse / better "
              "at | knobs swept on test (cascade's α picked on test): not worse at "
              "| mean / worst gap |", "|---|---|---|---|---|---|"]
    for ds, d in result["datasets"].items():
        g, h = d["dimee_plus_vs_cascade"], d["dimee_plus_vs_cascade_test_sweep"]
        ci = g.get("mean_gap_ci95")
        sig = (f"{g['significantly_worse']} / {g['significantly_better']} of {g['of']}"
               if ci else "")
        lines.append(f"| {ds} | {g['not_worse']}/{g['points']} | {g['mean_gap_pp']:+.1f} "
                     f"{_fmt_ci(ci)} / {g['worst_gap_pp']:+.1f} | {sig} | "
                     f"{h['not_worse']}/{h['points']} | "
                     f"{h['mean_gap_pp']:+.1f} / {h['worst_gap_pp']:+.1f} |")
    lines += price.markdown(result["datasets"])
    if "resplits" in result:
        lines += ["", resplits_markdown(result["resplits"])]
    return "\n".join(lines) + "\n"


def resplits_markdown(resplits: dict) -> str:
    """Table of the re-split evaluation: mean saving, mean drop, violation rate."""
    delta = resplits["delta"]
    lines = [f"Re-splits: calibration + test pooled, re-split 50/50 R times; the whole "
             f"selection (δ = {delta:g}) on one half, scored on the other. An uncertified "
             f"method deploys all-in-cloud (0 %, 0 pp). The three methods are certified by "
             f"one walk along one shared path, so they hold jointly. Violation rate: share "
             f"of re-splits whose scored drop exceeds the target. It is not P(true drop > "
             f"target), which the guarantee bounds by δ over calibration draws: a scored "
             f"drop also carries the scoring half's noise (validity.population_violations "
             f"measures the true one on a population whose drops are known).", "",
             "| dataset | target | method | re-splits | mean cost reduction % "
             "| mean accuracy drop pp | violation rate |", "|---|---|---|---|---|---|---|"]
    for ds, d in resplits["datasets"].items():
        for target, methods in d.items():
            for m, v in methods.items():
                lines.append(f"| {ds} | ≤ {target} pp | {SHORT_LABELS[m]} | {v['n_resplits']} "
                             f"| {v['mean_cost_reduction_pct']:.1f} "
                             f"| {v['mean_accuracy_drop_pp']:+.2f} | {v['violation_rate']:.2f} |")
    return "\n".join(lines + ["", "![re-splits](resplits.png)"])
