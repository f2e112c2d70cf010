"""Every routing setting, declared once, and :class:`DIMEEConfig`.

:data:`PARAMS` holds one :class:`Param` per knob (in the spirit of scikit-learn's
``_parameter_constraints``): its type, valid range or choices, default, CLI flag, URL key,
label and help. The CLI's flags, the router's validation, a cache's stored settings
(``routing.json``) and the dashboard's widgets and URL parsing are generated from it, so
adding a knob is one entry here plus the code that uses its value.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

import numpy as np

from .costs import MAX_COST, MODES, CostModel, check_split
from .features import FEATURE_SETS
from .io import short
from .profiles import HIDDEN_SIZE, LatencySLA, Profile, UnitCosts, profile_from_dict
from .splits import Split, fit_part

POLICIES = ("pools", "reward", "budget")
OBJECTIVES = ("abstract", "latency_ms", "energy_mj", "usd")  # what the router minimises
METHOD_LABELS = {"dimee": "DIMEE", "dimee_plus": "DIMEE+", "all_in_cloud": "All in cloud",
                 "mobile_only": "Mobile only", "edge_only": "Edge only",
                 "random": "Random (DIMEE shares)", "cascade": "Confidence cascade",
                 "oracle": "Oracle (bound)"}
SHORT_LABELS = {"dimee": "DIMEE", "dimee_plus": "DIMEE+", "cascade": "cascade"}
MAX_SEED = 2**32 - 1
DELTA = 0.1  # the guarantee's default risk: P(true drop > target) <= DELTA over calibration draws
_COSTS = CostModel()  # the cost settings' defaults live with the cost model


@dataclass(frozen=True)
class Param:
    """One setting. ``group``: ``router`` (a DIMEERouter keyword, ``router_arg`` when
    its name differs), ``costs`` (a CostModel field) or ``config`` (DIMEEConfig only).
    ``lo``/``hi`` bound its value; m, n and k are bounded by the cache (:func:`bounds`).
    ``widget`` is a slider's (lo, hi, step) where it is narrower than the valid range."""

    name: str
    kind: type  # int, float, str (choices, or a text of at most hi characters) or bool
    default: Any
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    group: str = "router"
    router_arg: str | None = None
    refits: bool = False  # a change refits k-means; any other is a re-solve
    tuned: bool = True  # ``tune`` chooses it and stores it in routing.json
    cli: str | None = None
    url: str | None = None
    label: str = ""
    help: str = ""
    widget: tuple[float, float, float] | None = None
    lo_open: bool = False  # lo itself is not allowed
    optional: bool = False  # None is allowed (no such constraint)

    @property
    def arg(self) -> str:
        """The keyword the value is passed under (router or CostModel)."""
        return self.router_arg or self.name

    def check(self, value: Any, lo: float | None = None, hi: float | None = None,
              name: str | None = None) -> Any:
        """``value`` if it has this setting's type and lies in range (``lo``/``hi``
        override the static bounds); else ValueError naming the setting."""
        name = name or self.arg
        lo, hi = self.lo if lo is None else lo, self.hi if hi is None else hi
        if value is None and self.optional:
            return value
        if self.choices:
            if not isinstance(value, str) or value not in self.choices:
                raise ValueError(f"{name} must be one of {self.choices}, got {short(value)}")
            return value
        if self.kind is str:
            if not isinstance(value, str) or (hi is not None and len(value) > hi):
                raise ValueError(f"{name} must be a string of at most {hi} characters, "
                                 f"got {short(value)}")
            return value
        if self.kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{name} must be true or false, got {short(value)}")
            return value
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (
                    lo is not None and value < lo) or (hi is not None and value > hi):
                rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
                raise ValueError(f"{name} must be an integer {rng}, got {short(value)}")
            return value
        ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.floating))
              and abs(value) < 1e300 and math.isfinite(float(value)))  # no huge ints
        if ok and lo is not None:
            ok = float(value) > lo if self.lo_open else float(value) >= lo
        if not ok or (hi is not None and float(value) > hi):
            rng = (f"in {'(' if self.lo_open else '['}{lo}, {hi}]" if hi is not None
                   else f"{'>' if self.lo_open else '>='} {lo}")
            raise ValueError(f"{name} must be a number {rng}, got {short(value)}")
        return value

    def parse(self, text: str) -> Any:
        """A value from a CLI or URL string: its type only (ranges: :meth:`check`)."""
        if self.choices:
            if text not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}")
            return text
        try:
            v = int(text) if self.kind is int else float(text)
        except ValueError:
            raise ValueError(f"is not a {'whole ' if self.kind is int else ''}number"
                             ) from None
        if not math.isfinite(v):
            raise ValueError("must be finite")
        return v


