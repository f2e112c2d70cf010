"""Settings in ``st.session_state``, mirrored in the URL, plus cached loading and fitting.

Every shared setting has one short name used both as its widget key and as its URL
query parameter, so a link reproduces the exact screen. Values from the URL are parsed
and bounds-checked here; anything malformed falls back to the default with a warning.
"""

from __future__ import annotations

import json
import math
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Mapping

import pandas as pd
import streamlit as st

from dimee_core import explore, report, selection, summary
from dimee_core.cache import Cache, CacheError, list_caches, load_cache
from dimee_core.costs import MODES, PRESETS, CostModel
from dimee_core.evaluate import (DIMEEConfig, Evaluation, evaluate, fit_routers, resolve,
                                  score_routing, unit_results)
from dimee_core.features import FEATURE_SETS
from dimee_core.metrics import MethodResult
from dimee_core.profiles import Profile, UnitSummary, route_polynomials, summarise
from dimee_core.router import DIMEERouter, POLICIES, Routing
from dimee_core.tokens import with_lengths
from ui import url
from ui.text import md

APP_DIR = Path(__file__).resolve().parent.parent
CACHE_ROOT = Path(os.environ.get("DIMEE_CACHE_ROOT", APP_DIR / "cache"))  # env: tests, demos
RESULTS_FILE = APP_DIR / "docs" / "results.json"  # python -m dimee_core report
DEFAULT_DATASET = "rt-snippets"
INTERACTIVE_BOOT = 200  # bootstrap resamples for live KPIs: ~ms, CIs still usable
SUMMARY_BOOT = 1000  # the Overview's fixed answer per data set: computed once, cached
MAX_K = 64
CUSTOM_PRESET = "Custom"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SERVER_PATHS_ENV = "DIMEE_SERVER_PATHS"  # "1": allow opening cache folders by path


# ---------------------------------------------------------------- settings schema

@dataclass(frozen=True)
class Setting:
    """One shared setting: widget key == URL parameter name."""

    key: str
    label: str
    kind: str  # "int", "float" or "choice"
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    options: tuple[str, ...] = ()
    help: str = ""


COSTS = (  # (setting key, CostModel field)
    ("lm", "lambda_mobile"), ("le", "lambda_edge"), ("lc", "lambda_cloud"),
    ("oe", "o_edge"), ("oc", "o_cloud"), ("oec", "o_edge_cloud"))

