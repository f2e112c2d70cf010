"""Units: the ONE place that turns a method's cost into the chosen unit and formats it.

Every KPI, chart axis and table that shows a cost asks this module: :func:`unit` for the
current choice, :func:`value` / :func:`fmt` / :func:`axis_title` for the number and its
words. The abstract layer-equivalents (the paper's model) stay the default; ms, mJ and $
come from a device-and-network profile (``dimee_core.profiles``), picked and edited in
the sidebar's "Real units" section.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import streamlit as st

from dimee_core import profiles, words
from dimee_core.config import METHOD_LABELS
from dimee_core.metrics import MethodResult
from dimee_core.profiles import (DEFAULT_PROFILE, FIELD_LABELS, PART_LABELS, PARTS, PRESETS,
                                 Profile, ProfileError, UnitSummary, check_profile,
                                 parse_profile, profile_json)
from dimee_core.payoff import payoff, tail_note
from dimee_core.profile_code import SLUGS, decode, encode
from ui import charts, memo, plot, undo, url
from ui.text import md


@dataclass(frozen=True)
class Unit:
    key: str
    kpi: str  # KPI label: "Mean latency"
    axis: str  # axis / column title
    fmt: str  # value format
    help: str
    noun: str  # what a saving saves, in sentences: "latency"
    one: str  # one request's figure, as a column or metric title
    column: str  # that figure's column in per-request tables and downloads
    printf: str  # its format in st.column_config


UNITS: dict[str, Unit] = {u.key: u for u in (
    Unit("abstract", "Mean cost", "mean cost per sample (layer-equivalents)", "{:.2f}",
         "Compute on each device plus network transfers, in layer-equivalents (one phone "
         "layer = 1 by default): the paper's abstract cost model.", "cost",
         "cost (layer-equivalents)", "cost", "%.2f"),
    Unit("ms", "Mean latency", "mean latency per request (ms)", "{:.1f} ms",
         "Phone compute + uplink transfers + remote compute per request, from the "
         "profile and each sample's token count.", "latency", "latency (ms)", "latency_ms",
         "%.1f"),
    Unit("mJ", "Phone energy", "phone energy per request (mJ)", "{:,.0f} mJ",
         "Energy the phone spends per request: its own layers plus the radio (including "
         "the high-power tail after each transfer).", "phone energy", "phone energy (mJ)",
         "phone_energy_mj", "%.0f"),
    Unit("$", "Money", "server cost per million requests ($)", "${:,.3f} per 1 M requests",
         "What the edge and cloud bill per million requests: busy compute time at the "
         "profile's hourly prices plus any per-request fee.", "money",
         "server cost ($ per million such requests)", "usd_per_million", "%.3f"),
)}
OBJECTIVE_OF = {"ms": "latency_ms", "mJ": "energy_mj", "$": "usd"}  # profiles.METRICS
UNIT_KEY = "unit"  # session key (and URL parameter) of the switch
PROFILE_KEY = "_profile"  # the profile in force (a validated Profile)


def unit() -> Unit:
    return UNITS.get(st.session_state.get(UNIT_KEY, "abstract"), UNITS["abstract"])


def in_units() -> bool:
    return unit().key != "abstract"


def value(u: Unit, summary: UnitSummary | None, result: MethodResult | None = None
          ) -> float:
    """A method's mean cost in ``u``: abstract from its ``result``, the others from its
    real-unit ``summary``."""
    if u.key == "abstract":
        return result.mean_cost
    if summary is None:
        raise ValueError(f"{u.kpi} needs a device-and-network profile")
    return summary.mean(OBJECTIVE_OF[u.key])


def fmt(u: Unit, v: float) -> str:
    return u.fmt.format(v)


def axis_title(u: Unit) -> str:
    return u.axis


def reduction_title(u: Unit) -> str:
    return f"{u.noun} reduction vs all-in-cloud (%)"


def reduction_pct(v: float, reference: float) -> float:
    """How much cheaper than all-in-cloud, in the same unit."""
    return 100 * (1 - v / reference) if reference > 0 else float("nan")


def shown(real) -> Unit:
    """The unit a figure is shown in: the chosen one when its real-unit summaries are
    there, else abstract (never a unit label on an abstract number)."""
    return unit() if real is not None else UNITS["abstract"]


def in_unit(r: MethodResult, real: tuple[UnitSummary, UnitSummary] | None) -> MethodResult:
    """``r`` with its mean cost and reduction in the chosen unit, from ``real`` = (own,
    all-in-cloud) summaries; unchanged in abstract mode or without them. The reduction's
    interval is dropped: its bootstrap resampled abstract costs."""
    u = shown(real)
    if u.key == "abstract":
        return r
    v = value(u, real[0])
    return replace(r, mean_cost=v, cost_reduction_pct=reduction_pct(v, value(u, real[1])),
                   reduction_ci95=None)


def real_pair(summaries: dict[str, UnitSummary] | None, method: str
              ) -> tuple[UnitSummary, UnitSummary] | None:
    """(method, all-in-cloud) from every method's summaries, the form KPIs take."""
    return None if summaries is None else (summaries[method], summaries["all_in_cloud"])


