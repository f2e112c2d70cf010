"""A cache's tuned routing settings: ``routing.json`` beside ``meta.json``.

``meta.json`` records the build and never changes after it; ``routing.json`` holds what
``tune`` (or the build) chose: DIMEE's settings and their guarantee at the top level,
DIMEE+'s under ``dimee_plus``. :func:`save` and :func:`load` work like peft's
``save_pretrained`` / ``from_pretrained``: every field is checked against
:data:`~dimee_core.config.PARAMS` (type and range) before the file is written, atomically,
and again when it is read. Older caches kept these settings in ``meta.json["defaults"]``;
:func:`legacy` reads them through the same validation, and ``python -m dimee_core
migrate DIR`` moves them into ``routing.json`` (see :func:`dimee_core.writer.migrate`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .answer_record import ANSWER_KEY, parse as parse_answer
from .config import BY_NAME, COST_PARAMS, DIMEEConfig, Param
from .io import atomic_write_text, fail, read_json
from .price_record import Price
from .unit_store import SECTION
from .unit_store import validate as validate_units

ROUTING_FILE = "routing.json"
MAX_ROUTING_BYTES = 1024 * 1024
MAX_NOTE = 4000  # characters of a stored text (guarantee, chosen_by)
PRICE_KEY = "price_of_certainty"  # tune's record of the price of certainty
LEGACY_KEY = "defaults"  # where meta.json kept the settings before routing.json

# What a certified setting stores beside its knobs: the guarantee and how it was chosen.
RECORD: dict[str, Param] = {p.name: p for p in (
    Param("method", str, None, choices=("dimee", "dimee_plus", "cascade")),
    Param("guarantee", str, None, hi=MAX_NOTE),
    Param("chosen_by", str, None, hi=MAX_NOTE),
    Param("target_pp", float, None, 0.0, 100.0),
    Param("delta", float, None, 0.0, 1.0, lo_open=True),
    Param("bound_pp", float, None, -100.0, 100.0),
    Param("p_value", float, None, 0.0, 1.0),
    Param("calibration_reduction_pct", float, None, -1e9, 100.0),
    Param("n_fit", int, None, 0),
    Param("n_held_out", int, None, 0),
    Param("certified", bool, None),  # False: no setting of this method was certified
    Param("joint", bool, None),  # True: both methods certified by one walk (selection)
    Param("message", str, None, hi=MAX_NOTE),  # why nothing was certified
)}
SETTINGS = {p.name: p for p in BY_NAME.values() if p.group != "costs"}


def _check_entry(entry: Any, where: str, top: bool) -> None:
    """Every key known, every value of its declared type and static range."""
    if not isinstance(entry, dict):
        raise ValueError(f"{where or 'the settings'} must be an object")
    prefix = f"{where}: " if where else ""
    for key, value in entry.items():
        if key in ("m", "n"):  # integers checked against the cache's layers below
            continue
        if key in SETTINGS:
            SETTINGS[key].check(value, name=prefix + SETTINGS[key].arg)
        elif key in RECORD and (key != "method" or not top):
            RECORD[key].check(value, name=prefix + key)
        elif key == "costs":
            if not isinstance(value, dict):
                raise ValueError(f"{prefix}costs must be an object")
            for name, v in value.items():
                p = next((c for c in COST_PARAMS if c.name == name), None)
                if p is None:
                    raise ValueError(f"{prefix}costs: unknown setting {str(name)[:40]!r}")
                p.check(v, name=f"cost {name}")
        elif top and key == PRICE_KEY:  # what certainty costs here (dimee_core.price)
            Price.from_dict(value)
        elif top and key == ANSWER_KEY:  # the Overview's answer (dimee_core.answer)
            parse_answer(value)
        elif not (top and key in ("dimee_plus", SECTION)):
            raise ValueError(f"{prefix}unknown setting {str(key)[:40]!r}")


def validate(settings: Any, num_layers: int, n_calibration: int) -> dict[str, Any]:
    """``settings`` if they make a valid configuration on a cache with ``num_layers``
    exits and ``n_calibration`` calibration samples (DIMEE's, and DIMEE+'s on top of
    them); else ValueError naming the field."""
    _check_entry(settings, "", top=True)
    if SECTION in settings:  # the answer per preset profile and objective (tune)
        validate_units(settings[SECTION], num_layers, n_calibration)
    plus = settings.get("dimee_plus")
    if plus is not None:
        _check_entry(plus, "dimee_plus", top=False)
    known = set(DIMEEConfig.__dataclass_fields__)
    for layer in ({}, plus or {}):
        d = {k: v for k, v in {**settings, **layer}.items() if k in known}
        DIMEEConfig.from_dict(d).check(num_layers, n_calibration)
    return settings


def path_of(folder: str | os.PathLike[str]) -> Path:
    return Path(folder) / ROUTING_FILE


def save(folder: str | os.PathLike[str], settings: dict[str, Any], num_layers: int,
         n_calibration: int) -> Path:
    """Validate ``settings`` and write them atomically to ``folder/routing.json``."""
    validate(settings, num_layers, n_calibration)
    path = path_of(folder)
    atomic_write_text(path, json.dumps(settings, indent=2, ensure_ascii=False) + "\n")
    return path


def load(folder: str | os.PathLike[str], meta: dict[str, Any], n_calibration: int
         ) -> dict[str, Any]:
    """A cache's validated settings: ``routing.json``, else an old cache's
    ``meta.json["defaults"]`` (:func:`legacy`), else none. Raises CacheError."""
    path = path_of(folder)
    if os.path.lexists(path):
        settings, source = read_json(path, MAX_ROUTING_BYTES), path
    else:
        settings, source = legacy(meta), Path(folder) / "meta.json"
    try:
        return validate(settings, meta["num_layers"], n_calibration)
    except (TypeError, ValueError) as exc:
        raise fail(source, f"the stored routing settings are not a valid configuration "
                           f"({str(exc)[:200]})") from None


def legacy(meta: dict[str, Any]) -> dict[str, Any]:
    """The settings an old cache kept inside meta.json (empty when none)."""
    d = meta.get(LEGACY_KEY)
    return {} if d is None else d


@dataclass(frozen=True)
class Guarantee:
    """What a stored setting was certified to: its drop target, risk and evidence."""

    method: str  # dimee, dimee_plus or cascade (the DIMEE+ setting that is a cascade)
    target_pp: float
    delta: float
    bound_pp: float | None
    text: str  # e.g. "accuracy drop vs all-in-cloud ≤ 1 pp with 90 % confidence"


def guarantee(settings: dict[str, Any], method: str = "dimee") -> Guarantee | None:
    """The guarantee stored with ``method``'s setting (DIMEE's at the top level, DIMEE+'s
    under ``dimee_plus``); None when that setting was not certified by ``tune``."""
    entry = settings.get("dimee_plus") if method == "dimee_plus" else settings
    if not isinstance(entry, dict) or "target_pp" not in entry or "delta" not in entry:
        return None
    return Guarantee(entry.get("method", method), float(entry["target_pp"]),
                     float(entry["delta"]), entry.get("bound_pp"), entry.get("guarantee", ""))
