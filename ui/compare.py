"""Compare page widgets: two scenarios' knobs in session state, file save/load."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dimee_core import explore
from dimee_core.cache import Cache
from dimee_core.costs import PRESETS
from dimee_core.profile_code import decode, encode
from dimee_core.profiles import PRESETS as PROFILES
from dimee_core.profiles import Profile
from ui import scenarios, settings, units, url
from ui.text import md

SIDES = ("a", "b")
START = {"a": ("5G", "5G: cheap uplink", "5G"),
         "b": ("Congested", "Congested uplink", "Congested uplink")}  # costs, profile
PERSIST = {"persist_state": "session"}  # keep the scenarios while other pages show
# how costs are shown, not how samples are routed: both scenarios use the sidebar's unit
DISPLAY_ONLY = ("unit",)


def _key(side: str, setting: str) -> str:
    return f"cmp_{side}_{setting}"


def _write(side: str, name: str, values: dict[str, Any]) -> None:
    ss = st.session_state
    ss[f"cmp_name_{side}"] = name
    for key in settings.SETTINGS:
        ss[_key(side, key)] = values[key]
    if values.get(scenarios.PROFILE):  # a file without one keeps the scenario's
        ss[_key(side, scenarios.PROFILE)] = values[scenarios.PROFILE]


def settings_of(side: str) -> dict[str, Any]:
    """One scenario's settings and profile code, as files and the URL hold them."""
    ss = st.session_state
    return {**{k: ss[_key(side, k)] for k in settings.SETTINGS},
            scenarios.PROFILE: ss[_key(side, scenarios.PROFILE)]}


def profile_of(values: dict[str, Any]) -> Profile:
    """A scenario's profile (its code was validated when it was set)."""
    return decode(values[scenarios.PROFILE])


URL_PARAM = "cmp"


def init(cache: Cache) -> None:
    """The URL's scenarios (``cmp``, validated like a loaded file) on a run that adopts
    the URL (arrival, Back/Forward); else what the session holds; else both = the
    sidebar's setting with a network preset each."""
    ss = st.session_state
    raw = url.query().get(URL_PARAM) if url.adopting() else None
    if raw is not None:
        try:
            for side, (name, values) in zip(SIDES, scenarios.from_json(
                    raw.encode("utf-8"), cache)):
                _write(side, name, values)
        except ValueError as exc:
            st.warning(f"URL parameter {URL_PARAM} ignored: {md(exc)}")
    for side in SIDES:
        if _key(side, "m") in ss:
            continue
        name, preset, profile = START[side]
        values = {key: ss[key] for key in settings.SETTINGS}
        values.update({k: float(getattr(PRESETS[preset], f)) for k, f in settings.COSTS},
                        mode=PRESETS[preset].mode)
        _write(side, name, {**values, scenarios.PROFILE: encode(PROFILES[profile])})
    for side in SIDES:  # a file or link without profiles: the sidebar's
        ss.setdefault(_key(side, scenarios.PROFILE), encode(units.profile()))
    for side in SIDES:  # a data set switch can leave split points or k out of range
        for key in ("m", "n", "k"):
            lo, hi = settings.bounds(cache, key, ss[_key(side, "m")] if key == "n" else None)
            ss[_key(side, key)] = int(min(max(ss[_key(side, key)], lo), hi))


def _copy_sidebar(side: str) -> None:
    ss = st.session_state
    _write(side, ss.get(f"cmp_name_{side}") or side.upper(),
           {**{k: ss[k] for k in settings.SETTINGS}, scenarios.PROFILE: encode(units.profile())})


def _preset(side: str) -> None:
    name = st.session_state.get(f"cmp_preset_{side}")
    if name in PRESETS:
        c = PRESETS[name]
        for key, field in settings.COSTS:
            st.session_state[_key(side, key)] = float(getattr(c, field))
        st.session_state[_key(side, "mode")] = c.mode
    st.session_state[f"cmp_preset_{side}"] = None