def cost_cells(r: MethodResult, real: tuple[UnitSummary, UnitSummary] | None = None,
               done: Unit | None = None) -> tuple[str, str, str, str, str]:
    """The cost KPIs in the chosen unit: (label, value, reduction label, reduction, help).
    Without real-unit summaries they stay abstract; ``done``: ``r`` is in that unit."""
    u, r = (done, r) if done is not None else (shown(real), in_unit(r, real))
    label = reduction_title(u).split(" vs ")[0].capitalize()
    return u.kpi, fmt(u, r.mean_cost), label, f"{r.cost_reduction_pct:.1f} %", u.help


def table_in_unit(table: pd.DataFrame, summaries: dict[str, UnitSummary] | None
                  ) -> pd.DataFrame:
    """The methods table with ``mean_cost`` and ``cost_reduction_pct`` in the chosen
    unit (plus p95 latency), so its table and scatter show the same unit."""
    u = unit()
    if u.key == "abstract" or summaries is None:
        return table
    t = table.copy()
    ref = value(u, summaries["all_in_cloud"])
    t["mean_cost"] = [value(u, summaries[k]) for k in t["key"]]
    t["cost_reduction_pct"] = [reduction_pct(v, ref) for v in t["mean_cost"]]
    t["p95_latency_ms"] = [summaries[k].latency_ms["p95"] for k in t["key"]]
    return t


def per_request(cfg, num_layers: int, tier, escalated, lengths
                ) -> tuple[np.ndarray, np.ndarray]:
    """Each request's figure in the chosen (real) unit, and all-in-cloud's for the same
    token counts: the Samples and Live pages' per-request costs."""
    return profiles.per_request(profile(), OBJECTIVE_OF[unit().key], tier, escalated,
                                lengths, cfg.m, cfg.n, num_layers, cfg.costs.mode,
                                cfg.hidden_size)


def per_test_request(cache, cfg, routing) -> tuple[np.ndarray, np.ndarray] | None:
    """Each test request of ``routing`` in the chosen unit, and all-in-cloud's; None in
    abstract mode (the routing's own ``cost`` is the abstract figure)."""
    if not in_units():
        return None
    lengths = memo.with_tokens(cache)[0].test.lengths
    return per_request(cfg, cache.num_layers, routing.tier, routing.escalated, lengths)


def energy_note(real: tuple[UnitSummary, UnitSummary] | None, p: Profile | None = None
                ) -> str | None:
    """In mJ, how much of a method's phone energy is the radio's promotion + tail (with
    its source), when that dominates; else None."""
    if real is None or unit().key != "mJ":
        return None
    return tail_note(p or profile(), real[0].phone_energy_mj)


