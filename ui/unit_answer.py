"""The Overview's answer in a real unit, read from routing.json's ``units`` section (what
``tune`` chose and scored for each preset profile and objective): no computation on a
unit switch. An edited profile has no stored answer; the caller then rescores the
abstract answer and says so."""

from __future__ import annotations

import streamlit as st

from dimee_core.config import METHOD_LABELS, DIMEEConfig
from dimee_core.metrics import MethodResult
from dimee_core.objective import WORDS, Objective
from dimee_core.payoff import tail_note
from dimee_core.recommendation import accuracy_words
from dimee_core.unit_store import config_of, stored
from ui import units
from ui.text import md

OBJECTIVE_OF = {"ms": "latency_ms", "mJ": "energy_mj", "$": "usd"}  # the KPI's: a mean
SCALE = {"ms": 1.0, "mJ": 1.0, "$": 1e6}  # $: shown per million requests
LABELS = {**METHOD_LABELS, "all_in_cloud": "All in cloud"}


def objective() -> Objective | None:
    """The sidebar's unit and profile as an objective (None in abstract mode)."""
    u = units.unit()
    return Objective(OBJECTIVE_OF[u.key], units.profile()) if units.in_units() else None


def entry(cache) -> dict | None:
    """The stored answer for the sidebar's unit and profile, if ``tune`` stored one."""
    o = objective()
    return None if o is None else stored(cache.defaults, o)


def result(e: dict) -> MethodResult:
    """The stored test figures as a method result in the sidebar's unit."""
    t, scale = e["test"], SCALE[units.unit().key]
    ci = tuple(t["drop_ci95"]) if t["drop_ci95"] is not None else None
    return MethodResult(t["accuracy"], float("nan"), scale * t["value"], t["reduction_pct"],
                        t["accuracy_drop_pp"], t["shares"], ci, None)


def sentence(e: dict, r: MethodResult) -> str:
    """One plain sentence (Markdown; the profile's name escaped)."""
    u, p, n = units.unit(), units.profile(), e["test"]["n_test"]
    name = LABELS[e["method"]]
    if e["method"] == "all_in_cloud":
        return (f"Under **{md(p.name)}**, in {u.noun}, the answer is **{name}**: it saves "
                f"nothing and loses no accuracy, because {md(e['why'])}.")
    s = r.tier_shares
    verb = "raises" if r.cost_reduction_pct < 0 else "cuts"
    return (f"Under **{md(p.name)}**, **{name}** answers {100 * s['mobile']:.0f} % of "
            f"requests on the phone, {100 * s['edge']:.0f} % on the edge and "
            f"{100 * s['cloud']:.0f} % in the cloud: it **{verb} {u.noun} by "
            f"{abs(r.cost_reduction_pct):.1f} % against all-in-cloud**, with "
            f"**{accuracy_words(r)}** on the {n:,} held-out test samples.")


def draw(cache, kpi_row) -> bool:
    """The stored answer for this unit and profile: sentence, KPIs (``kpi_row``, the
    page's KPI drawer), what it was certified to and chosen by. False: none stored."""
    e = entry(cache)
    if e is None:
        return False
    r = result(e)
    st.markdown(sentence(e, r))
    kpi_row(r, prefix=f"{LABELS[e['method']]} ", unit=units.unit())
    tail_caption(e, f"{LABELS[e['method']]} ")
    o = objective()
    if e["method"] == "all_in_cloud":
        how = "No certified setting is cheaper than sending every request to the cloud"
    else:
        cfg = config_of(e, cache)
        how = (f"Certified on the calibration split ({md(e['guarantee'])}) and, of every "
               f"setting certified there, the one with the least {WORDS[o.name]} "
               f"(m = {cfg.m}, n = {cfg.n}; it saved {e['calibration_reduction_pct']:.1f} % "
               f"on calibration)")
    st.caption(f"{how}; stored for this profile and unit by python -m dimee_core tune. "
               f"The test split only scores it.")
    units.payoff_box(cache, config_of(e, cache) or DIMEEConfig.for_cache(cache))
    return True


def tail_caption(e: dict, prefix: str) -> None:
    """In mJ, the radio tail's share of the stored figure where it dominates. Stored
    answers exist for presets only, whose two phone links share one tail figure, so each
    request that left the phone paid it once."""
    p = units.profile()
    if units.unit().key != "mJ" or p.phone_edge.radio_tail_mj != p.phone_cloud.radio_tail_mj:
        return
    t = e["test"]
    left = t["shares"]["edge"] + t["shares"]["cloud"]
    note = tail_note(p, {"mean": t["value"], "radio_tail": left * p.phone_cloud.radio_tail_mj})
    if note:
        st.caption(f"{prefix}phone energy: {note}")