def _cost(name: str, url: str, label: str, slider_hi: float, help: str) -> Param:
    """A CostModel field: default from the cost model, slider steps of 0.05 or 0.25."""
    return Param(name, float, getattr(_COSTS, name), 0.0, MAX_COST, group="costs",
                 tuned=False, cli="--" + name.replace("_", "-"), url=url, label=label,
                 widget=(0.0, slider_hi, 0.05 if slider_hi <= 5 else 0.25), help=help)


PARAMS: tuple[Param, ...] = (
    Param("m", int, 2, 1, refits=True, cli="--m", url="m",
          label="Mobile split m (layers on the phone)",
          help="The phone runs layers 1..m and can answer with exit m."),
    Param("n", int, 4, 2, cli="--n", url="n", label="Edge split n (layers on the edge server)",
          help="The edge runs layers m+1..n and answers with exit n. Always above m."),
    Param("k", int, 6, 1, router_arg="n_clusters", refits=True, cli="--k", url="k",
          label="Clusters k",
          help="How many groups k-means forms from what the phone sees after layer m."),
    Param("features", str, "signals", choices=FEATURE_SETS, refits=True, cli="--features",
          url="feat", label="Routing features",
          help="What the phone clusters on: exit confidences ('conf'), confidence + margin"
               " + entropy + agreement ('signals'), the layer-m embedding ('embed')."),
    Param("alpha", float, 0.9, 0.0, 1.0, cli="--alpha", url="alpha",
          label="Confidence threshold α", widget=(0.5, 1.0, 0.005),
          tuned=False, help="An exit 'is sure' when its top probability reaches α. Defines "
                            "the easy / medium / hard pools and the cascade baseline."),
    Param("policy", str, "budget", choices=POLICIES, cli="--policy", url="policy",
          label="Tier policy",
          help="budget: cheapest tiers within an accuracy-drop budget ε; reward: trade "
               "accuracy against cost with weight μ; pools: majority pool decides."),
    Param("epsilon", float, 0.3, 0.0, 100.0, cli="--epsilon", url="eps",
          label="Allowed accuracy drop ε, judged on calibration (pp)",
          widget=(0.0, 20.0, 0.05),
          help="Budget policy: the calibration accuracy may fall at most this many "
               "percentage points below all-in-cloud. The test split can land above it: "
               "the pages warn when it measurably does."),
    Param("mu", float, 1.0, 0.0, 1e6, cli="--mu", url="mu", label="Cost weight μ",
          widget=(0.0, 10.0, 0.01),
          help="Reward policy: how much one all-in-cloud cost is worth in accuracy."),
    Param("safety", float, 1.0, 0.0, 10.0, cli="--safety", url="safety",
          label="Safety margin", widget=(0.0, 10.0, 0.25),
          help="Budget policy: each cluster's estimated loss is raised by this many "
               "standard errors, so clusters that merely look good by chance are not "
               "trusted."),
    Param("fit_fraction", float, 1.0, 0.0, 1.0, group="config", lo_open=True, url="fit",
          label="Share of calibration fitted on", widget=(0.1, 1.0, 0.05),
          help="k-means and the tier choice use this seeded share of the calibration "
               "split; a guaranteed recommendation was certified on the rest."),
    Param("random_state", int, 0, 0, MAX_SEED, refits=True, cli="--random-state",
          help="seed of k-means and of the fitted share of calibration"),
    Param("mode", str, _COSTS.mode, choices=MODES, group="costs", cli="--mode", url="mode",
          label="Offload mode",
          tuned=False, help="resume: ship the layer-m hidden state, remote continues; "
                            "recompute: ship the raw input, remote starts from layer 1."),
    _cost("lambda_mobile", "lm", "λ mobile (cost per layer on the phone)", 5.0,
          "Abstract cost of running one layer on the phone. 1 = the unit every other cost "
          "is measured in; raise it for a slow or battery-starved phone."),
    _cost("lambda_edge", "le", "λ edge (cost per layer on the edge)", 5.0,
          "Abstract cost of one layer on the edge server, relative to a phone layer."),
    _cost("lambda_cloud", "lc", "λ cloud (cost per layer in the cloud)", 5.0,
          "Abstract cost of one layer in the cloud, relative to a phone layer."),
    _cost("o_edge", "oe", "Offload phone → edge", 30.0,
          "Abstract cost of sending one request from the phone to the edge (network time "
          "and radio energy), in phone layers."),
    _cost("o_cloud", "oc", "Offload phone → cloud", 30.0,
          "Abstract cost of sending one request from the phone to the cloud, in phone "
          "layers. All-in-cloud pays this once per request."),
    _cost("o_edge_cloud", "oec", "Offload edge → cloud", 30.0,
          "Abstract cost of the edge handing a request on to the cloud (cascade, DIMEE+ "
          "escalation), in phone layers."),
    Param("objective", str, "abstract", choices=OBJECTIVES, group="config", tuned=False,
          cli="--objective", help="what DIMEE minimises (units need --profile; default "
                                  "abstract)"),
    Param("latency_sla_ms", float, None, 0.0, None, group="config", optional=True,
          lo_open=True, tuned=False, cli="--sla-p95-ms",
          help="budget policy: also keep calibration p95 latency within this (ms)"),
    Param("as_cascade", bool, False, group="config", tuned=False,
          help="DIMEE+ only: run as the confidence cascade it contains"),
)
BY_NAME = {p.name: p for p in PARAMS}
BY_URL = {p.url: p for p in PARAMS if p.url}
ROUTER_PARAMS = tuple(p for p in PARAMS if p.group == "router")
COST_PARAMS = tuple(p for p in PARAMS if p.group == "costs")
CLUSTER_PARAMS = tuple(p.name for p in PARAMS if p.refits)  # one k-means serves the rest
TUNED_PARAMS = tuple(p for p in PARAMS if p.tuned)