def payoff_box(cache, cfg) -> None:
    """In a real unit: which tier can pay off against all-in-cloud under the profile at
    ``cfg``'s split points, and why the others cannot (exact means over the test
    split's token counts)."""
    if not in_units():
        return
    p, u = profile(), unit()
    lengths = memo.with_tokens(cache)[0].test.lengths
    verdict = payoff(p, OBJECTIVE_OF[u.key], cfg.m, cfg.n, cache.num_layers, lengths,
                     cfg.costs.mode, cfg.hidden_size)
    st.info(f"**Which tier pays off under {md(p.name)}** (m = {cfg.m}, n = {cfg.n}). "
            f"{verdict.sentence()}", icon=":material/lightbulb:")


ABSTRACT_NOTE = ("In the paper's abstract units (layer-equivalents), whatever the sidebar's "
                 "unit: {why}.")


def abstract_note(why: str) -> None:
    """Say so under a figure that stays abstract in units mode (never mix units
    silently); nothing in abstract mode."""
    if in_units():
        st.caption(ABSTRACT_NOTE.format(why=why))


# ---------------------------------------------------------------- the profile in force

def profile() -> Profile:
    """The profile in force: the last valid one the user picked, edited or loaded."""
    p = st.session_state.get(PROFILE_KEY)
    return p if isinstance(p, Profile) else PRESETS[DEFAULT_PROFILE]


def _editor_key(part: str, field: str) -> str:
    return f"pf.{part}.{field}"


def _set(p: Profile) -> None:
    """Put a valid profile in force and mirror it into the editor's number inputs."""
    ss = st.session_state
    ss[PROFILE_KEY] = p
    for part in PARTS:
        for field, v in getattr(p, part).__dict__.items():
            ss[_editor_key(part, field)] = float(v)
    ss.pop("_profile_error", None)


def _refuse(exc: ProfileError) -> None:
    """Keep the previous profile (and show it in the editor) and say what was wrong."""
    _set(profile())
    st.session_state["_profile_error"] = str(exc)


def try_profile(candidate: Profile) -> bool:
    """Validate and apply; on a bad value keep the previous profile. True if applied."""
    try:
        _set(check_profile(candidate))
        return True
    except ProfileError as exc:
        _refuse(exc)
        return False


def _pick_preset() -> None:
    name = st.session_state.get("pf_preset")
    if name in PRESETS:
        _set(PRESETS[name])
    st.session_state["pf_preset"] = None


def _edit(part: str, field: str) -> None:
    p = profile()
    v = st.session_state.get(_editor_key(part, field))
    sub = replace(getattr(p, part), **{field: v})
    try_profile(replace(p, name=_custom_name(p), **{part: sub}))


PROFILE_PARAM = "pf"  # URL: a preset's slug, or a slug plus edited fields (profile_code)


def adopt_url() -> list[str]:
    """Put the URL's profile in force on a run that adopts the URL (arrival,
    Back/Forward; no ``pf``: the default preset). A code that fails validation falls back
    to its preset (or the default one); returns that warning, escaped, if any."""
    ss = st.session_state
    if PROFILE_KEY not in ss:
        _set(PRESETS[DEFAULT_PROFILE])
    if not url.adopting():
        return []
    raw = url.query().get(PROFILE_PARAM)
    try:
        p = PRESETS[DEFAULT_PROFILE] if raw is None else decode(raw)
    except ProfileError as exc:
        slug = raw.split("~", 1)[0]
        p = next((PRESETS[n] for n, s in SLUGS.items() if s == slug), PRESETS[DEFAULT_PROFILE])
        _set(p)
        return [f"URL parameter {PROFILE_PARAM}={md(repr(raw[:80]))} is not a valid "
                f"profile: {md(exc)}. Using the preset {md(p.name)} instead."]
    if p != profile():
        _set(p)
    return []


def publish_url() -> None:
    """The profile in this run's URL whenever it matters: a real unit is shown or the
    profile is not the default preset (an abstract link stays short)."""
    p = profile()
    if in_units() or p != PRESETS[DEFAULT_PROFILE]:
        url.publish({PROFILE_PARAM: encode(p)})


def _custom_name(p: Profile) -> str:
    return p.name if p.name.endswith("(edited)") else f"{p.name[:70]} (edited)"


