"""The shared settings: their schema, defaults, bounds and URL parsing (no session state).

Every shared setting has one short name used both as its widget key and as its URL
query parameter, so a link reproduces the exact screen. Values from the URL (and from a
scenarios file) are parsed and bounds-checked here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from dimee_core.cache import Cache
from dimee_core.config import POLICIES
from dimee_core.costs import MODES, PRESETS, CostModel
from dimee_core.evaluate import DIMEEConfig
from dimee_core.features import FEATURE_SETS

MAX_K = 64
CUSTOM_PRESET = "Custom"


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
    Setting("eps", "Allowed accuracy drop ε, judged on calibration (pp)", "float", 0.0,
            20.0, 0.05,
            help="Budget policy: the calibration accuracy may fall at most this many "
                 "percentage points below all-in-cloud. The test split can land above it: "
                 "the pages warn when it measurably does."),
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
    """The cache's stored setting, as the sidebar shows it (abstract units)."""
    cfg = DIMEEConfig.for_cache(cache)
    d = dict(config_settings(cfg), k=min(cfg.k, cache.calibration.n), unit="abstract")
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
    """The DIMEEConfig of a mapping of settings (session state or ``defaults(cache)``;
    ValueError if the costs are invalid)."""
    s = settings
    costs = CostModel(mode=s["mode"], **{f: float(s[k]) for k, f in COSTS})
    return DIMEEConfig.for_cache(cache, m=int(s["m"]), n=int(s["n"]), k=int(s["k"]),
                                 features=s["feat"], alpha=float(s["alpha"]),
                                 policy=s["policy"], epsilon=float(s["eps"]),
                                 mu=float(s["mu"]), safety=float(s["safety"]),
                                 fit_fraction=float(s["fit"]), costs=costs)


def config_settings(cfg: DIMEEConfig) -> dict[str, Any]:
    """The settings of a whole config (the inverse of ``config_from``)."""
    d = {"m": cfg.m, "n": cfg.n, "k": cfg.k, "feat": cfg.features, "alpha": cfg.alpha,
         "policy": cfg.policy, "eps": cfg.epsilon, "mu": cfg.mu, "safety": cfg.safety,
         "fit": cfg.fit_fraction, "mode": cfg.costs.mode}
    d.update({key: float(getattr(cfg.costs, field)) for key, field in COSTS})
    return d


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