SETTINGS: dict[str, Setting] = {s.key: s for s in (
    Setting("m", "Mobile split m (layers on the phone)", "int", step=1,
            help="The phone runs layers 1..m and can answer with exit m."),
    Setting("n", "Edge split n (layers on the edge server)", "int", step=1,
            help="The edge runs layers m+1..n and answers with exit n. Always above m."),
    Setting("k", "Clusters k", "int", step=1,
            help="How many groups k-means forms from what the phone sees after layer m."),
    Setting("feat", "Routing features", "choice", options=FEATURE_SETS,
            help="What the phone clusters on: exit confidences ('conf'), confidence + margin"
                 " + entropy + agreement ('signals'), the layer-m embedding ('embed')."),
    Setting("alpha", "Confidence threshold α", "float", 0.5, 1.0, 0.005,
            help="An exit 'is sure' when its top probability reaches α. Defines the "
                 "easy / medium / hard pools and the cascade baseline."),
    Setting("policy", "Tier policy", "choice", options=POLICIES,
            help="budget: cheapest tiers within an accuracy-drop budget ε; reward: trade "
                 "accuracy against cost with weight μ; pools: majority pool decides."),
    Setting("eps", "Allowed accuracy drop ε (pp, calibration)", "float", 0.0, 20.0, 0.05,
            help="Budget policy: the calibration accuracy may fall at most this many "
                 "percentage points below all-in-cloud."),
    Setting("mu", "Cost weight μ", "float", 0.0, 10.0, 0.01,
            help="Reward policy: how much one all-in-cloud cost is worth in accuracy."),
    Setting("safety", "Safety margin", "float", 0.0, 10.0, 0.25,
            help="Budget policy: each cluster's estimated loss is raised by this many "
                 "standard errors, so clusters that merely look good by chance are not "
                 "trusted."),
    Setting("fit", "Share of calibration fitted on", "float", 0.1, 1.0, 0.05,
            help="k-means and the tier choice use this seeded share of the calibration "
                 "split; a guaranteed recommendation was certified on the rest."),
    Setting("mode", "Offload mode", "choice", options=MODES,
            help="resume: ship the layer-m hidden state, remote continues; recompute: "
                 "ship the raw input, remote starts from layer 1."),
    Setting("lm", "λ mobile (cost per layer on the phone)", "float", 0.0, 5.0, 0.05,
            help="Abstract cost of running one layer on the phone. 1 = the unit every "
                 "other cost is measured in; raise it for a slow or battery-starved phone."),
    Setting("le", "λ edge (cost per layer on the edge)", "float", 0.0, 5.0, 0.05,
            help="Abstract cost of one layer on the edge server, relative to a phone layer."),
    Setting("lc", "λ cloud (cost per layer in the cloud)", "float", 0.0, 5.0, 0.05,
            help="Abstract cost of one layer in the cloud, relative to a phone layer."),
    Setting("oe", "Offload phone → edge", "float", 0.0, 30.0, 0.25,
            help="Abstract cost of sending one request from the phone to the edge "
                 "(network time and radio energy), in phone layers."),
    Setting("oc", "Offload phone → cloud", "float", 0.0, 30.0, 0.25,
            help="Abstract cost of sending one request from the phone to the cloud, in "
                 "phone layers. All-in-cloud pays this once per request."),
    Setting("oec", "Offload edge → cloud", "float", 0.0, 30.0, 0.25,
            help="Abstract cost of the edge handing a request on to the cloud (cascade, "
                 "DIMEE+ escalation), in phone layers."),
    Setting("unit", "Show costs in", "choice", options=("abstract", "ms", "mJ", "$"),
            help="abstract: the paper's layer-equivalents; ms / mJ / $ from the "
                 "device-and-network profile."),
)}


def bounds(cache: Cache, key: str, m: int | None = None) -> tuple[float, float]:
    """Bounds that depend on the dataset (split points, k) or are fixed."""
    L, N = cache.num_layers, cache.calibration.n
    if key == "m":
        return 1, L - 2
    if key == "n":
        return (m or 1) + 1, L - 1
    if key == "k":
        return 1, min(MAX_K, N)
    s = SETTINGS[key]
    return s.lo, s.hi


def defaults(cache: Cache) -> dict[str, Any]:
    cfg = DIMEEConfig.for_cache(cache)
    d = {"m": cfg.m, "n": cfg.n, "k": min(cfg.k, cache.calibration.n), "feat": cfg.features,
         "alpha": cfg.alpha, "policy": cfg.policy, "eps": cfg.epsilon, "mu": cfg.mu,
         "safety": cfg.safety, "fit": cfg.fit_fraction, "mode": cfg.costs.mode, "unit": "abstract"}
    d.update({key: float(getattr(cfg.costs, field)) for key, field in COSTS})
    for key, s in SETTINGS.items():  # stored defaults may lie outside a slider's range
        if s.kind == "float":
            d[key] = float(min(max(d[key], s.lo), s.hi))
    return d


def reset(cache: Cache) -> None:
    """Every shared setting back to this data set's defaults."""
    st.session_state.update(defaults(cache))


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


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


# ---------------------------------------------------------------- datasets

def datasets() -> dict[str, str]:
    """Shipped caches under cache/ plus any the user loaded this session (name -> path)."""
    found = {p.name: str(p) for p in list_caches(CACHE_ROOT)}
    found.update({name: path for name, path in st.session_state.get("user_caches", {}).items()
                  if os.path.isdir(path)})  # a replaced upload is gone
    return found


