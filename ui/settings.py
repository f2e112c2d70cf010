"""The shared settings: their schema, defaults, bounds and URL parsing (no session state).

Generated from ``dimee_core.config.PARAMS``: every routing setting with a URL key is one
widget here, under that key, so a link reproduces the exact screen; the only setting
declared here is the display unit. Values from the URL and from a scenarios file are
parsed and bounds-checked by :func:`parse`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from dimee_core import config
from dimee_core.cache import Cache
from dimee_core.config import DIMEEConfig, Param
from dimee_core.costs import PRESETS

MAX_K = 64  # the k slider's longest range
CUSTOM_PRESET = "Custom"
UNIT_OPTIONS = ("abstract", "ms", "mJ", "$")  # ui.units.UNITS' keys
# the tier policy that reads a setting (its widget is greyed out under the others)
USED_BY_POLICY = {"epsilon": "budget", "safety": "budget", "mu": "reward"}


@dataclass(frozen=True)
class Setting:
    """One shared setting: widget key == URL parameter name. ``lo``/``hi``/``step``: a
    slider's range (m, n and k: from the cache, :func:`bounds`); ``section``: the
    sidebar expander that draws it."""

    key: str
    label: str
    kind: str  # "int", "float" or "choice"
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    options: tuple[str, ...] = ()
    help: str = ""
    param: str | None = None  # its name in config.PARAMS (None: a display setting)
    section: str = "display"  # "split", "tier", "costs" or "display"
    policy: str | None = None  # the only tier policy that reads it


def _section(p: Param) -> str:
    """Costs; where the model is split and what the clustering fits on; the rest of the
    tier choice."""
    if p.group == "costs":
        return "costs"
    return "split" if p.name in ("m", "n") or p.refits or p.group == "config" else "tier"


def from_param(p: Param) -> Setting:
    lo, hi, step = p.widget or (p.lo, p.hi, 1 if p.kind is int else None)
    kind = "choice" if p.choices else "int" if p.kind is int else "float"
    return Setting(p.url, p.label, kind, lo, hi, None if p.choices else step, p.choices,
                   p.help, p.name, _section(p), USED_BY_POLICY.get(p.name))


def schema(params: tuple[Param, ...]) -> dict[str, Setting]:
    """One setting per parameter with a URL key, in the table's order, then the unit."""
    out = {p.url: from_param(p) for p in params if p.url}
    out["unit"] = Setting("unit", "Show costs in", "choice", options=UNIT_OPTIONS,
                          help="abstract: the paper's layer-equivalents; ms / mJ / $ from "
                               "the device-and-network profile.")
    return out


SETTINGS: dict[str, Setting] = schema(config.PARAMS)
COSTS = tuple((key, s.param) for key, s in SETTINGS.items()  # (setting key, CostModel field)
              if s.section == "costs" and s.kind == "float")


def bounds(cache: Cache, key: str, m: int | None = None) -> tuple[float, float]:
    """A setting's range on this cache: the split points' and k's from the cache
    (``config.bounds``; k at most MAX_K), the others' their slider's."""
    s = SETTINGS[key]
    if s.kind != "int" or s.param is None:
        return s.lo, s.hi
    lo, hi = config.bounds(s.param, cache.num_layers, cache.calibration.n, m)
    if s.lo is not None:
        lo = max(lo, s.lo)
    hi = min(x for x in (hi, s.hi, MAX_K if key == "k" else None) if x is not None)
    return lo, hi


def defaults(cache: Cache) -> dict[str, Any]:
    """The cache's stored setting, as the sidebar shows it (abstract units)."""
    cfg = DIMEEConfig.for_cache(cache)
    d = dict(config_settings(cfg), unit="abstract")
    d["k"] = min(d["k"], cache.calibration.n)
    for key, s in SETTINGS.items():  # stored defaults may lie outside a slider's range
        if s.kind == "float":
            d[key] = float(min(max(d[key], s.lo), s.hi))
    return d


def parse(cache: Cache, key: str, raw: str, m: int | None = None) -> Any:
    """Parse one URL value; raise ValueError with a plain reason when it is unusable."""
    s = SETTINGS[key]
    if s.kind == "choice":
        if raw not in s.options:
            raise ValueError(f"must be one of {', '.join(s.options)}")
        return raw
    try:
        v = int(raw) if s.kind == "int" else float(raw)
    except ValueError:
        raise ValueError(f"is not a {'whole ' if s.kind == 'int' else ''}number") from None
    lo, hi = bounds(cache, key, m)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"must lie in [{lo:g}, {hi:g}]")
    return v


def fmt(v: Any) -> str:
    """A setting's value as URL text."""
    return f"{v:g}" if isinstance(v, float) else str(v)


def config_from(cache: Cache, settings: Mapping[str, Any]) -> DIMEEConfig:
    """The DIMEEConfig of a mapping of settings (session state or ``defaults(cache)``):
    the cache's stored setting with every routing setting of ``settings`` applied
    (ValueError if the result is invalid)."""
    return config.from_settings(DIMEEConfig.for_cache(cache), {
        key: settings[key] for key, s in SETTINGS.items() if s.param is not None})


def config_settings(cfg: DIMEEConfig) -> dict[str, Any]:
    """The settings of a whole config (the inverse of ``config_from``)."""
    d = config.to_settings(cfg)
    return {key: float(v) if SETTINGS[key].kind == "float" else v for key, v in d.items()}


def matching_preset(settings: Mapping[str, Any]) -> str:
    """The cost preset these settings' costs equal, else ``CUSTOM_PRESET``."""
    for name, c in PRESETS.items():
        if c.mode == settings["mode"] and all(
                abs(getattr(c, f) - settings[k]) < 1e-9 for k, f in COSTS):
            return name
    return CUSTOM_PRESET


def in_labels(message: object) -> str:
    """A core error message with each cost field ("o_cloud") replaced by the sidebar
    label the user knows ("'Offload phone → cloud'")."""
    text = str(message)
    for key, field in COSTS:
        text = re.sub(rf"\b{field}\b", f"'{SETTINGS[key].label}'", text)
    return text
