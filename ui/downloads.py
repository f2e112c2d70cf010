"""The Overview / What-if downloads, with what produced their costs: the unit and, in a
real unit, the device-and-network profile (whole, and as the URL's ``pf`` code), so a
file read later says which phone, links and prices its figures assume."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from dimee_core import explore
from dimee_core.cache import Cache
from dimee_core.evaluate import DIMEEConfig
from dimee_core.profile_code import encode
from ui import memo, units
from ui.compute import Results


def provenance() -> dict[str, Any]:
    """The unit the figures are in and, in a real unit, the profile that made them."""
    u = units.unit()
    if u.key == "abstract":
        return {"unit": "abstract"}
    p = units.profile()
    return {"unit": u.key, "profile": p.to_dict(), "profile_code": encode(p)}


def stamp(df: pd.DataFrame) -> pd.DataFrame:
    """A per-request table with its unit, and in a real unit the profile's code, in every
    row (a CSV has no header block to hold them)."""
    u = units.unit()
    if u.key == "abstract":
        return df.assign(unit="abstract")
    return df.assign(unit=u.key, profile=encode(units.profile()))


def assignments(cache: Cache, cfg: DIMEEConfig, res: Results) -> pd.DataFrame:
    """Per test sample, DIMEE's and DIMEE+'s routes (explore.assignments_table); in a
    real unit each request's figure for both (``latency_ms``, ``latency_ms_plus``, ...)
    and the unit and profile in every row (``stamp``)."""
    ev = res.evaluation
    df = explore.assignments_table(cache, cfg, ev)
    u = units.unit()
    for method, suffix in (() if u.key == "abstract" else (("dimee", ""),
                                                            ("dimee_plus", "_plus"))):
        r = ev.routings[method]
        df[f"{u.column}{suffix}"] = units.per_request(
            ev.config_of(method), cache.num_layers, r.tier, r.escalated,
            memo.with_tokens(cache)[0].test.lengths)[0]
    return stamp(df)


def assignments_csv(cache: Cache, cfg: DIMEEConfig, res: Results) -> bytes:
    return assignments(cache, cfg, res).to_csv(index=False).encode("utf-8")


def results_json(cache: Cache, res: Results, real: dict | None) -> bytes:
    """Configuration, every method's results (with their real-unit figures when ``real``
    summaries are given), cluster decisions, the build, and the unit and profile."""
    doc = res.to_json(cache, real, units.profile() if real is not None else None)
    doc.update(provenance() if real is not None else {"unit": "abstract"})
    return json.dumps(doc, indent=2).encode("utf-8")