def server_paths_allowed() -> bool:
    """Opening a server folder by path is opt-in (DIMEE_SERVER_PATHS=1) and only ever
    offered when the server listens on loopback, i.e. to someone on this machine."""
    address = st.get_option("server.address") or ""
    return os.environ.get(SERVER_PATHS_ENV) == "1" and address in LOOPBACK


def public_error(exc: Exception, path: str | Path, shown_as: str) -> str:
    """An error text with a server folder replaced by the name the user knows, escaped
    for Markdown (never echo server paths)."""
    return md(str(exc).replace(str(path), shown_as), limit=400)


def default_dataset(names: list[str]) -> str | None:
    return DEFAULT_DATASET if DEFAULT_DATASET in names else (names[0] if names else None)


def _mtime(file: Path) -> float:
    try:
        return os.stat(file).st_mtime
    except OSError:
        return 0.0


def _stamp(path: str) -> float:
    """Modification time of meta.json: a rebuilt cache invalidates the cached load."""
    return _mtime(Path(path) / "meta.json")


@st.cache_data(show_spinner=False, max_entries=8)  # app.py shows the progress
def _load(path: str, stamp: float) -> Cache:
    return load_cache(path)


def load(path: str) -> Cache:
    """Validated cache (CacheError on a bad one; errors are never cached)."""
    return _load(path, _stamp(path))


def register_user_cache(path: str | Path, label: str | None = None) -> str:
    """Validate a cache folder and add it to this session's dataset list."""
    cache = load(str(path))
    name = label or f"{cache.name} (yours)"
    st.session_state.setdefault("user_caches", {})[name] = str(path)
    return name


# ---------------------------------------------------------------- session state

def init(cache: Cache) -> None:
    """Fill missing settings with defaults; on a run that adopts the URL (a session's
    first run, a Back/Forward) take the URL's values, each validated: a bad one gets a
    warning and the default (first run) or the current value. Values that no longer fit
    this dataset (after a switch) are clamped."""
    ss, dflt, q = st.session_state, defaults(cache), url.query()
    adopt, warnings = url.adopting(), []
    for key in SETTINGS:  # dict order puts m before n, so n's bounds see the final m
        if adopt and key in q:
            try:
                value = parse(cache, key, q[key], ss.get("m"))
            except ValueError as exc:
                value = ss.get(key, dflt[key])
                what = "the current value" if key in ss else "the default"
                warnings.append(f"URL parameter {key}={md(repr(q[key]))} {md(exc)}; "
                                f"using {what} {md(_fmt(value))}.")
            if ss.get(key) != value:  # writing a widget's key forces it on the browser
                ss[key] = value
        elif key not in ss:
            ss[key] = dflt[key]
    clamp(cache)
    ss["_settings_ready"] = True
    if adopt:
        ss["_url_warnings"] = warnings


def clamp(cache: Cache) -> None:
    """Keep split points and k valid for the current dataset (n > m always)."""
    ss = st.session_state
    for key in ("m", "n", "k"):  # m first: n's bounds depend on it
        lo, hi = bounds(cache, key, ss["m"] if key == "n" else None)
        value = int(min(max(ss[key], lo), hi))
        if value != ss[key]:  # writing a widget's key forces its value on the browser:
            ss[key] = value   # only when it must change, or a newer drag gets undone


def url_warnings() -> list[str]:
    return st.session_state.get("_url_warnings", [])


URL_EXTRA = url.EXTRA  # {param: value} a page adds to the URL for its own state


def sync_url(dataset: str | None) -> None:
    """Mirror the current settings and the page's own parameters into the URL (once, at
    the end of the run; ui.url decides between a new history entry and none)."""
    want = {key: _fmt(st.session_state[key]) for key in SETTINGS if key in st.session_state}
    if dataset:
        want["ds"] = dataset
    want.update(st.session_state.pop(URL_EXTRA, {}))  # a page's own state, this run only
    url.write(want)


def config(cache: Cache) -> DIMEEConfig:
    """The DIMEEConfig of the current settings (ValueError if the costs are invalid)."""
    return config_from(cache, st.session_state)


