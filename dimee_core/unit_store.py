"""routing.json's ``units`` section: the answer per preset profile and real objective
that ``tune`` stored (``unit_answers``), validated on load like the rest of the file, and
read by the dashboard instead of being computed. A bad entry is one ValueError naming it.
"""

from __future__ import annotations

import math
from typing import Any

from .config import BY_NAME, DIMEEConfig
from .objective import REAL, Objective
from .profile_code import SLUGS
from .profiles import PRESETS

SECTION = "units"
METHODS = ("dimee", "dimee_plus", "cascade", "all_in_cloud")
KNOBS = {p.name: p for p in BY_NAME.values() if p.group != "costs"}
MAX_WHY = 1000
TEST_FIELDS = ("accuracy", "accuracy_drop_pp", "drop_ci95", "value", "reference",
               "reduction_pct", "shares", "n_test")  # unit_answers.TestFigures


def _number(v: Any, where: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (
            math.isfinite(v) and lo <= v <= hi):
        raise ValueError(f"{where} must be a finite number in [{lo:g}, {hi:g}]")
    return float(v)


def _check_test(t: Any, where: str) -> None:
    if not isinstance(t, dict) or set(t) != set(TEST_FIELDS):
        raise ValueError(f"{where}.test must hold {', '.join(TEST_FIELDS)}")
    for key in ("accuracy",):
        _number(t[key], f"{where}.test.{key}", 0.0, 1.0)
    for key in ("accuracy_drop_pp", "reduction_pct"):
        _number(t[key], f"{where}.test.{key}", -1e9, 100.0)
    for key in ("value", "reference"):
        _number(t[key], f"{where}.test.{key}", 0.0, 1e12)
    _number(t["n_test"], f"{where}.test.n_test", 1, 1e9)
    ci = t["drop_ci95"]
    if ci is not None and not (isinstance(ci, list) and len(ci) == 2):
        raise ValueError(f"{where}.test.drop_ci95 must be two numbers or null")
    for v in ci or ():
        _number(v, f"{where}.test.drop_ci95", -100.0, 100.0)
    s = t["shares"]
    if not isinstance(s, dict) or set(s) != {"mobile", "edge", "cloud"}:
        raise ValueError(f"{where}.test.shares must hold mobile, edge and cloud")
    for v in s.values():
        _number(v, f"{where}.test.shares", 0.0, 1.0)


def _check_entry(e: Any, where: str, num_layers: int, n_calibration: int) -> None:
    if not isinstance(e, dict):
        raise ValueError(f"{where} must be an object")
    method = e.get("method")
    if method not in METHODS:
        raise ValueError(f"{where}.method must be one of {METHODS}")
    knobs = {k: v for k, v in e.items() if k in KNOBS}
    extra = set(e) - set(knobs) - {"method", "bound_pp", "guarantee",
                                   "calibration_reduction_pct", "why", "test"}
    if extra:
        raise ValueError(f"{where}: unknown field {sorted(map(str, extra))[0][:40]!r}")
    for k, v in knobs.items():
        KNOBS[k].check(v, name=f"{where}.{k}")
    if method != "all_in_cloud":
        DIMEEConfig.from_dict(knobs).check(num_layers, n_calibration)
    if e.get("bound_pp") is not None:
        _number(e["bound_pp"], f"{where}.bound_pp", -100.0, 100.0)
    _number(e.get("calibration_reduction_pct"), f"{where}.calibration_reduction_pct",
            -1e9, 100.0)
    for key in ("guarantee", "why"):
        if key in e and not (isinstance(e[key], str) and len(e[key]) <= MAX_WHY):
            raise ValueError(f"{where}.{key} must be a text of at most {MAX_WHY} characters")
    _check_test(e.get("test"), where)


def validate(units: Any, num_layers: int, n_calibration: int) -> dict[str, Any]:
    """``units`` if it is a valid section; else ValueError naming the bad field."""
    if not isinstance(units, dict):
        raise ValueError(f"{SECTION} must be an object")
    _number(units.get("target_pp"), f"{SECTION}.target_pp", 0.0, 100.0)
    _number(units.get("delta"), f"{SECTION}.delta", 1e-12, 1.0)
    for slug, by_objective in units.items():
        if slug in ("target_pp", "delta"):
            continue
        if slug not in SLUGS.values() or not isinstance(by_objective, dict):
            raise ValueError(f"{SECTION}: {str(slug)[:40]!r} is not a preset profile's slug")
        for name, e in by_objective.items():
            if name not in REAL:
                raise ValueError(f"{SECTION}.{slug}: unknown objective {str(name)[:40]!r}")
            _check_entry(e, f"{SECTION}.{slug}.{name}", num_layers, n_calibration)
    return units


def stored(settings: dict[str, Any], objective: Objective) -> dict[str, Any] | None:
    """The stored answer for ``objective`` (its profile must be an unedited preset)."""
    p = objective.profile
    if p is None or p.name not in SLUGS or PRESETS.get(p.name) != p:
        return None
    return settings.get(SECTION, {}).get(SLUGS[p.name], {}).get(objective.name)


def config_of(e: dict[str, Any], cache) -> DIMEEConfig | None:
    """The stored setting as a configuration (None: all-in-cloud)."""
    if e["method"] == "all_in_cloud":
        return None
    knobs = {k: v for k, v in e.items() if k in KNOBS}
    if e["method"] == "cascade":
        return DIMEEConfig.for_cache(cache, m=knobs["m"], n=knobs["n"], alpha=knobs["alpha"])
    return DIMEEConfig.for_cache(cache, **knobs)


def setting_words(e: dict[str, Any]) -> str:
    """A stored answer's setting in a few words (the README table's column)."""
    if e["method"] == "all_in_cloud":
        return "all in the cloud"
    if e["method"] == "cascade":
        return f"cascade m={e['m']} n={e['n']} α={e['alpha']:g}"
    return f"{e['method'].replace('_plus', '+').upper()} m={e['m']} n={e['n']} k={e['k']}"
