"""Which tier can pay off under a profile, and why not when it cannot.

Every request first runs the phone's m layers; the router then answers it there, sends
the phone's layer-m state to the edge, or on to the cloud. Against all-in-cloud (the raw
tokens sent straight to the cloud) a route saves in a unit only if its mean per-request
figure is below all-in-cloud's. On LTE, for instance, any transfer pays the radio's
promotion and tail energy (12.6 J, Huang et al. MobiSys'12), and resume mode ships 768
bytes per token where all-in-cloud ships 4: sending a phone answer's features to the edge
costs the phone more energy than running everything in the cloud, so only answers on the
phone save energy. These figures are exact means of the cost polynomials over a split's
token counts (no sampling), so the verdicts are facts about the profile, not estimates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .costs import moments
from .profiles import HIDDEN_SIZE, LTE_RADIO, WIFI_RADIO, Link, Profile, route_polynomials

TIERS = ("phone", "edge", "cloud")
NOUNS = {"latency_ms": "latency", "energy_mj": "phone energy", "usd": "money"}
FORMATS = {"latency_ms": "{:,.1f} ms", "energy_mj": "{:,.0f} mJ",
           "usd": "${:,.3f} per 1 M requests"}
SCALE = {"latency_ms": 1.0, "energy_mj": 1.0, "usd": 1e6}  # $: per million requests
# where a radio's promotion + tail energy comes from (profiles.py's presets)
RADIO_SOURCES = {LTE_RADIO["radio_tail_mj"]: "the LTE radio's promotion and tail",
                 WIFI_RADIO["radio_tail_mj"]: "the Wi-Fi radio's promotion and tail"}
SOURCE = "Huang et al., MobiSys 2012, Table 3"
TIE = 1e-9  # relative: closer than this to all-in-cloud is no saving
DOMINATES = 0.5  # a share of the phone's energy above this is named under the figure
_FREE = Link(rtt_ms=0.0, uplink_mbps=math.inf)  # costs nothing: isolates the links' part


@dataclass(frozen=True)
class Route:
    """One tier's mean per-request figure if every request were answered there, split
    into the phone's own layers, the links and the remote tier's layers."""

    tier: str
    mean: float
    phone: float
    link: float
    remote: float


@dataclass(frozen=True)
class Payoff:
    """Each tier against all-in-cloud in one unit under one profile."""

    metric: str
    profile_name: str
    m: int
    n: int
    mode: str
    ship_bytes_per_token: float  # what leaves the phone on an offload
    token_bytes: float  # what all-in-cloud ships per token
    routes: dict[str, Route]
    reference: Route

    def pays_off(self, tier: str) -> bool:
        """Strictly cheaper than all-in-cloud (a tie, e.g. the cloud recomputing every
        layer for free-phone money, saves nothing)."""
        return self.routes[tier].mean < self.reference.mean * (1 - TIE)

    @property
    def paying(self) -> list[str]:
        return [t for t in TIERS if self.pays_off(t)]

    def fmt(self, v: float) -> str:
        return FORMATS[self.metric].format(SCALE[self.metric] * v)

    def _why(self, tier: str) -> str:
        """The largest part by which ``tier``'s route exceeds all-in-cloud, in words."""
        r, ref = self.routes[tier], self.reference
        parts = {"phone": r.phone, "link": r.link - ref.link, "remote": r.remote - ref.remote}
        part = max(parts, key=parts.get)
        where = "the edge" if tier == "edge" else "the cloud"
        if part == "phone":
            return (f"the phone's own {self.m} layers ({self.fmt(r.phone)}) come on top of "
                    f"what {where} costs")
        if part == "link":
            if self.mode == "resume":
                return (f"sending the phone's layer-{self.m} features to {where} "
                        f"({self.ship_bytes_per_token:,.0f} bytes per token) costs more "
                        f"than sending the raw tokens to the cloud "
                        f"({self.token_bytes:g} bytes per token)")
            return f"the link to {where} costs more than the link to the cloud"
        return (f"{where}'s layers cost more than the cloud's whole model"
                if tier == "edge" else "the cloud's share of the work costs more")

    def sentence(self) -> str:
        """Plain words (Markdown; the profile's name is the caller's to escape)."""
        noun, ref = NOUNS[self.metric], self.reference
        each = "" if self.metric == "usd" else " per request"  # $: per 1 M requests
        head = (f"In {noun}, all-in-cloud costs {self.fmt(ref.mean)}{each}; an "
                f"answer on the phone costs {self.fmt(self.routes['phone'].mean)}")
        lost = [t for t in ("edge", "cloud") if not self.pays_off(t)]
        out = [head + f", the edge {self.fmt(self.routes['edge'].mean)}, the cloud after the "
               f"phone {self.fmt(self.routes['cloud'].mean)}."]
        whys = [self._why(t) for t in lost]
        if len(lost) == 2 and whys[0].replace("the edge", "the cloud") == whys[1]:
            out.append("Neither the edge nor going on to the cloud after the phone pays "
                       f"off: {whys[0].replace('to the edge ', '')}.")
        else:
            out += [f"{'The edge' if t == 'edge' else 'Going on to the cloud after the phone'}"
                    f" never pays off: {why}." for t, why in zip(lost, whys)]
        if not self.pays_off("phone"):
            out.append("No tier is cheaper than all-in-cloud here: the best honest setting "
                       "sends everything to the cloud.")
        elif len(lost) == 2:
            out.append(f"Only answers on the phone save {noun}: every request that leaves "
                       f"the phone costs more than all-in-cloud, so the best honest setting "
                       f"keeps as many requests on the phone as the accuracy target allows "
                       f"(all on the phone if it allows that).")
        elif not lost:
            out.append("Every tier is cheaper than all-in-cloud here.")
        else:
            out.append(f"The phone and {'the edge' if 'edge' not in lost else 'the cloud'} "
                       f"pay off here.")
        return " ".join(out)