def config_from(cache: Cache, settings: Mapping[str, Any]) -> DIMEEConfig:
    """The DIMEEConfig of a mapping of settings (session state or ``defaults(cache)``)."""
    s = settings
    costs = CostModel(mode=s["mode"], **{f: float(s[k]) for k, f in COSTS})
    return DIMEEConfig.for_cache(cache, m=int(s["m"]), n=int(s["n"]), k=int(s["k"]),
                                 features=s["feat"], alpha=float(s["alpha"]),
                                 policy=s["policy"], epsilon=float(s["eps"]),
                                 mu=float(s["mu"]), safety=float(s["safety"]),
                                 fit_fraction=float(s["fit"]), costs=costs)


def apply_costs(costs: CostModel) -> None:
    """Write a cost model into the widgets' state (used by presets and callbacks)."""
    for key, field in COSTS:
        st.session_state[key] = float(getattr(costs, field))
    st.session_state["mode"] = costs.mode


def apply_config(cfg: DIMEEConfig) -> None:
    """Write a whole config into the widgets' state (e.g. the optimiser's pick)."""
    ss = st.session_state
    ss.update(m=cfg.m, n=cfg.n, k=cfg.k, feat=cfg.features, alpha=cfg.alpha,
              policy=cfg.policy, eps=cfg.epsilon, mu=cfg.mu, safety=cfg.safety,
              fit=cfg.fit_fraction)
    apply_costs(cfg.costs)


def matching_preset() -> str:
    ss = st.session_state
    for name, c in PRESETS.items():
        if c.mode == ss["mode"] and all(
                abs(getattr(c, f) - ss[k]) < 1e-9 for k, f in COSTS):
            return name
    return CUSTOM_PRESET


# ---------------------------------------------------------------- fitting and results

@dataclass
class _RouterPair:
    lock: threading.Lock
    dimee: DIMEERouter
    plus: DIMEERouter
    test_clusters: Any  # [N] test-split clusters: fixed for a fit, whatever the costs


@st.cache_resource(show_spinner="Clustering the calibration split…", max_entries=16)
def _fitted(path: str, stamp: float, m: int, k: int, features: str,
            random_state: int, fit_fraction: float = 1.0) -> _RouterPair:
    cache = _load(path, stamp)
    cfg = DIMEEConfig.for_cache(cache, m=m, n=m + 1, k=k, features=features,
                                random_state=random_state, fit_fraction=fit_fraction)
    dimee, plus = fit_routers(cache, cfg)
    return _RouterPair(threading.Lock(), dimee, plus, dimee.predict_cluster(cache.test))


def _pair(cache: Cache, cfg: DIMEEConfig) -> _RouterPair:
    path = str(cache.path)
    return _fitted(path, _stamp(path), cfg.m, cfg.k, cfg.features, cfg.random_state,
                   cfg.fit_fraction)


@contextmanager
def routers(cache: Cache, cfg: DIMEEConfig) -> Iterator[tuple[DIMEERouter, DIMEERouter]]:
    """Fitted routers for cfg's clustering, re-solved for cfg, held under their lock."""
    pair = _pair(cache, cfg)
    with pair.lock:
        resolve(pair.dimee, cfg)
        resolve(pair.plus, cfg)
        yield pair.dimee, pair.plus


@st.cache_resource(show_spinner=False, max_entries=64)
def _kpis(path: str, stamp: float, cfg_key: str, n_boot: int, _cfg: DIMEEConfig,
          _cache: Cache) -> MethodResult:
    pair = _pair(_cache, _cfg)  # DIMEE only: DIMEE+'s re-solve is 7x dearer
    with pair.lock:
        routing = resolve(pair.dimee, _cfg).route(_cache.test, pair.test_clusters)
    return score_routing(_cache, _cfg, routing, n_boot)


