"""The 30-second answer per data set: which method to use at its stored setting, and how
DIMEE, DIMEE+ and the confidence cascade compare there.

Honest by construction: the recommended method and the cascade's α are chosen on the
calibration split only (the stored setting was itself chosen there by ``tune``); the
test split only scores the choice.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from .baselines import cascade
from .cache import Cache
from .config import METHOD_LABELS, DIMEEConfig
from .evaluate import Evaluation, fit_routers, plus_router, plus_routing, score_routing
from .metrics import MethodResult
from .recommendation import (COMPARED, TARGET_PP, CalibrationPoint, Recommendation,
                             all_to_cloud, pick_method, stored_target)
from .router import DIMEERouter
from .selection import cascade_alpha, paired_loss



def recommend(cache: Cache, config: DIMEEConfig | None = None,
              target_pp: float | None = None, n_boot: int = 1000, routers: tuple[DIMEERouter, DIMEERouter] | None = None,
              plus_config: DIMEEConfig | None = None) -> Recommendation:
    """Score DIMEE at ``config`` and DIMEE+ at ``plus_config`` (each the cache's own
    stored, certified setting by default: DIMEE+'s may be the cascade it contains), choose
    the method and the cascade's α on calibration, then score all three on test.
    ``routers``: DIMEE and DIMEE+ already fitted at ``config`` (DIMEE+ is re-solved, or
    refitted when ``plus_config`` clusters differently; the pair is not modified).
    ``target_pp``: the cache's stored target unless given."""
    stored = config is None
    s_target, delta, certified, joint = stored_target(cache)
    target_pp = s_target if target_pp is None else target_pp
    config = config or DIMEEConfig.for_cache(cache)
    if plus_config is None:
        plus_config = (DIMEEConfig.for_cache(cache, "dimee_plus", costs=config.costs)
                       if stored else config)
    cal, test = cache.calibration, cache.test
    dimee, plus = routers if routers is not None else fit_routers(cache, config)
    if plus_config != config and not plus_config.as_cascade:
        plus = plus_router(cache, config, plus_config, plus)
    alpha = cascade_alpha(cal, config, target_pp, delta)  # certified; NEVER if none
    calibration, routings = {}, {}
    for name, route in (("dimee", dimee.route),
                        ("dimee_plus", lambda s: plus_routing(s, plus_config, plus)),
                        ("cascade", lambda s: cascade(s.probs, alpha, config.m, config.n,
                                                      config.costs))):
        r_cal = route(cal)
        calibration[name] = CalibrationPoint(100 * float(paired_loss(cal, r_cal.exit_layer).mean()),
                                             float(r_cal.cost.mean()))
        routings[name] = route(test)
    scored = {name: score_routing(cache, config, r, n_boot) for name, r in routings.items()}
    cloud = float((test.probs[:, -1].argmax(1) == test.labels).mean())
    return Recommendation(cache.name, str(cache.meta.get("title", cache.name)), config,
                          pick_method(calibration, target_pp, certified if stored else (),
                                      stored and joint), target_pp, alpha,
                          calibration, scored, test.n, cloud, routings, plus_config, delta,
                          certified if stored else (), stored and joint)


def _cell(r: MethodResult) -> str:
    if all_to_cloud(r):  # a 0 % is shown with its reason
        return "0.0 % · +0.00 pp (all to the cloud: nothing cheaper certified)"
    return f"{r.cost_reduction_pct:.1f} % · {r.accuracy_drop_pp:+.2f} pp"


def summary_table(recs: Sequence[Recommendation]) -> pd.DataFrame:
    """One row per data set: DIMEE, DIMEE+ and the cascade as 'saved % · drop pp' (compact
    enough for a phone), the pick, plus the raw numbers for sorting and export."""
    rows = []
    for rec in recs:
        row = {"dataset": rec.dataset, "recommended": METHOD_LABELS[rec.method],
               "n_test": rec.n_test, "cloud_accuracy": 100 * rec.cloud_accuracy,
               "cascade_alpha": rec.cascade_alpha}
        for m in COMPARED:
            row[m] = _cell(rec.test[m])
            row[f"{m}_reduction_pct"] = rec.test[m].cost_reduction_pct
            row[f"{m}_drop_pp"] = rec.test[m].accuracy_drop_pp
        rows.append(row)
    return pd.DataFrame(rows)


def risks(evaluation: Evaluation, target_pp: float = TARGET_PP, noun: str = "cost"
          ) -> list[str]:  # callers pass the cache's stored target (stored_target)
    """Plain warnings for a setting that is worse than all-in-cloud: DIMEE or DIMEE+
    costing more than it (``noun``: in which unit its methods were scored), or losing
    measurably more accuracy than allowed (the 95 % interval of the test drop lies wholly
    above the allowance: ε under the budget policy, else ``target_pp``)."""
    cfg = evaluation.config
    allowed, what = ((cfg.epsilon, "the ε you allowed") if cfg.policy == "budget"
                     else (target_pp, "the data set's target"))
    out = []
    for m in ("dimee", "dimee_plus"):
        r, name = evaluation.methods[m], METHOD_LABELS[m]
        if r.cost_reduction_pct < -1e-9:
            why = (" In recompute mode the remote tier repeats the phone's layers, so "
                   "sending a sample on costs more than sending it straight to the cloud."
                   if cfg.costs.mode == "recompute" else "")
            more = (f"costs {-r.cost_reduction_pct:.1f} % more" if noun == "cost" else
                    f"has {-r.cost_reduction_pct:.1f} % more {noun}")
            out.append(f"{name} {more} than sending everything to the cloud at this "
                       f"setting.{why}")
        low = r.drop_ci95[0] if r.drop_ci95 else r.accuracy_drop_pp
        if low > allowed + 1e-9:
            out.append(f"{name} loses {r.accuracy_drop_pp:.2f} pp of accuracy against "
                       f"all-in-cloud on the test split (95 % interval from {low:+.2f} pp), "
                       f"more than {what} ({allowed:g} pp).")
    return out
