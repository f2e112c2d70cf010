"""The sidebar: dataset picker, loading a user's cache, and every shared setting."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dimee_core import words
from dimee_core.cache import Cache, CacheError
from dimee_core.costs import PRESETS
from dimee_core.config import DIMEEConfig
from ui import datasets, memo, settings, state, undo, units, upload, url
from ui.text import md


@dataclass(frozen=True)
class Context:
    dataset: str
    cache: Cache
    cfg: DIMEEConfig


# ---------------------------------------------------------------- callbacks (run before the script)

def _use(name: str) -> None:
    st.session_state["ds"] = name
    st.session_state.pop("_load_error", None)


def _load_path() -> None:
    if not datasets.server_paths_allowed():  # the control is not drawn then; be safe anyway
        return
    path = (st.session_state.get("user_path") or "").strip()
    try:
        _use(datasets.register_user_cache(path))
    except CacheError as exc:
        st.session_state["_load_error"] = f"Could not load that folder: {md(exc, 400)}"


def _load_zip() -> None:
    up = st.session_state.get("user_zip")
    if up is None:
        return
    try:  # a new upload replaces this session's previous one
        folder = upload.receive(up, up.name, upload.session_folder())
        _use(datasets.register_user_cache(folder, f"{up.name} (uploaded)"))
    except CacheError as exc:
        st.session_state["_load_error"] = (f"Could not use the uploaded archive: "
                                           f"{md(exc, 400)}")


def _reset() -> None:
    ctx = st.session_state.get("_ctx")
    if ctx is not None:
        undo.bulk("reset to defaults", lambda: state.reset(ctx.cache))


def _apply_preset() -> None:
    name = st.session_state.get("preset")
    if name in PRESETS:
        undo.bulk(f"preset {name}", lambda: state.apply_costs(PRESETS[name]))
    st.session_state["preset"] = None  # back to "Current costs: …"


# ---------------------------------------------------------------- widgets

SECTIONS = {"split": "Where the model is split", "tier": "How clusters pick a tier",
            "costs": "Cost model"}  # settings.Setting.section -> expander title


def _widget(key: str, cache: Cache) -> None:
    """One setting's widget, as its declaration says: a choice of up to three as a row
    of radio buttons, more as a select box; a number as a slider on its range, greyed
    out under a tier policy that does not read it."""
    s = settings.SETTINGS[key]
    if s.kind == "choice":
        if len(s.options) <= 3:
            st.radio(s.label, s.options, key=key, horizontal=True, help=s.help)
        else:
            st.selectbox(s.label, s.options, key=key, help=s.help)
        return
    lo, hi = settings.bounds(cache, key, st.session_state.get("m"))
    if s.kind == "int":
        lo, hi = int(lo), int(hi)
        if lo == hi:  # a slider needs a range; show the forced value instead
            st.number_input(s.label, lo, hi, key=key, disabled=True, help=s.help)
            return
    decimals = max(2, len(f"{s.step:g}".partition(".")[2]))  # the step's, at least 2
    st.slider(s.label, lo, hi, step=s.step, key=key, help=s.help or None,
              disabled=s.policy not in (None, st.session_state.get("policy")),
              format=f"%.{decimals}f" if s.kind == "float" else None)


def _preset_picker() -> None:
    # An action, not a mirror of the costs: writing the matching preset into this widget
    # every run made a stale "Balanced" from a fast slider user look like a new choice,
    # and its callback reset every cost.
    st.selectbox("Preset", list(PRESETS), index=None, key="preset",
                 on_change=_apply_preset, placeholder="Pick a preset…",
                 help="Named network/hardware scenarios: picking one sets every cost "
                      "below; moving a cost slider afterwards gives custom costs.")
    # the name wraps here; in the box it was cut ("Current costs: Balanced (DI")
    st.caption(f"Current costs: {md(state.matching_preset())}")


DATASET_ALIASES = ("dataset", "data")  # what people type for ds=


def _choose_dataset() -> tuple[str | None, list[str]]:
    """Settle ``ds``: the URL's on a run that adopts it (first run, Back/Forward), else the
    current one, else the default."""
    names = list(datasets.datasets())
    warnings = []
    ss = st.session_state
    q = url.query() if url.adopting() else {}
    key = next((k for k in ("ds", *DATASET_ALIASES) if k in q), "ds")  # ?dataset= too
    wanted = q.get(key)
    if wanted is not None and (wanted != ss.get("ds") or key != "ds"):
        if wanted in names:
            ss["ds"] = wanted
        else:
            why = ("is a cache loaded in an earlier session: uploads and loaded folders "
                   "are private to the session that opened them and are deleted when it "
                   "ends, so load it again" if wanted.endswith(("(yours)", "(uploaded)"))
                   else "is not an available dataset")
            shown = ss.get("ds") if ss.get("ds") in names else datasets.default_dataset(names)
            warnings.append(f"URL parameter {key}={md(repr(wanted))} {why}; showing "
                            f"{md(repr(shown))} instead.")
    if ss.get("ds") not in names:
        ss["ds"] = datasets.default_dataset(names)
    return ss.get("ds"), warnings


@dataclass(frozen=True)
class Setup:
    """What prepare() settled: the context for pages, or the problem to show."""

    ctx: Context | None
    cache: Cache | None
    problem: str | None


def prepare() -> Setup:
    """Resolve dataset and settings from session state WITHOUT drawing any widget, so
    app.py can run the page first: its KPIs then reach the browser before the ~25
    sidebar widgets (which draw() renders afterwards from the same state)."""
    ss = st.session_state
    ss["_ctx"] = None
    url.start_run(first="_settings_ready" not in ss)
    ds, warnings = _choose_dataset()
    if ds is None:
        return Setup(None, None, "No dataset found under cache/. Load a cache folder or "
                                 "upload a .zip.")
    path = datasets.datasets()[ds]
    try:
        cache = memo.load(path)
    except CacheError as exc:
        return Setup(None, None, f"Dataset {md(repr(ds))} cannot be used: "
                                 f"{datasets.public_error(exc, path, ds)}")
    if ss.get("_settings_for") not in (None, ds):  # a switch: start from its defaults
        state.reset(cache)
    ss["_settings_for"] = ds
    state.init(cache)
    warnings += units.adopt_url()
    if warnings:
        ss["_url_warnings"] = warnings + state.url_warnings()
    try:
        cfg = state.config(cache)
    except ValueError as exc:
        return Setup(None, cache, f"These settings cannot be used: "
                                  f"{md(settings.in_labels(exc), 400)} (Cost model, in the "
                                  f"sidebar).")
    ss["_ctx"] = Context(ds, cache, cfg)
    return Setup(ss["_ctx"], cache, None)


def draw(setup: Setup, knobs_open: bool = True) -> None:
    """Render the sidebar widgets for the state prepare() settled; mirror it in the URL.
    ``knobs_open``: the setting sections start open (What-if); elsewhere they start
    closed, which keeps their ~40 widgets and help buttons out of the keyboard's way to
    the page (a closed expander's widgets take no tab stops)."""
    ss = st.session_state
    with st.sidebar:
        names = list(datasets.datasets())
        if names:
            st.selectbox("Dataset", names, key="ds", help="A cache of per-layer exit "
                         "outputs on a calibration and a test split.")
        with st.expander("Load your own cache"):
            if datasets.server_paths_allowed():
                st.text_input("Cache folder on this machine", key="user_path",
                              placeholder="/path/to/cache/my-dataset")
                st.button("Load folder", on_click=_load_path, key="user_path_go")
            st.file_uploader("Upload a .zip of a cache folder (private to this session, "
                             "deleted when it ends)", type=["zip"], key="user_zip",
                             on_change=_load_zip)
        if "_load_error" in ss:
            st.error(ss["_load_error"])
        cache = setup.cache
        if cache is None:
            return
        st.caption(f"{md(cache.meta.get('title', cache.name))} · "
                   f"{words.number(cache.calibration.n)} calibration / "
                   f"{words.count(cache.test.n, 'test sample')} · "
                   f"{words.count(cache.num_layers, 'layer')}")
        for warning in cache.warnings:
            st.warning(md(warning, 400))
        st.button("Reset to this data set's defaults", key="reset_defaults", on_click=_reset,
                  help="Split points, clusters, features, policy and costs as stored in "
                       "this cache (what the CLI and a fresh link use).")
        undo.button()
        for section, title in SECTIONS.items():  # every setting of config.PARAMS
            with st.expander(title, expanded=knobs_open):
                if section == "costs":
                    _preset_picker()
                for key, s in settings.SETTINGS.items():
                    if s.section == section:
                        _widget(key, cache)
        units.sidebar_section(cache)
    if setup.ctx is not None:
        units.publish_url()
        state.sync_url(setup.ctx.dataset)