def kpis(cache: Cache, cfg: DIMEEConfig, n_boot: int = INTERACTIVE_BOOT) -> MethodResult:
    """DIMEE's headline numbers only (identical to results().evaluation's): drawn
    before the full evaluation so the KPIs update first after a slider move."""
    path = str(cache.path)
    return _kpis(path, _stamp(path), repr(cfg), n_boot, cfg, cache)


@dataclass(frozen=True)
class Results:
    """Everything pages draw from one configuration (no live router references)."""

    evaluation: Evaluation
    clusters: pd.DataFrame  # DIMEE's per-cluster table
    clusters_plus: pd.DataFrame
    escalated: Any  # [N] bool, DIMEE+ samples the edge handed to the cloud
    beta_plus: float | None

    def to_json(self, cache: Cache | None = None, units: dict[str, UnitSummary] | None = None,
                profile: Profile | None = None) -> dict[str, Any]:
        """Configuration, every method's results, both routers' per-cluster decisions
        and (given the cache) which build of which cache produced them; with ``units``,
        every method's real-unit figures under ``profile`` too."""
        out = {**self.evaluation.to_json(units), "dimee_plus_beta": self.beta_plus,
               "clusters": {"dimee": _records(self.clusters),
                            "dimee_plus": _records(self.clusters_plus)}}
        if cache is not None:
            out["cache"] = {"name": cache.name, "build_id": cache.build_id,
                            "built_at": cache.meta.get("built_at"),
                            "model_id": cache.meta.get("model_id")}
        if units is not None and profile is not None:
            out["profile"] = profile.to_dict()
        return out


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows (NaN -> null: a DIMEE+ cluster the phone never answers)."""
    return json.loads(df.to_json(orient="records"))


@st.cache_resource(show_spinner=False, max_entries=64)
def _results(path: str, stamp: float, cfg_key: str, n_boot: int, _cfg: DIMEEConfig,
             _cache: Cache) -> Results:
    pair = _pair(_cache, _cfg)
    with routers(_cache, _cfg) as (dimee, plus):
        ev = evaluate(_cache, _cfg, routers=(dimee, plus), n_boot=n_boot,
                      test_clusters=pair.test_clusters)
        return Results(ev,
                       explore.cluster_table(dimee, ev.routings["dimee"].cluster),
                       explore.cluster_table(plus, ev.routings["dimee_plus"].cluster),
                       explore.via_edge(ev.routings["dimee_plus"]), plus.beta_)


def results(cache: Cache, cfg: DIMEEConfig, n_boot: int = INTERACTIVE_BOOT) -> Results:
    """Evaluation of every method at cfg (memoised per config; k-means cached apart)."""
    path = str(cache.path)
    return _results(path, _stamp(path), repr(cfg), n_boot, cfg, cache)


# ---------------------------------------------------------------- real units

@st.cache_resource(show_spinner="Counting tokens per sample…", max_entries=8)
def _tokens(path: str, stamp: float, _cache: Cache) -> tuple[Cache, str | None]:
    return with_lengths(_cache)


def with_tokens(cache: Cache) -> tuple[Cache, str | None]:
    """The cache with per-sample token counts (stored, or recomputed for old caches, with
    a note saying how)."""
    path = str(cache.path)
    return _tokens(path, _stamp(path), cache)


@st.cache_resource(show_spinner=False, max_entries=64)
def _unit_kpis(path: str, stamp: float, cfg_key: str, profile_key: str, _profile: Profile,
               _cfg: DIMEEConfig, _cache: Cache) -> tuple[UnitSummary, UnitSummary]:
    pair = _pair(_cache, _cfg)
    with pair.lock:
        routing = resolve(pair.dimee, _cfg).route(_cache.test, pair.test_clusters)
    return route_units(_cache, _cfg, routing, _profile)


def route_units(cache: Cache, cfg: DIMEEConfig, routing: Routing, profile: Profile
                ) -> tuple[UnitSummary, UnitSummary]:
    """One test-split routing made at ``cfg`` and all-in-cloud, in ``profile``'s units
    (a few passes over N: cheap enough to run uncached)."""
    lengths = with_tokens(cache)[0].test.lengths
    args = (cfg.m, cfg.n, cache.num_layers, cfg.costs.mode, cfg.hidden_size)
    return (summarise(profile, routing.tier, routing.escalated, lengths, *args),
            summarise(profile, routing.tier, None, lengths, *args, reference=True))


def unit_kpis(cache: Cache, cfg: DIMEEConfig, profile: Profile
              ) -> tuple[UnitSummary, UnitSummary]:
    """DIMEE's and all-in-cloud's figures in real units (the KPI fast path)."""
    path = str(cache.path)
    return _unit_kpis(path, _stamp(path), repr(cfg), repr(profile), profile, cfg, cache)


@st.cache_resource(show_spinner=False, max_entries=32)
def _unit_view(path: str, stamp: float, cfg_key: str, profile_key: str, _profile: Profile,
               _cfg: DIMEEConfig, _cache: Cache
               ) -> tuple[dict[str, UnitSummary], dict[str, Any]]:
    profile = _profile
    ev = results(_cache, _cfg).evaluation
    lengths = with_tokens(_cache)[0].test.lengths
    summaries = unit_results(ev, profile, lengths, _cfg.hidden_size)
    polys = route_polynomials(profile, "latency_ms", _cfg.m, _cfg.n, _cache.num_layers,
                              _cfg.costs.mode, _cfg.hidden_size)
    latencies = {name: (polys.reference_per_sample(lengths) if name == "all_in_cloud" else
                        polys.per_sample(r.tier, r.escalated, lengths))
                 for name, r in ev.routings.items()}
    return summaries, latencies


def unit_view(cache: Cache, cfg: DIMEEConfig, profile: Profile
              ) -> tuple[dict[str, UnitSummary], dict[str, Any]]:
    """Every method in real units, and its per-sample latencies (for distributions)."""
    path = str(cache.path)
    return _unit_view(path, _stamp(path), repr(cfg), repr(profile), profile, cfg, cache)


@st.cache_data(show_spinner=False, max_entries=16)
def _headline(path: str, stamp: float, results_stamp: float,
              _cache: Cache) -> pd.DataFrame | None:
    result = report.load_results(RESULTS_FILE)
    return None if result is None else report.headline_table(result, _cache)


def headline(cache: Cache) -> pd.DataFrame | None:
    """The report's calibration-tuned operating points for this cache (None for a cache
    the shipped report does not cover, or covers in another build)."""
    path = str(cache.path)
    return _headline(path, _stamp(path), _mtime(RESULTS_FILE), cache)


@st.cache_data(show_spinner="Sweeping the frontiers…", max_entries=32)
def _frontiers(path: str, stamp: float, cfg_key: str, _cfg: DIMEEConfig,
               _cache: Cache) -> pd.DataFrame:
    with routers(_cache, _cfg) as pair:
        return explore.frontiers(_cache, _cfg, pair)


def frontiers(cache: Cache, cfg: DIMEEConfig) -> pd.DataFrame:
    path = str(cache.path)
    return _frontiers(path, _stamp(path), repr(cfg), cfg, cache)


@st.cache_resource(show_spinner="Fitting and routing every candidate setting on the "
                                 "calibration split…", max_entries=8)
def _candidates(path: str, stamp: float, key: str, _base: DIMEEConfig,
                _cache: Cache) -> selection.Candidates:
    return selection.evaluate_candidates(_cache.calibration, _base)


def candidates(cache: Cache, cfg: DIMEEConfig) -> selection.Candidates:
    """Every candidate of the selection under cfg's costs (its m, n, k, ... are searched;
    only the costs, α of the pools policy and the seed are taken from cfg). Read-only
    for callers: ``routing`` copies the router it needs."""
    path = str(cache.path)
    base = DIMEEConfig(alpha=cfg.alpha, random_state=cfg.random_state, costs=cfg.costs)
    return _candidates(path, _stamp(path), repr(base), base, cache)


@st.cache_data(show_spinner=False, max_entries=16)
def _recommendation(path: str, stamp: float, _cache: Cache) -> summary.Recommendation:
    cfg = config_from(_cache, defaults(_cache))
    plus = DIMEEConfig.for_cache(_cache, "dimee_plus", costs=cfg.costs)  # its own setting
    with routers(_cache, cfg) as pair:  # the default view's k-means fit, shared
        return summary.recommend(_cache, cfg, routers=pair, n_boot=SUMMARY_BOOT,
                                 plus_config=plus)


def recommendation(cache: Cache) -> summary.Recommendation:
    """The cache's recommended method at its stored setting (independent of the sidebar)."""
    path = str(cache.path)
    return _recommendation(path, _stamp(path), cache)


