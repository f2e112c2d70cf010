"""What `tune` stores: DIMEE's and DIMEE+'s certified settings at a target (or at the
tightest target these data can certify: ``tightest``, which also tells a refused request
what it could have, and how many samples it needs), each with its guarantee.

Each holds at delta on its own (DIMEE+'s walk also serves the cascade). They hold
jointly only when one walk certified both (``Rule(paths="shared")``: stored as
``joint``); otherwise ``summary.pick_method`` picks by a rule fixed in advance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .cache import Cache
from .config import TUNED_PARAMS, DIMEEConfig
from .pvalues import samples_needed
from .selection import (DELTA, RULE, Candidates, Recommendation, Rule, SelectionError,
                        certify, check_request, evaluate_candidates, guarantee_words)

AUTO = "auto"
# targets `tune --target auto` may pick from; delta is split evenly between them, so the
# pick, made after seeing these data, keeps the guarantee (union bound)
AUTO_TARGETS = (0.2, 0.3, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class Tightest:
    """The answer to "what can these data certify?" (``target_pp`` None: nothing up to
    AUTO_TARGETS[-1] pp)."""

    requested_pp: float | None
    delta: float
    target_pp: float | None
    recommendations: dict[str, Recommendation]  # per family, at target_pp, delta / K
    samples_needed: int | None  # held-out samples the requested target needs at delta
    calibration_needed: int | None  # the same in calibration samples (fit part added)
    message: str

    @property
    def ok(self) -> bool:
        return self.target_pp is not None


def tightest(cands: Candidates, delta: float = DELTA, requested_pp: float | None = None,
             families=("dimee", "dimee_plus"), rule: Rule = RULE,
             ladder=AUTO_TARGETS) -> Tightest:
    """The smallest target of ``ladder`` at which the walk certifies a DIMEE+ setting,
    each target tested at delta / len(ladder): the target is chosen on the same data,
    and the union bound keeps the whole choice within delta."""
    check_request(requested_pp if requested_pp is not None else ladder[0], delta)
    share = delta / len(ladder)
    need = samples_needed(requested_pp, delta, rule.test) if requested_pp else None
    total = (math.ceil(need / (1 - cands.fit_fraction)) if need is not None else None)
    for t in ladder:
        recs = {f: certify(cands, t, share, f, rule=rule) for f in families}
        if recs[families[-1]].ok:
            r = recs[families[-1]]
            msg = (f"The smallest target these data can certify is {t:g} pp (δ = {delta:g} "
                   f"spread over the {len(ladder)} targets {', '.join(f'{x:g}' for x in ladder)}"
                   f" pp, since the target is chosen from the same data): it saves "
                   f"{r.reduction_pct:.1f} % on calibration.")
            if need is not None:
                msg += (f" A {requested_pp:g} pp target needs at least {need} held-out "
                        f"samples (about {total} calibration samples); this split holds out "
                        f"{cands.n_held_out}.")
            return Tightest(requested_pp, float(delta), t, recs, need, total, msg)
    return Tightest(requested_pp, float(delta), None, {}, need, total,
                    f"No target up to {ladder[-1]:g} pp can be certified from "
                    f"{cands.n_held_out} held-out samples at δ = {delta:g}; label more "
                    f"samples.")


@dataclass(frozen=True)
class Tuned:
    """The settings to store, with what they guarantee."""

    target_pp: float
    delta: float  # the risk of the whole claim (the auto target splits it: see certainty)
    dimee: Recommendation
    dimee_plus: Recommendation
    candidates: Candidates
    note: str  # how the target was chosen


def _entry(rec: Recommendation, target_pp: float, delta: float) -> dict:
    """A recommendation's guarantee, as stored beside its knobs."""
    if not rec.ok:
        return {"certified": False, "target_pp": target_pp, "delta": delta,
                "message": rec.message}
    return {"certified": True, "guarantee": guarantee_words(target_pp, delta),
            "target_pp": target_pp, "delta": delta, "bound_pp": rec.bound_pp,
            "p_value": rec.p_value, "calibration_reduction_pct": rec.reduction_pct,
            "n_fit": rec.n_fit, "n_held_out": rec.n_held_out,
            "joint": RULE.walk_of("dimee") == RULE.walk_of("dimee_plus")}


def tune(cache: Cache, target: float | str, delta: float = DELTA) -> Tuned:
    """Certify DIMEE and DIMEE+ at ``target`` pp (or ``"auto"``: the tightest target,
    see ``certainty.tightest``). Raises SelectionError, saying what could be certified
    instead, when DIMEE+ cannot be (DIMEE+ contains the cascade, so then nothing can)."""
    auto = target == AUTO
    check_request(0.3 if auto else target, delta)
    cands = evaluate_candidates(cache.calibration, DIMEEConfig.for_cache(cache))
    if auto:
        tight = tightest(cands, delta)
        if not tight.ok:
            raise SelectionError(f"nothing stored: {tight.message}")
        recs, target, note = tight.recommendations, tight.target_pp, tight.message
    else:
        recs = {m: certify(cands, target, delta, m) for m in ("dimee", "dimee_plus")}
        note = f"target {target:g} pp set by the user"
        if not recs["dimee_plus"].ok:
            tight = tightest(cands, delta, requested_pp=target)
            hint = (f" {tight.message} `tune --target auto` stores it." if tight.ok
                    else f" {tight.message}")
            raise SelectionError(f"nothing stored: {recs['dimee_plus'].message}{hint}")
    return Tuned(float(target), float(delta), recs["dimee"], recs["dimee_plus"], cands, note)


def stored_settings(tuned: Tuned, defaults: dict) -> dict:
    """``defaults`` (a cache's routing settings) updated with the tuned ones: DIMEE's
    knobs at the top (kept as they were when DIMEE has no certified setting: its entry
    says so), DIMEE+'s under ``dimee_plus`` (what ``tuned.save`` writes)."""
    t, d, p = tuned, tuned.dimee, tuned.dimee_plus
    out = dict(defaults)
    for k in ("guarantee", "bound_pp", "p_value", "calibration_reduction_pct", "message",
              "certified", "joint"):
        out.pop(k, None)
    if d.ok:
        out.update({p.name: getattr(d.config, p.name) for p in TUNED_PARAMS})
    out.update(_entry(d, t.target_pp, t.delta))
    out["chosen_by"] = (f"Learn then Test on the calibration split ({len(t.candidates.table)} "
                        f"candidates fitted on {p.n_fit} samples, certified on "
                        f"{p.n_held_out} along the DIMEE+ and cascade path; "
                        f"{t.note}): {p.message}")
    out["dimee_plus"] = {**p.setting(), "fit_fraction": p.config.fit_fraction,
                         "random_state": p.config.random_state,
                         **_entry(p, t.target_pp, t.delta)}
    return out