def bounds(name: str, num_layers: int, n_calibration: int, m: int | None = None
           ) -> tuple[float | None, float | None]:
    """The valid range of a setting on a cache: split points need 1 <= m < n < L, and
    k at most the calibration size; the rest have fixed ranges."""
    if name == "m":
        return 1, num_layers - 2
    if name == "n":
        return (m or 1) + 1, num_layers - 1
    if name == "k":
        return 1, n_calibration
    p = BY_NAME[name]
    return p.lo, p.hi


def check_solve_params(values: dict[str, Any], num_layers: int) -> None:
    """Raise ValueError unless the router settings ``values`` (keyed by the router's
    own names) that a re-solve uses suit a ``num_layers``-exit model."""
    check_split(values["m"], values["n"], num_layers)
    for p in ROUTER_PARAMS:
        if not p.refits and p.name != "n":
            p.check(values[p.arg])


def check_fit_params(values: dict[str, Any], num_layers: int, n_samples: int) -> None:
    """:func:`check_solve_params`, then the settings a fit on ``n_samples`` uses."""
    check_solve_params(values, num_layers)
    for p in ROUTER_PARAMS:
        if p.refits and p.name != "m":
            p.check(values[p.arg], *bounds(p.name, num_layers, n_samples))


@dataclass(frozen=True)
class DIMEEConfig:
    """Every knob of an evaluation. Defaults are :data:`PARAMS`' defaults."""

    m: int = BY_NAME["m"].default
    n: int = BY_NAME["n"].default
    k: int = BY_NAME["k"].default
    alpha: float = BY_NAME["alpha"].default
    features: str = BY_NAME["features"].default
    policy: str = BY_NAME["policy"].default
    mu: float = BY_NAME["mu"].default
    epsilon: float = BY_NAME["epsilon"].default
    safety: float = BY_NAME["safety"].default
    random_state: int = BY_NAME["random_state"].default
    costs: CostModel = field(default_factory=CostModel)
    # share of the calibration split the routers are fitted on (a seeded, stratified
    # part); the rest is what a guaranteed recommendation was certified on. 1: all of it
    fit_fraction: float = BY_NAME["fit_fraction"].default
    # Real units: minimise mean latency / phone energy / money under ``profile`` instead
    # of the abstract cost, optionally with "p95 latency <= latency_sla_ms".
    objective: str = BY_NAME["objective"].default
    profile: Profile | None = None
    latency_sla_ms: float | None = BY_NAME["latency_sla_ms"].default
    hidden_size: int = HIDDEN_SIZE  # width of the shipped hidden state (the cache's meta)
    # DIMEE+ only: run as the confidence cascade it contains (every cluster gated at
    # gamma = beta = alpha at m, n). ``tune`` stores this when the cheapest certified
    # DIMEE+ setting is a cascade; the DIMEE+ router would pick other gates.
    as_cascade: bool = BY_NAME["as_cascade"].default

    def __post_init__(self) -> None:
        if self.profile is not None and not isinstance(self.profile, Profile):
            raise ValueError("profile must be a profiles.Profile")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.profile is None and (self.objective != "abstract"
                                     or self.latency_sla_ms is not None):
            raise ValueError("minimising latency, energy or money, or a latency SLA, needs a "
                             "device-and-network profile")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["costs"] = self.costs.to_dict()
        d["profile"] = self.profile.to_dict() if self.profile is not None else None
        return d

    def cost_objective(self):
        """What the routers minimise: the abstract costs or a profile's unit."""
        if self.objective == "abstract":
            return self.costs
        return UnitCosts(self.profile, self.objective, self.costs.mode, self.hidden_size)

    def sla(self) -> LatencySLA | None:
        if self.latency_sla_ms is None:
            return None
        return LatencySLA(UnitCosts(self.profile, "latency_ms", self.costs.mode,
                                    self.hidden_size), self.latency_sla_ms)

    def router_kwargs(self) -> dict[str, Any]:
        """This configuration as DIMEERouter keywords (``router.from_config``)."""
        return {**{p.arg: getattr(self, p.name) for p in ROUTER_PARAMS},
                "cost_model": self.cost_objective(), "latency_sla": self.sla()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DIMEEConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown configuration keys: {sorted(unknown)}")
        d = dict(d)
        if isinstance(d.get("costs"), dict):
            d["costs"] = CostModel(**d["costs"])
        if isinstance(d.get("profile"), dict):
            d["profile"] = profile_from_dict(d["profile"])
        return cls(**d)

    @classmethod
    def for_cache(cls, cache, method: str = "dimee", **overrides: Any) -> "DIMEEConfig":
        """The cache's stored settings (``routing.json``), then ``overrides``.
        ``method="dimee_plus"``: DIMEE+'s own certified settings (``dimee_plus``, written
        by ``tune``) where the cache has them, else DIMEE's."""
        d = dict(cache.defaults)
        plus = d.get("dimee_plus")
        if method == "dimee_plus" and isinstance(plus, dict):
            if plus.get("method") == method:
                d.update(plus)
            elif plus.get("method") == "cascade":
                d.update(m=plus["m"], n=plus["n"], alpha=plus["alpha"], as_cascade=True)
        base = {k: v for k, v in d.items() if k in {f.name for f in fields(cls)}}
        base["hidden_size"] = int(cache.meta.get("hidden_size") or HIDDEN_SIZE)
        return cls.from_dict({**base, **overrides})

    def fit_split(self, calibration: Split) -> Split:
        """The part of ``calibration`` the routers are fitted on."""
        BY_NAME["fit_fraction"].check(self.fit_fraction)
        if self.fit_fraction == 1.0:
            return calibration
        return calibration.take(fit_part(calibration, self.fit_fraction, self.random_state)[0])

    def check(self, num_layers: int, n_calibration: int) -> None:
        """Raise ValueError unless this configuration can be fitted on a cache with
        ``num_layers`` exits and ``n_calibration`` calibration samples: every setting's
        type and range (:data:`PARAMS`), costs included."""
        check_fit_params({p.arg: getattr(self, p.name) for p in ROUTER_PARAMS},
                         num_layers, n_calibration)
        for p in PARAMS:
            if p.group == "config":
                p.check(getattr(self, p.name))


def to_settings(config: DIMEEConfig) -> dict[str, Any]:
    """``config``'s values keyed by URL key (what the dashboard's widgets hold)."""
    return {p.url: getattr(config.costs if p.group == "costs" else config, p.name)
            for p in PARAMS if p.url}


def from_settings(config: DIMEEConfig, settings: Mapping[str, Any]) -> DIMEEConfig:
    """``config`` with the URL-keyed ``settings`` it holds applied (costs included),
    each cast to its declared type. ValueError when the result is not a valid setting."""
    own, costs = {}, {}
    for key, value in settings.items():
        p = BY_URL.get(key)
        if p is None:
            continue
        value = value if p.choices or p.kind is bool else p.kind(value)
        (costs if p.group == "costs" else own)[p.name] = value
    return replace(config, **own, costs=replace(config.costs, **costs))