@st.cache_data(show_spinner=False, max_entries=32)
def _recommendation_units(path: str, stamp: float, profile_key: str, _profile: Profile,
                          _cache: Cache) -> dict[str, tuple[UnitSummary, UnitSummary]]:
    rec = recommendation(_cache)
    return {m: route_units(_cache, rec.config_of(m), rec.routings[m], _profile)
            for m in rec.test}


def recommendation_units(cache: Cache, profile: Profile
                         ) -> dict[str, tuple[UnitSummary, UnitSummary]]:
    """Each method of the cache's recommendation as (own, all-in-cloud) in ``profile``'s
    units: its own test routings rescored (memoised: the Overview redraws it every run)."""
    path = str(cache.path)
    return _recommendation_units(path, _stamp(path), repr(profile), profile, cache)


def shipped_recommendations() -> list[tuple[Cache, summary.Recommendation]]:
    """Each shipped cache that loads with its recommendation (the all-data-sets summary;
    the cache is there to rescore the recommendation in real units)."""
    out = []
    for p in list_caches(CACHE_ROOT):
        try:
            cache = load(str(p))
            out.append((cache, recommendation(cache)))
        except ValueError:  # a broken shipped cache: the sidebar already says so
            continue
    return out


# ---------------------------------------------------------------- server-start warm-up