def _scale_links(field: str, factor: float) -> None:
    p = profile()
    try_profile(replace(p.with_links(field, factor), name=_custom_name(p)))


def _upload() -> None:
    up = st.session_state.get("pf_upload")
    if up is None:
        return
    try:
        _set(parse_profile(up.getvalue()))
    except ProfileError as exc:
        _refuse(exc)


ACTIONS = (("Uplink ×3", "uplink_mbps", 3.0), ("Uplink ÷3", "uplink_mbps", 1 / 3),
           ("RTT ×2", "rtt_ms", 2.0), ("RTT ÷2", "rtt_ms", 0.5))


def sidebar_section(cache) -> None:
    """The unit switch, the profile picker, its editor and save / load; in units mode,
    where ``cache``'s token counts came from when it did not store them."""
    ss = st.session_state
    if PROFILE_KEY not in ss:
        _set(PRESETS[DEFAULT_PROFILE])
    # open when the session arrived in a real unit; fixed afterwards: a changed
    # ``expanded`` remounts the section, which closed it under the pointer on a click
    # on "abstract" and lost a click arriving meanwhile
    with st.expander("Real units (ms, mJ, $)", expanded=ss.setdefault("_units_open",
                                                                      in_units())):
        st.radio("Show costs in", list(UNITS), key=UNIT_KEY, horizontal=True,
                 format_func=lambda k: "abstract" if k == "abstract" else k,
                 help="abstract: the paper's layer-equivalents. ms / mJ / $: latency, "
                      "phone energy or server money from the device-and-network profile "
                      "below, per request, from each sample's token count.")
        note = memo.with_tokens(cache)[1] if in_units() else None
        if note:  # an old cache: every real-unit figure rests on these counts
            st.caption(f"Token counts: {md(note)}.")
        p = profile()
        st.selectbox("Device-and-network profile", list(PRESETS), index=None,
                     key="pf_preset", on_change=_pick_preset,
                     placeholder=f"In force: {p.name}",
                     help="Presets with sourced numbers (README: 'Costs in real units'). "
                          "Picking one replaces every field below.")
        cols = st.columns(2)
        for i, (label, field, factor) in enumerate(ACTIONS):
            cols[i % 2].button(label, key=f"pf_act_{i}", on_click=_scale_links,
                               args=(field, factor), use_container_width=True,
                               help="Both phone links (to the edge and to the cloud).")
        if "_profile_error" in ss:
            st.error(f"That profile change was not applied: {md(ss['_profile_error'])}. "
                     f"The previous profile stays in force.")
        with st.popover("Edit every number", use_container_width=True):
            for part in PARTS:
                st.markdown(f"**{PART_LABELS[part]}**")
                for field in getattr(p, part).__dict__:
                    st.number_input(FIELD_LABELS[field], min_value=0.0, key=_editor_key(
                        part, field), on_change=_edit, args=(part, field), format="%g")
        st.download_button("Save profile (JSON)", profile_json(p).encode("utf-8"),
                           file_name="dimee_profile.json", mime="application/json",
                           key="pf_save", on_click="ignore")
        st.file_uploader("Load a profile (JSON)", type=["json"], key="pf_upload",
                         on_change=_upload)


# ---------------------------------------------------------------- What-if: your network

SWEEP_KS = (4, 8, 12)


