"""The headline report: cost reduction at a target accuracy drop, tuned on calibration.

For every cache and every target drop (0.3 pp, 1 pp): DIMEE and DIMEE+ pick features,
k and the safety margin by cross-validation inside the calibration split; the cascade
picks alpha on calibration. Only then is the test split scored (with paired bootstrap
95 % intervals). Frontiers sweep each method's knob and score every point on test.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .baselines import cascade
from .cache import Cache, atomic_write_text
from .evaluate import DIMEEConfig, fit_routers, score_routing
from .explore import cascade_sweep, router_sweep
from .metrics import MethodResult
from .router import Routing
from .tune import (ALPHA_GRID, cross_validate, drop_vs_final, paired_drop, select,
                   tune_cascade_alpha)

TARGETS_PP = (0.3, 1.0)
# Targets of the calibration-tuned frontier: each method is re-tuned for each of them.
TARGET_SWEEP = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0)
EPSILON_SWEEP = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0,
                 35.0)
HEADLINE = {"reduction_pct": 43.0, "drop_pp": 0.3}
TUNED, SWEEP = "calibration-tuned", "test sweep"


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
    """One method tuned for one target on calibration, routed on test."""

    method: str
    setting: dict
    calibration_drop_pp: float
    routing: Routing


class Tuner:
    """Tunes DIMEE, DIMEE+ (cross-validated candidates) and the cascade (alpha) on the
    calibration split for any target drop, by the same confidence rule; routers chosen
    for several targets are fitted once."""

    def __init__(self, cache: Cache, base: DIMEEConfig, candidates: list):
        self.cache, self.base, self.candidates = cache, base, candidates
        self._fitted: dict = {}
        self._tuned: dict[float, list[Tuned]] = {}  # the table's targets recur in the sweep

    def tune(self, target_pp: float) -> list[Tuned]:
        if target_pp not in self._tuned:
            self._tuned[target_pp] = self._tune(target_pp)
        return self._tuned[target_pp]

    def _tune(self, target_pp: float) -> list[Tuned]:
        out = []
        for escalate, name in ((False, "dimee"), (True, "dimee_plus")):
            cand = select(self.candidates, target_pp, escalate)
            cfg = cand.config
            key = (cfg, escalate)
            if key not in self._fitted:
                self._fitted[key] = cfg.router(escalate=escalate).fit(self.cache.calibration)
            router = self._fitted[key]
            setting = {"features": cfg.features, "k": cfg.k, "epsilon": cfg.epsilon,
                       "safety": cfg.safety, "oof_drop_pp": round(cand.oof_drop_pp, 3)}
            if escalate:
                setting["beta"] = router.beta_
            out.append(Tuned(name, setting, cand.oof_drop_pp, router.route(self.cache.test)))
        base, cal = self.base, self.cache.calibration
        alpha = tune_cascade_alpha(cal, base, target_pp)
        cal_drop, _ = drop_vs_final(cal, cascade(cal.probs, alpha, base.m, base.n,
                                                 base.costs).exit_layer)
        out.append(Tuned("cascade", {"alpha": alpha}, cal_drop,
                         cascade(self.cache.test.probs, alpha, base.m, base.n, base.costs)))
        return out


def operating_points(tuner: Tuner, target_pp: float, n_boot: int = 1000
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


def frontiers(tuner: Tuner) -> list[dict]:
    """Test (drop, reduction) along two frontiers per method.

    ``calibration-tuned``: every method tuned on calibration for each target of
    TARGET_SWEEP by the same rule, then scored on test: the like-for-like comparison.
    ``test sweep``: each method's own knob (epsilon of the tuned setting, cascade alpha)
    swept and scored on test; the cascade's is then its best case, chosen on test."""
    cache, base = tuner.cache, tuner.base
    rows = [_tuned_row(target, t, score_routing(cache, base, t.routing))
            for target in TARGET_SWEEP for t in tuner.tune(target)]
    dimee, plus = fit_routers(cache, base)
    sweeps = pd.concat([
        router_sweep(dimee, base, cache.test, "epsilon", EPSILON_SWEEP, "dimee"),
        router_sweep(plus, base, cache.test, "epsilon", EPSILON_SWEEP, "dimee_plus"),
        cascade_sweep(cache, base, ALPHA_GRID)], ignore_index=True)
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