def payoff(profile: Profile, metric: str, m: int, n: int, num_layers: int,
           lengths: np.ndarray, mode: str = "resume", hidden_size: int = HIDDEN_SIZE) -> Payoff:
    """Each tier's mean figure over ``lengths`` (the split's token counts) against
    all-in-cloud's, with its parts."""
    phi = moments(lengths).mean(0)
    full = route_polynomials(profile, metric, m, n, num_layers, mode, hidden_size)
    free = replace(profile, phone_edge=_FREE, phone_cloud=_FREE, edge_cloud=_FREE)
    local = route_polynomials(free, metric, m, n, num_layers, mode, hidden_size)
    phone = float(phi @ full.tier[0])
    routes = {}
    for i, tier in enumerate(TIERS):
        mean, no_link = float(phi @ full.tier[i]), float(phi @ local.tier[i])
        routes[tier] = Route(tier, mean, phone, mean - no_link, no_link - phone)
    ref, ref_local = float(phi @ full.reference), float(phi @ local.reference)
    ship = hidden_size * profile.payload.hidden_value_bytes if mode == "resume" else \
        profile.payload.token_id_bytes
    return Payoff(metric, profile.name, m, n, mode, ship, profile.payload.token_id_bytes,
                  routes, Route("all_in_cloud", ref, 0.0, ref - ref_local, ref_local))


def tail_note(profile: Profile, energy: dict[str, float]) -> str | None:
    """"94 % of it is ..." when the radio's promotion + tail dominates a mean phone energy
    (``UnitSummary.phone_energy_mj``), naming a preset's source; None when it does not."""
    tail_mean, energy_mean = energy["radio_tail"], energy["mean"]
    if not energy_mean > 0 or tail_mean / energy_mean <= DOMINATES:
        return None
    tails = {profile.phone_edge.radio_tail_mj, profile.phone_cloud.radio_tail_mj}
    names = [RADIO_SOURCES[t] for t in tails if t in RADIO_SOURCES]
    what = (f"{names[0]} energy ({min(tails):,.0f} mJ per transfer; {SOURCE})"
            if len(names) == 1 and len(tails) == 1 else
            "the radio's promotion and tail energy (the profile's figure per transfer)")
    return f"{100 * tail_mean / energy_mean:.0f} % of it is {what}."
