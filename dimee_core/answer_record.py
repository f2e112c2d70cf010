"""The record of the Overview's answer stored beside the settings it scores
(``routing.json``, key ``answer``; :mod:`dimee_core.answer` writes and reads it), so
that a dashboard's first screen needs no k-means fit, certification or bootstrap: what
:func:`dimee_core.summary.recommend` computes from the stored settings that is not cheap
to recompute (the cascade's certified α, each method's calibration point and its test
scores with 95 % intervals).

``tune`` and ``migrate`` write it; the record names the build and a digest of the
settings it was computed from (:func:`fingerprint`), so a re-tuned, edited or rebuilt
cache never shows a stale answer: it is recomputed instead. Every field is type- and
range-checked on load like the settings themselves.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .config import Param
from .costs import TIERS
from .metrics import MethodResult

ANSWER_KEY = "answer"
METHODS = ("dimee", "dimee_plus", "cascade")
_FRACTION = Param("fraction", float, None, 0.0, 1.0)
_PP = Param("pp", float, None, -100.0, 100.0)
_PCT = Param("percent", float, None, -1e9, 100.0)
_COST = Param("cost", float, None, 0.0, 1e9)
_ALPHA = Param("cascade_alpha", float, None, 0.0, 2.0)
_BOOT = Param("n_boot", int, None, 0, 10**6)
_OF = Param("of", str, None, hi=64)
_INTERVALS = {"drop_ci95": _PP, "reduction_ci95": _PCT}


def fingerprint(settings: dict[str, Any], build_id: str) -> str:
    """Digest of a build and the settings an answer was computed at (the answer itself
    left out)."""
    body = {k: v for k, v in settings.items() if k != ANSWER_KEY}
    text = json.dumps([build_id, body], sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def record(of: str, n_boot: int, cascade_alpha: float,
           calibration: dict[str, tuple[float, float]],
           test: dict[str, MethodResult]) -> dict[str, Any]:
    """The JSON record; ``calibration``: method -> (drop pp, mean cost)."""
    return {"of": of, "n_boot": n_boot, "cascade_alpha": float(cascade_alpha),
            "calibration": {m: {"drop_pp": float(d), "mean_cost": float(c)}
                            for m, (d, c) in calibration.items()},
            "test": {m: test[m].to_dict() for m in METHODS}}


def _object(value: Any, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != set(keys):
        raise ValueError(f"{where} must be an object with exactly the keys {list(keys)}")
    return value


def _result(d: Any, where: str) -> MethodResult:
    d = _object(d, where, tuple(MethodResult.__dataclass_fields__))
    shares = _object(d["tier_shares"], f"{where}.tier_shares", TIERS)
    intervals = {}
    for key, p in _INTERVALS.items():
        ci = d[key]
        if ci is not None and not (isinstance(ci, list) and len(ci) == 2):
            raise ValueError(f"{where}.{key} must be null or two numbers")
        intervals[key] = None if ci is None else tuple(
            float(p.check(v, name=f"{where}.{key}")) for v in ci)
    return MethodResult(
        accuracy=float(_FRACTION.check(d["accuracy"], name=f"{where}.accuracy")),
        macro_f1=float(_FRACTION.check(d["macro_f1"], name=f"{where}.macro_f1")),
        mean_cost=float(_COST.check(d["mean_cost"], name=f"{where}.mean_cost")),
        cost_reduction_pct=float(_PCT.check(d["cost_reduction_pct"],
                                            name=f"{where}.cost_reduction_pct")),
        accuracy_drop_pp=float(_PP.check(d["accuracy_drop_pp"],
                                         name=f"{where}.accuracy_drop_pp")),
        tier_shares={t: float(_FRACTION.check(shares[t], name=f"{where}.tier_shares.{t}"))
                     for t in TIERS},
        **intervals)


def parse(d: Any) -> tuple[str, int, float, dict[str, tuple[float, float]],
                           dict[str, MethodResult]]:
    """(of, n_boot, cascade α, calibration points, test results) of a stored record;
    ValueError naming the field."""
    d = _object(d, ANSWER_KEY, ("of", "n_boot", "cascade_alpha", "calibration", "test"))
    cal = _object(d["calibration"], f"{ANSWER_KEY}.calibration", METHODS)
    points = {}
    for m in METHODS:
        where = f"{ANSWER_KEY}.calibration.{m}"
        p = _object(cal[m], where, ("drop_pp", "mean_cost"))
        points[m] = (float(_PP.check(p["drop_pp"], name=f"{where}.drop_pp")),
                     float(_COST.check(p["mean_cost"], name=f"{where}.mean_cost")))
    test = _object(d["test"], f"{ANSWER_KEY}.test", METHODS)
    return (_OF.check(d["of"], name=f"{ANSWER_KEY}.of"),
            int(_BOOT.check(d["n_boot"], name=f"{ANSWER_KEY}.n_boot")),
            float(_ALPHA.check(d["cascade_alpha"], name=f"{ANSWER_KEY}.cascade_alpha")),
            points, {m: _result(test[m], f"{ANSWER_KEY}.test.{m}") for m in METHODS})