def network_section(cache, cfg, latencies: dict | None) -> None:
    """Latency distributions with the SLA line, and every split and k for this network
    (What-if). Separate from the optimiser section, which recommends with a guarantee."""
    from ui import compute  # What-if only; this module is on the Overview's first screen

    st.subheader("Your network: latency, SLA and the best split")
    if not in_units():
        st.info("Pick ms, mJ or $ under **Real units** in the sidebar to see this "
                "section in a device-and-network profile's units.", icon=":material/speed:")
        return
    payoff_box(cache, cfg)
    u, p = unit(), profile()
    sla = st.number_input("Latency target: p95 at most (ms; 0 = none)", min_value=0.0,
                          max_value=1e6, value=0.0, step=10.0, key="sla_ms",
                          help="95 % of requests must be answered within this many "
                               "milliseconds. Checked on the calibration split; the test "
                               "split shows whether it held on unseen samples.")
    sla_ms = float(sla) or None
    if latencies is not None:
        keys = ("dimee", "dimee_plus", "cascade", "all_in_cloud", "edge_only")
        plot.chart(charts.latency_distribution({k: latencies[k] for k in keys},
                                               METHOD_LABELS, sla_ms),
                   key="wi_latency")
        st.caption(f"Profile **{md(p.name)}**: each curve is one method at your "
                   f"settings; read off how many requests finish within a time. The "
                   f"dashed line is your target.")
    objective = OBJECTIVE_OF[u.key]
    try:
        sweep_cfg = replace(cfg, objective=objective, profile=p, latency_sla_ms=sla_ms,
                            policy="budget")
    except ValueError as exc:
        st.error(f"The sweep cannot run: {md(exc)}")
        return
    ks = tuple(sorted({*SWEEP_KS, cfg.k}))
    if not st.toggle(f"Find the best split and k for this network (DIMEE minimising "
                     f"{u.kpi.lower()}, ε = {cfg.epsilon:g} pp"
                     + (f", p95 ≤ {sla_ms:g} ms" if sla_ms else "") + ")", key="net_go"):
        return
    try:
        grid, test = compute.network(cache, sweep_cfg, ks)
    except ValueError as exc:
        st.error(f"The sweep cannot run: {md(exc)}")
        return
    ok = grid[grid["feasible"]]
    if ok.empty:
        st.error(f"No split can meet the latency target: {md(grid['why'].iloc[0])}")
        return
    cells = (ok.sort_values("objective").groupby(["m", "n"], as_index=False).first()
             .rename(columns={"objective": "value"}))
    best = None if test is None else (test[0].m, test[0].n)
    plot.chart(charts.split_heatmap(cells, axis_title(u), [
        f"{fmt(u, v)}<br>k={k}" for v, k in zip(cells["value"], cells["k"])], best),
        key="wi_split_heatmap")
    st.caption(f"Each cell: DIMEE's {axis_title(u)} on the CALIBRATION split at that "
               f"split, with the best k of {', '.join(map(str, ks))}; the outlined cell is "
               f"the cheapest that kept ε" + (" and the p95 target" if sla_ms else "")
               + ". The test split below only reports it.")
    if test is None:
        st.warning("No split kept both the accuracy budget and the latency target on "
                   "calibration; raise ε or the target.")
        return
    picked, ev, summaries = test
    st.success(f"For **{md(p.name)}**: phone {words.span('layer', 1, picked.m)}, edge up to "
               f"{picked.n}, k = {picked.k}. On the test split:")
    r = ev.methods["dimee"]
    c = st.columns(4)
    c[0].metric("Accuracy drop vs cloud", f"{r.accuracy_drop_pp:+.2f} pp")
    c[1].metric(u.kpi, fmt(u, value(u, summaries["dimee"])), help=u.help)
    c[2].metric("p95 latency", f"{summaries['dimee'].latency_ms['p95']:.1f} ms",
                help="Measured on the test split; the target was enforced on calibration.")
    c[3].metric("Uplink per request", f"{summaries['dimee'].bytes_uplink['mean'] / 1e3:.1f} kB")
    split = {"m": picked.m, "n": picked.n, "k": picked.k, "policy": "budget"}
    st.button(f"Apply this split to the sidebar (m = {picked.m}, n = {picked.n}, "
              f"k = {picked.k}, budget policy)", key="net_apply", icon=":material/check:",
              on_click=undo.bulk, args=("the network sweep's split",
                                        lambda: st.session_state.update(split)),
              help="Sets the split points, k and the budget policy; ε and every cost stay. "
                   "The sidebar's DIMEE then picks each cluster's tier in the abstract cost "
                   "model, so its KPIs can differ from the ones above, which minimise "
                   f"{u.noun}.")