def warm_up() -> None:
    """Fill the caches the first visitor's default view (Overview) reads: load the
    default dataset, fit its k-means routers, compute DIMEE's KPIs and every method's
    results at its default settings. app.py runs this in a background thread when the
    server starts (st.App lifespan), so the first page view finds them cached. (Not the
    What-if frontier sweeps: ~0.5 s of CPU that would slow a first Overview run.)"""
    found = {p.name: str(p) for p in list_caches(CACHE_ROOT)}
    name = default_dataset(list(found))
    if name is None:
        return
    cache = load(found[name])
    cfg = config_from(cache, defaults(cache))
    recommendation(cache)  # in the Overview's order: its answer comes first
    kpis(cache, cfg)
    results(cache, cfg)
    shipped_recommendations()  # last: the summary table further down the Overview


@st.cache_data(show_spinner="Sweeping every split and k on the calibration split…",
               max_entries=16)
def _network(path: str, stamp: float, cfg_key: str, ks: tuple[int, ...], _cfg: DIMEEConfig,
             _cache: Cache) -> tuple[pd.DataFrame, Any]:
    from dimee_core.network import cheapest, split_grid

    cache = with_tokens(_cache)[0]
    grid = split_grid(cache, _cfg, ks)
    best = cheapest(grid)
    test = None
    if best is not None:
        picked = replace(_cfg, m=int(best["m"]), n=int(best["n"]), k=int(best["k"]))
        ev = evaluate(cache, picked, n_boot=INTERACTIVE_BOOT)
        test = (picked, ev, unit_results(ev, _cfg.profile, cache.test.lengths,
                                         _cfg.hidden_size))
    return grid, test


def network(cache: Cache, cfg: DIMEEConfig, ks: tuple[int, ...]):
    """Every (m, n, k) for cfg's profile and objective, compared on calibration; the
    calibration-cheapest cell's test evaluation (None when no cell qualifies)."""
    path = str(cache.path)
    return _network(path, _stamp(path), repr(cfg), ks, cfg, cache)
