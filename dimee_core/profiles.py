"""Costs in real units: a device-and-network profile turns each routed sample into
milliseconds, phone millijoules, dollars and uplink bytes.

The model (Neurosurgeon-style per-layer profiling, Kang et al. ASPLOS'17):
- a layer on a device takes ``ms_per_layer + ms_per_token * T + ms_per_token2 * T^2``
  milliseconds for a sample of T tokens (the matmuls grow with T, attention with T^2);
- the phone burns ``watts`` while it computes;
- a transfer over a link takes ``rtt_ms + bits / uplink``; the phone's radio spends
  ``radio_mj_per_mbit`` per Mbit sent plus ``radio_active_watts`` while sending plus
  ``radio_tail_mj`` per transfer (promotion + the high-power tail after it; Huang et al.
  MobiSys'12 power model);
- edge and cloud bill ``usd_per_hour`` of busy compute time plus a fee per request;
- payload: resume mode ships the hidden state (T x hidden size x ``hidden_value_bytes``),
  recompute mode and all-in-cloud ship the token ids (T x ``token_id_bytes``).

Every figure is then a polynomial in T (``costs.RoutePolynomials``), so per-cluster sums
of (1, T, T^2) stay sufficient statistics for the router. A profile file is JSON data,
validated field by field; anything else raises one :class:`ProfileError`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from .costs import MODES, RoutePolynomials, check_split, moments
from .route_parts import RouteParts, route_parts

METRICS = ("latency_ms", "energy_mj", "usd", "bytes_uplink")
MAX_VALUE = 1e9  # larger is a typo, not a scenario
MAX_FILE_BYTES = 64_000
FALLBACK_TOKENS = 32  # tokens per sample assumed when a cache holds no counts at all
HIDDEN_SIZE = 384  # MiniLM's hidden width: resume mode's payload per token


class ProfileError(ValueError):
    """A profile is malformed or holds an impossible value (one clear message)."""


@dataclass(frozen=True)
class Device:
    """Per-layer compute cost on one tier. ``watts`` counts on the phone only; the
    prices count on edge and cloud only (the phone is the user's)."""

    ms_per_layer: float = 0.0
    ms_per_token: float = 0.0
    ms_per_token2: float = 0.0
    watts: float = 0.0
    usd_per_hour: float = 0.0
    usd_per_million_requests: float = 0.0

    def layer_ms(self) -> np.ndarray:
        """Coefficients of (1, T, T^2) of one layer's milliseconds."""
        return np.array([self.ms_per_layer, self.ms_per_token, self.ms_per_token2])


@dataclass(frozen=True)
class Link:
    """One uplink. Radio energy is the phone's; it is ignored on the edge -> cloud link."""

    rtt_ms: float
    uplink_mbps: float
    radio_mj_per_mbit: float = 0.0
    radio_active_watts: float = 0.0
    radio_tail_mj: float = 0.0

    def transfer_ms(self, payload: np.ndarray) -> np.ndarray:
        """(1, T, T^2) coefficients of one request's time for ``payload`` bytes."""
        return np.array([self.rtt_ms, 0.0, 0.0]) + payload * 8 / (self.uplink_mbps * 1e3)

    def radio_mj(self, payload: np.ndarray) -> np.ndarray:
        send_ms = payload * 8 / (self.uplink_mbps * 1e3)
        return (np.array([self.radio_tail_mj, 0.0, 0.0]) + payload * 8e-6
                * self.radio_mj_per_mbit + send_ms * self.radio_active_watts)


@dataclass(frozen=True)
class Payload:
    hidden_value_bytes: float = 2.0  # fp16 hidden state
    token_id_bytes: float = 4.0  # int32 token ids


@dataclass(frozen=True)
class Profile:
    name: str
    phone: Device
    edge: Device
    cloud: Device
    phone_edge: Link
    phone_cloud: Link
    edge_cloud: Link
    payload: Payload = Payload()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def scaled(self, part: str, field: str, factor: float) -> "Profile":
        """A copy with one field multiplied (the dashboard's "uplink x3" actions)."""
        sub = getattr(self, part)
        return replace(self, **{part: replace(sub, **{field: getattr(sub, field) * factor})})

    def with_links(self, field: str, factor: float) -> "Profile":
        """Every phone link's ``field`` multiplied by ``factor``."""
        p = self
        for part in ("phone_edge", "phone_cloud"):
            p = p.scaled(part, field, factor)
        return p


# ----------------------------------------------------------------- route polynomials
def route_polynomials(profile: Profile, metric: str, m: int, n: int, num_layers: int,
                      mode: str = "resume", hidden_size: int = HIDDEN_SIZE) -> RoutePolynomials:
    """Per-sample ``metric`` of every route, as (1, T, T^2) coefficients."""
    return parts(profile, metric, m, n, num_layers, mode, hidden_size).polynomials()


def parts(profile: Profile, metric: str, m: int, n: int, num_layers: int,
          mode: str = "resume", hidden_size: int = HIDDEN_SIZE) -> RouteParts:
    """Every route's ``metric`` split into phone compute, transfer and remote compute
    (``route_parts``), after checking the split, the unit and the mode."""
    check_split(m, n, num_layers)
    if metric not in METRICS:
        raise ValueError(f"unknown unit {metric!r}; choose one of {METRICS}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return route_parts(profile, metric, m, n, num_layers, mode, hidden_size)


@dataclass(frozen=True)
class UnitCosts:
    """A cost model in one physical unit: what the router minimises when the user picks
    ms, mJ or $ instead of the abstract layer-equivalents. Anything with
    ``route_polynomials(m, n, L)`` can be passed where the router takes costs."""

    profile: Profile
    metric: str = "latency_ms"
    mode: str = "resume"
    hidden_size: int = HIDDEN_SIZE

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown unit {self.metric!r}; choose one of {METRICS}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")

    def route_polynomials(self, m: int, n: int, num_layers: int) -> RoutePolynomials:
        return route_polynomials(self.profile, self.metric, m, n, num_layers, self.mode,
                                 self.hidden_size)


@dataclass(frozen=True)
class LatencySLA:
    """The constraint "the q-quantile of latency <= max_ms" (q = 0.95: p95)."""

    latency: UnitCosts
    max_ms: float
    quantile: float = 0.95

    def __post_init__(self) -> None:
        if self.latency.metric != "latency_ms":
            raise ValueError("a latency SLA needs latency costs")
        if isinstance(self.max_ms, bool) or not isinstance(self.max_ms, (int, float)) or not (
                0 < self.max_ms <= MAX_VALUE):
            raise ValueError(f"the latency target must be a positive number of ms, "
                             f"got {self.max_ms!r}")
        if not 0.5 <= self.quantile < 1:
            raise ValueError(f"the SLA quantile must be in [0.5, 1), got {self.quantile!r}")


# ----------------------------------------------------------------- per-sample summaries
@dataclass(frozen=True)
class UnitSummary:
    """One method's figures in real units on a split."""

    latency_ms: dict[str, float]  # mean, p50, p95, p99
    phone_energy_mj: dict[str, float]  # mean; radio_tail: its radio promotion + tail part
    money_per_million: float  # dollars per million requests
    bytes_uplink: dict[str, float]  # mean

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def mean(self, metric: str) -> float:
        """The mean a KPI shows for ``metric`` (money: $ per million requests)."""
        return self.money_per_million if metric == "usd" else {
            "latency_ms": self.latency_ms, "energy_mj": self.phone_energy_mj,
            "bytes_uplink": self.bytes_uplink}[metric]["mean"]


def per_request(profile: Profile, metric: str, tier: np.ndarray, escalated: np.ndarray | None,
                lengths: np.ndarray, m: int, n: int, num_layers: int, mode: str = "resume",
                hidden_size: int = HIDDEN_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """[N] each request's ``metric`` and all-in-cloud's for the same token counts (money:
    $ per million such requests, as :class:`UnitSummary`)."""
    polys = route_polynomials(profile, metric, m, n, num_layers, mode, hidden_size)
    scale = 1e6 if metric == "usd" else 1.0
    return (scale * polys.per_sample(tier, escalated, lengths),
            scale * polys.reference_per_sample(lengths))


def per_sample(polys: RoutePolynomials, tier: np.ndarray, escalated: np.ndarray | None,
               phi: np.ndarray, reference: bool = False) -> np.ndarray:
    """[N] one metric of a routing from ``costs.moments(lengths)``; ``reference``: the
    all-in-cloud route."""
    return phi @ polys.reference if reference else polys.on_moments(tier, escalated, phi)


def summarise(profile: Profile, tier: np.ndarray, escalated: np.ndarray | None,
              lengths: np.ndarray, m: int, n: int, num_layers: int, mode: str = "resume",
              hidden_size: int = HIDDEN_SIZE, reference: bool = False) -> UnitSummary:
    """Latency percentiles, phone energy, money and uplink bytes of one routing."""
    phi = moments(lengths)
    v = {k: per_sample(route_polynomials(profile, k, m, n, num_layers, mode, hidden_size),
                       tier, escalated, phi, reference) for k in METRICS}
    lat, t = v["latency_ms"], np.asarray(tier)
    via_edge = (t == 1) | (np.zeros(t.shape, bool) if escalated is None else escalated)
    tail = (np.full(t.shape, profile.phone_cloud.radio_tail_mj) if reference else  # per
            np.where(via_edge, profile.phone_edge.radio_tail_mj,  # phone transfer
                     np.where(t == 2, profile.phone_cloud.radio_tail_mj, 0.0)))
    p50, p95, p99 = np.percentile(lat, [50, 95, 99]) if lat.size else (np.nan,) * 3
    mean = lambda a: float(a.mean()) if a.size else float("nan")
    return UnitSummary(
        latency_ms={"mean": mean(lat), "p50": float(p50), "p95": float(p95),
                    "p99": float(p99)},
        phone_energy_mj={"mean": mean(v["energy_mj"]), "radio_tail": mean(tail)},
        money_per_million=mean(v["usd"]) * 1e6,
        bytes_uplink={"mean": mean(v["bytes_uplink"])})


def sample_lengths(lengths: np.ndarray | None, n: int) -> np.ndarray:
    """Token counts, or the stated constant when none are known (callers warn)."""
    return np.full(n, FALLBACK_TOKENS, dtype=np.int32) if lengths is None else lengths


# ----------------------------------------------------------------- validation and JSON
PARTS = {"phone": Device, "edge": Device, "cloud": Device, "phone_edge": Link,
         "phone_cloud": Link, "edge_cloud": Link, "payload": Payload}
PART_LABELS = {"phone": "phone", "edge": "edge server", "cloud": "cloud",
               "phone_edge": "phone → edge link", "phone_cloud": "phone → cloud link",
               "edge_cloud": "edge → cloud link", "payload": "payload"}
FIELD_LABELS = {
    "ms_per_layer": "fixed time per layer (ms)",
    "ms_per_token": "time per layer per token (ms)",
    "ms_per_token2": "time per layer per token² (ms, attention)",
    "watts": "power while computing (W)",
    "usd_per_hour": "price per busy hour ($)",
    "usd_per_million_requests": "fee per million requests ($)",
    "rtt_ms": "round-trip time (ms)",
    "uplink_mbps": "uplink bandwidth (Mbit/s)",
    "radio_mj_per_mbit": "radio energy per Mbit sent (mJ)",
    "radio_active_watts": "radio power while sending (W)",
    "radio_tail_mj": "radio energy per transfer, promotion + tail (mJ)",
    "hidden_value_bytes": "bytes per hidden-state value",
    "token_id_bytes": "bytes per token id",
}
POSITIVE = {"uplink_mbps", "hidden_value_bytes", "token_id_bytes"}  # divisors / sizes


def label(part: str, field: str) -> str:
    """A field in the user's words: "phone → edge link: uplink bandwidth (Mbit/s)"."""
    return f"{PART_LABELS.get(part, part)}: {FIELD_LABELS.get(field, field)}"


def _number(part: str, name: str, v: Any) -> float:
    where = label(part, name)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ProfileError(f"{where} must be a number, got {type(v).__name__}")
    try:
        v = float(v)
    except OverflowError:  # an integer beyond any float
        raise ProfileError(f"{where} is implausibly large") from None
    if not math.isfinite(v):
        raise ProfileError(f"{where} must be finite, got {v}")
    if v < 0 or (name in POSITIVE and v == 0):
        raise ProfileError(f"{where} must be {'above' if name in POSITIVE else 'at least'} "
                           f"0, got {v:g}")
    if v > MAX_VALUE:
        raise ProfileError(f"{where} is implausibly large ({v:g} > {MAX_VALUE:g})")
    return v


def profile_from_dict(d: Any) -> Profile:
    """A validated :class:`Profile` from parsed JSON; :class:`ProfileError` otherwise."""
    if not isinstance(d, dict):
        raise ProfileError("a profile must be a JSON object")
    unknown = sorted(set(d) - {"name", *PARTS})
    if unknown:
        raise ProfileError(f"unknown profile sections: {', '.join(map(str, unknown))[:200]}")
    name = d.get("name", "my profile")
    if not isinstance(name, str) or not 0 < len(name) <= 80:
        raise ProfileError("the profile name must be text of 1 to 80 characters")
    parts = {}
    for part, cls in PARTS.items():
        raw = d.get(part)
        if raw is None:
            raise ProfileError(f"the profile has no {PART_LABELS[part]} section")
        if not isinstance(raw, dict):
            raise ProfileError(f"the {PART_LABELS[part]} section must be a JSON object")
        names = {f.name for f in fields(cls)}
        extra = sorted(set(raw) - names)
        if extra:
            raise ProfileError(f"the {PART_LABELS[part]} section has unknown fields: "
                               f"{', '.join(map(str, extra))[:200]}")
        missing = [f.name for f in fields(cls) if f.name not in raw]  # files state all
        if missing:
            raise ProfileError(f"{label(part, missing[0])} is missing")
        parts[part] = cls(**{k: _number(part, k, v) for k, v in raw.items()})
    return _check_not_free(Profile(name=name, **parts))


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _check_not_free(p: Profile) -> Profile:
    """All-in-cloud must cost something in every unit: a saving is measured against it
    (a free reference makes every saving undefined, and a router minimising that unit
    would find every tier free)."""
    c, radio = p.cloud, ("radio_mj_per_mbit", "radio_active_watts", "radio_tail_mj")
    free = {}
    if not any(getattr(p.phone_cloud, f) > 0 for f in radio):
        free["phone energy"] = [label("phone_cloud", f) for f in radio]
    if c.usd_per_million_requests == 0 and (c.usd_per_hour == 0 or not c.layer_ms().any()):
        free["money"] = [label("cloud", f) for f in (
            ("usd_per_hour",) if c.usd_per_hour == 0 else
            ("ms_per_layer", "ms_per_token", "ms_per_token2"))
            + ("usd_per_million_requests",)]
    if free:
        unit, names = next(iter(free.items()))
        verb = "is" if len(names) == 1 else "are both" if len(names) == 2 else "are all"
        raise ProfileError(f"under this profile sending a request to the cloud costs no "
                           f"{unit} ({_joined(names)} {verb} 0), so no saving can be "
                           f"measured against it; set {'it' if len(names) == 1 else 'one'}"
                           f" above 0")
    return p


def check_profile(profile: Profile) -> Profile:
    """Re-validate a profile built in code (e.g. from the dashboard's number inputs)."""
    return profile_from_dict(profile.to_dict())


def parse_profile(text: str | bytes) -> Profile:
    """A profile from JSON text: data only (no code is ever run), size- and depth-bounded."""
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            raise ProfileError(f"a profile file must be under {MAX_FILE_BYTES // 1000} kB")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ProfileError("a profile file must be UTF-8 JSON text") from None
    if len(text) > MAX_FILE_BYTES:
        raise ProfileError(f"a profile file must be under {MAX_FILE_BYTES // 1000} kB")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ProfileError("the profile JSON is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and our NaN / Infinity refusal
        if isinstance(exc, ProfileError):
            raise
        raise ProfileError(f"the profile is not valid JSON (line {getattr(exc, 'lineno', '?')})"
                           ) from None
    return profile_from_dict(data)


def _no_constant(name: str):
    raise ProfileError(f"the profile holds {name}; every value must be a finite number")


def profile_json(profile: Profile) -> str:
    return json.dumps(profile.to_dict(), indent=2, ensure_ascii=False)


def load_profile(name_or_path: str | os.PathLike[str]) -> Profile:
    """A preset by name, or a profile JSON file."""
    if str(name_or_path) in PRESETS:
        return PRESETS[str(name_or_path)]
    try:
        with open(name_or_path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError:
        raise ProfileError(f"no preset or readable profile file named {name_or_path!s}; "
                           f"presets: {', '.join(PRESETS)}") from None
    return parse_profile(raw)


# ----------------------------------------------------------------- presets
# Every number and its source is tabulated in README.md ("Costs in real units"); the
# derivations are repeated here so the table can be checked against the code.
# Phone: a Pixel 4 CPU. MobileBERT runs in 62 ms there, 5.5x faster than BERT-base, so
# BERT-base takes 341 ms for 22.35 GFLOP (12 layers x (24 d^2 T + 4 d T^2), d = 768,
# T = 128): 65.5 GFLOP/s. One MiniLM layer (d = 384) costs 24 d^2 = 3.54 MFLOP per token
# and 4 d = 1536 FLOP per token^2: 0.0540 ms per token, 2.34e-5 ms per token^2.
PIXEL4 = Device(ms_per_layer=0.0, ms_per_token=0.0540, ms_per_token2=2.34e-5, watts=2.5)
# GPUs at batch 1 reach a fraction of their peak (assumed 25 %): T4 65 TFLOPS fp16, A100
# 312 TFLOPS; plus an assumed fixed launch overhead per layer.
EDGE_T4 = Device(ms_per_layer=0.15, ms_per_token=2.18e-4, ms_per_token2=9.5e-8,
                 usd_per_hour=0.526)
CLOUD_A100 = Device(ms_per_layer=0.10, ms_per_token=4.54e-5, ms_per_token2=2.0e-8,
                    usd_per_hour=4.10)
# Radio power models (Huang et al. MobiSys'12, Table 3): uplink mW per Mbit/s (= mJ per
# Mbit), base power while active, promotion + tail energy per transfer (power x time).
WIFI_RADIO = dict(radio_mj_per_mbit=283.17, radio_active_watts=0.13286, radio_tail_mj=38.2)
LTE_RADIO = dict(radio_mj_per_mbit=438.39, radio_active_watts=1.28804, radio_tail_mj=12585.0)
WIRED = Link(rtt_ms=30.0, uplink_mbps=1000.0)

PRESETS: dict[str, Profile] = {p.name: p for p in (
    Profile("Wi-Fi + edge GPU", PIXEL4, EDGE_T4, CLOUD_A100,
            phone_edge=Link(rtt_ms=5.0, uplink_mbps=20.0, **WIFI_RADIO),
            phone_cloud=Link(rtt_ms=35.0, uplink_mbps=20.0, **WIFI_RADIO), edge_cloud=WIRED),
    Profile("LTE + cloud GPU", PIXEL4, EDGE_T4, CLOUD_A100,
            phone_edge=Link(rtt_ms=50.0, uplink_mbps=6.0, **LTE_RADIO),
            phone_cloud=Link(rtt_ms=70.0, uplink_mbps=6.0, **LTE_RADIO), edge_cloud=WIRED),
    Profile("5G", PIXEL4, EDGE_T4, CLOUD_A100,
            phone_edge=Link(rtt_ms=15.0, uplink_mbps=50.0, **LTE_RADIO),
            phone_cloud=Link(rtt_ms=35.0, uplink_mbps=50.0, **LTE_RADIO), edge_cloud=WIRED),
    Profile("Congested uplink", PIXEL4, EDGE_T4, CLOUD_A100,
            phone_edge=Link(rtt_ms=150.0, uplink_mbps=0.5, **LTE_RADIO),
            phone_cloud=Link(rtt_ms=200.0, uplink_mbps=0.5, **LTE_RADIO), edge_cloud=WIRED),
)}
DEFAULT_PROFILE = "LTE + cloud GPU"