def frontier_gap_bootstrap(tuner: Tuner, method: str = "dimee_plus", other: str = "cascade",
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
        ts = [t for target in TARGET_SWEEP for t in tuner.tune(target) if t.method == name]
        diff = np.stack([paired_drop(test, t.routing.exit_layer) for t in ts])
        cost = np.stack([t.routing.cost for t in ts])
        return 100 * weights @ diff.T, 100 * (1 - weights @ cost.T / ref)

    gaps = _staircase_gaps(*rescored(method), *rescored(other))  # B x their points
    filled = np.where(np.isnan(gaps), -np.inf, gaps)
    with np.errstate(invalid="ignore"):
        mean_gap = np.nanmean(gaps, axis=1)
    lo, hi = np.percentile(filled, [2.5, 97.5], axis=0, method="inverted_cdf")  # no inf - inf
    return {"mean_gap_ci95": [float(np.nanpercentile(mean_gap, 2.5)),
                              float(np.nanpercentile(mean_gap, 97.5))],
            "significantly_worse": int((hi < -1e-9).sum()),
            "significantly_better": int((lo > 1e-9).sum()), "n_boot": n_boot}


def final_exit_accuracy(cache: Cache) -> float:
    """Test accuracy of all-in-cloud: what a report records to name the build it used."""
    return float((cache.test.probs[:, -1].argmax(1) == cache.test.labels).mean())


def run_report(caches: list[Cache], out_dir: str | Path, n_boot: int = 1000) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"targets_pp": list(TARGETS_PP), "datasets": {}}
    for cache in caches:
        base = DIMEEConfig.for_cache(cache)
        tuner = Tuner(cache, base, cross_validate(cache.calibration, base))
        pts = [p for t in TARGETS_PP for p in operating_points(tuner, t, n_boot)]
        rows = frontiers(tuner)
        result["datasets"][cache.name] = {
            "title": cache.meta.get("title", cache.name),
            "config": base.to_dict(),
            "final_exit_accuracy": final_exit_accuracy(cache),
            "n_calibration": cache.calibration.n, "n_test": cache.test.n,
            "points": [dict(asdict(p), test=p.test.to_dict()) for p in pts],
            "frontier": rows,
            "dimee_plus_vs_cascade": {**frontier_gap(rows),
                                      **frontier_gap_bootstrap(tuner, n_boot=n_boot)},
            "dimee_vs_cascade": frontier_gap(rows, "dimee"),
            "dimee_plus_vs_cascade_test_sweep": frontier_gap(rows, protocol=SWEEP),
        }
    atomic_write_text(out_dir / "results.json", json.dumps(result, indent=1))
    atomic_write_text(out_dir / "results.md", results_markdown(result))
    plot_frontiers(result, out_dir / "frontiers.png")
    return result


def _fmt_ci(ci) -> str:
    return f"[{ci[0]:.1f}, {ci[1]:.1f}]" if ci else ""


METHOD_NAMES = {"dimee": "DIMEE", "dimee_plus": "DIMEE+", "cascade": "cascade"}


def point_cells(p: dict) -> dict:
    """One operating point of results.json as the report's table cells."""
    t = p["test"]
    meets = ""
    if p["target_pp"] == 0.3:
        ok = (t["cost_reduction_pct"] >= HEADLINE["reduction_pct"]
              and t["accuracy_drop_pp"] <= HEADLINE["drop_pp"])
        meets = "yes" if ok else "no"
    return {"target": f"≤ {p['target_pp']} pp", "method": METHOD_NAMES[p["method"]],
            "setting": ", ".join(f"{k}={v}" for k, v in p["setting"].items()
                                 if k != "oof_drop_pp"),
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
        return pd.DataFrame([point_cells(p) for p in d["points"]])
    except (KeyError, TypeError, ValueError):  # not a report this code wrote
        return None


def results_markdown(result: dict) -> str:
    lines = ["| dataset | target | method | setting (from calibration) | test cost reduction % "
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
    return "\n".join(lines) + "\n"


def plot_frontiers(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["datasets"])
    cols = min(2, len(names))
    rows_n = -(-len(names) // cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(6.2 * cols, 4.4 * rows_n), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    style = {"dimee": ("DIMEE", "tab:blue"), "dimee_plus": ("DIMEE+", "tab:green"),
             "cascade": ("cascade", "tab:orange")}
    lines = {TUNED: ("o-", 1.4, "tuned on calibration per target"),
             SWEEP: ("--", 0.8, "knob swept on test")}
    for ax, ds in zip(axes.flat, names):
        rows = result["datasets"][ds]["frontier"]
        for (method, (label, colour)), (protocol, (fmt, lw, how)) in itertools.product(
                style.items(), lines.items()):
            pts = sorted({(r["reduction_pct"], r["drop_pp"]) for r in rows
                          if r["method"] == method and r["protocol"] == protocol})
            ax.plot([p[0] for p in pts], [p[1] for p in pts], fmt, ms=3, lw=lw,
                    label=f"{label}, {how}", color=colour, alpha=1 if protocol == TUNED else 0.6)
        ax.axhline(0.3, ls=":", color="grey", lw=1)
        ax.axvline(43, ls=":", color="grey", lw=1)
        ax.set_title(result["datasets"][ds]["title"][:60], fontsize=10)
        ax.set_xlabel("test cost reduction vs all-in-cloud (%)")
        ax.set_ylabel("test accuracy drop (pp)")
        ax.set_ylim(-1.5, 6)
        ax.set_xlim(0, 85)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