def editor(cache: Cache, side: str) -> tuple[str, dict[str, Any]]:
    """One scenario's name and every knob; returns (name, settings)."""
    ss = st.session_state
    name = st.text_input("Scenario name", key=f"cmp_name_{side}", max_chars=scenarios.MAX_NAME,
                         **PERSIST)
    c1, c2 = st.columns(2)
    c1.button("Copy the sidebar", key=f"cmp_copy_{side}", on_click=_copy_sidebar,
              args=(side,), help="Every knob of this scenario := the sidebar's setting.")
    c2.selectbox("Network preset", list(PRESETS), index=None, key=f"cmp_preset_{side}",
                 on_change=_preset, args=(side,), placeholder="Set the costs from…")
    codes = list(dict.fromkeys([*(encode(p) for p in PROFILES.values()),
                                ss[_key(side, scenarios.PROFILE)], encode(units.profile())]))
    st.selectbox("Device-and-network profile (real units)", codes,
                 key=_key(side, scenarios.PROFILE), format_func=_profile_name,
                 help="Under ms, mJ or $ this scenario's routing is scored under this "
                      "profile; the sidebar's profile is offered too. Abstract costs "
                      "ignore it.", **PERSIST)
    with st.expander("Every knob of this scenario"):
        for key, s in settings.SETTINGS.items():
            if key in DISPLAY_ONLY:
                continue
            k = _key(side, key)
            if s.kind == "choice":
                st.selectbox(s.label, s.options, key=k, help=s.help or None, **PERSIST)
                continue
            lo, hi = settings.bounds(cache, key, ss.get(_key(side, "m")))
            if s.kind == "int":
                lo, hi = int(lo), int(hi)
                ss[k] = int(min(max(ss[k], lo), hi))  # n follows a new m
                st.number_input(s.label, lo, hi, step=1, key=k, help=s.help or None,
                                **PERSIST)
            else:
                st.number_input(s.label, float(lo), float(hi), step=float(s.step), key=k,
                                help=s.help or None, **PERSIST)
    return name or side.upper(), settings_of(side)


def _profile_name(code: str) -> str:
    p = decode(code)
    return p.name if p.name in PROFILES else f"{p.name}: {code}"


def _load(cache: Cache) -> None:
    up = st.session_state.get("cmp_upload")
    if up is None:
        return
    try:
        loaded = scenarios.from_json(up.getvalue(), cache)
    except ValueError as exc:
        st.session_state["_cmp_error"] = f"Could not load those scenarios: {md(exc)}"
        return
    st.session_state.pop("_cmp_error", None)
    for side, (name, values) in zip(SIDES, loaded):
        _write(side, name, values)


def file_controls(cache: Cache, dataset: str) -> None:
    """Save both scenarios as JSON, or load a saved pair (validated); the pair also goes
    into the URL, so a link reproduces this comparison."""
    ss = st.session_state
    current = [(ss.get(f"cmp_name_{s}") or s.upper(), settings_of(s)) for s in SIDES]
    url.publish({URL_PARAM: scenarios.to_json(dataset, current, compact=True)})
    c1, c2 = st.columns(2)
    c1.download_button("Save both scenarios (JSON)",
                       scenarios.to_json(dataset, current).encode("utf-8"),
                       file_name="dimee_scenarios.json", mime="application/json",
                       key="cmp_save", on_click="ignore")
    c2.file_uploader("Load saved scenarios", type=["json"], key="cmp_upload",
                     on_change=_load, args=(cache,))
    if "_cmp_error" in ss:
        st.error(ss["_cmp_error"])


def unique_names(names: list[str]) -> list[str]:
    return [f"{n} ({s.upper()})" for n, s in zip(names, SIDES)] if names[0] == names[1] \
        else names


def difference_table(results, names: list[str], reals: list | None = None) -> pd.DataFrame:
    """Both methods' KPIs in both scenarios and their difference (b − a); costs in the
    sidebar's unit when both scenarios' real-unit summaries (``reals``) are given."""
    reals = reals if reals and all(r is not None for r in reals) else [None, None]
    u = units.shown(reals[0])
    parts = []
    for key, label in (("dimee", "DIMEE"), ("dimee_plus", "DIMEE+")):
        a, b = (units.in_unit(r.evaluation.methods[key], units.real_pair(real, key))
                for r, real in zip(results, reals))
        d = explore.compare_results(a, b, units.axis_title(u).capitalize(),
                                    units.reduction_title(u).capitalize())
        parts.append(d.assign(method=label).rename(columns={"a": names[0], "b": names[1]}))
    return pd.concat(parts, ignore_index=True)[["method", "kpi", *names, "difference"]]


def cost_caption(reals: list, profiles: list[Profile]) -> str:
    """Which costs the table compares: in units mode each scenario is scored under its
    own profile (one profile: the same network, so only the settings differ)."""
    if all(r is not None for r in reals) and units.in_units():
        u = units.unit()
        if profiles[0] == profiles[1]:
            return (f"Both scenarios' routings are scored under one profile "
                    f"(**{md(profiles[0].name)}**, {u.noun}), so their figures are directly "
                    f"comparable: a scenario's own costs only decide where its samples go.")
        each = ", ".join(f"{s.upper()}: **{md(p.name)}**" for s, p in zip(SIDES, profiles))
        return (f"Each scenario is scored under its own profile ({each}, {u.noun}): "
            f"the difference is the network's as well as the settings'. Pick the same "
            f"profile in both to compare settings alone.")
    return ("Costs are in each scenario's own units, so compare cost *reduction* (%) "
            "across scenarios rather than raw mean cost. Pick ms, mJ or $ under **Real "
            "units** to score each scenario under its device-and-network profile.")
