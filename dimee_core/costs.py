"""The cost model of DIMEE.md: per-layer processing and per-hop offloading costs.

Units are "layer equivalents" by default (one mobile layer = 1). ``resume`` mode ships
the layer-m hidden state and the remote tier continues from layer m+1; ``recompute``
mode ships the raw input and the remote tier starts again from layer 1.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

TIERS = ("mobile", "edge", "cloud")
MODES = ("resume", "recompute")
MAX_COST = 1e6  # anything larger is a typo, not a scenario


@dataclass(frozen=True)
class RoutePolynomials:
    """Per-sample cost of every route as a polynomial in the sample's token count T.

    Each row holds the coefficients of (1, T, T^2). The abstract cost model has constant
    rows; a device-and-network profile (``profiles.UnitCosts``) fills all three. Because
    every cost is linear in (1, T, T^2), per-cluster sums of those three moments are
    sufficient statistics for any cost model: a re-solve never touches the samples.
    """

    tier: np.ndarray  # [3, 3] answer on mobile / edge / cloud (phone runs 1..m first)
    escalation: np.ndarray  # [3] extra when the edge (layers up to n) hands on to the cloud
    reference: np.ndarray  # [3] all in cloud: the input goes straight to the cloud

    def per_sample(self, tier: np.ndarray, escalated: np.ndarray | None,
                   lengths: np.ndarray) -> np.ndarray:
        """[N] cost of each sample answered on ``tier``; an ``escalated`` sample (tier
        cloud, reached via the edge) pays the edge route plus the escalation."""
        return self.on_moments(tier, escalated, moments(lengths))

    def on_moments(self, tier: np.ndarray, escalated: np.ndarray | None,
                   phi: np.ndarray) -> np.ndarray:
        """:meth:`per_sample` from precomputed ``moments(lengths)`` (shared by metrics)."""
        tier = np.asarray(tier)
        if escalated is None:
            return np.einsum("ij,ij->i", phi, self.tier[tier])
        route = np.where(escalated, 1, tier)
        return (np.einsum("ij,ij->i", phi, self.tier[route])
                + np.where(escalated, phi @ self.escalation, 0.0))

    def reference_per_sample(self, lengths: np.ndarray) -> np.ndarray:
        return moments(lengths) @ self.reference


def moments(lengths: np.ndarray) -> np.ndarray:
    """[N, 3] (1, T, T^2) of each sample's token count T."""
    t = np.asarray(lengths, dtype=np.float64)
    return np.stack([np.ones_like(t), t, t * t], 1)


def constant_polynomials(tier: np.ndarray, escalation: float, reference: float
                         ) -> RoutePolynomials:
    z = lambda v: np.array([v, 0.0, 0.0])
    return RoutePolynomials(np.stack([z(v) for v in tier]), z(escalation), z(reference))


@dataclass(frozen=True)
class CostModel:
    lambda_mobile: float = 1.0
    lambda_edge: float = 1.0
    lambda_cloud: float = 1.0
    o_edge: float = 2.0
    o_cloud: float = 5.0
    o_edge_cloud: float = 3.0
    mode: str = "resume"

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "mode":
                continue
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"cost {f.name} must be a number, got {v!r}")
            if not math.isfinite(v) or v < 0 or v > MAX_COST:
                raise ValueError(f"cost {f.name} must be finite and in [0, {MAX_COST:g}], got {v!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.reference_cost(3) <= 0:
            raise ValueError("all-in-cloud cost is zero: set o_cloud or lambda_cloud above 0")

    def to_dict(self) -> dict:
        return asdict(self)

    def reference_cost(self, num_layers: int) -> float:
        """All in cloud: the raw input goes straight to the cloud, which runs all L layers."""
        return self.o_cloud + num_layers * self.lambda_cloud

    def tier_costs(self, m: int, n: int, num_layers: int) -> np.ndarray:
        """Per-sample cost of answering on mobile, edge, cloud (the mobile always runs 1..m)."""
        check_split(m, n, num_layers)
        mobile = m * self.lambda_mobile
        edge_layers, cloud_layers = (n - m, num_layers - m) if self.mode == "resume" else (
            n, num_layers)
        return np.array([mobile,
                         mobile + self.o_edge + edge_layers * self.lambda_edge,
                         mobile + self.o_cloud + cloud_layers * self.lambda_cloud])

    def escalation_cost(self, n: int, num_layers: int) -> float:
        """Extra cost when the edge (having run layers up to n) hands a sample to the cloud."""
        layers = num_layers - n if self.mode == "resume" else num_layers
        return self.o_edge_cloud + layers * self.lambda_cloud

    def route_polynomials(self, m: int, n: int, num_layers: int) -> RoutePolynomials:
        """The same costs as constant polynomials (abstract units do not depend on T)."""
        return constant_polynomials(self.tier_costs(m, n, num_layers),
                                    self.escalation_cost(n, num_layers),
                                    self.reference_cost(num_layers))

    def cascade_costs(self, m: int, n: int, num_layers: int) -> np.ndarray:
        """Cost of exiting a cascade at mobile, at edge, or in the cloud via the edge."""
        t = self.tier_costs(m, n, num_layers)
        return np.array([t[0], t[1], t[1] + self.escalation_cost(n, num_layers)])


def check_split(m: int, n: int, num_layers: int) -> None:
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
               for v in (m, n, num_layers)):
        raise ValueError(f"split points must be integers, got m={m!r}, n={n!r}")
    if not 1 <= m < n < num_layers:
        raise ValueError(f"split points need 1 <= m < n < L={num_layers}, got m={m}, n={n}")


PRESETS: dict[str, CostModel] = {
    "Balanced (DIMEE.md defaults)": CostModel(),
    "5G: cheap uplink": CostModel(o_edge=0.5, o_cloud=1.5, o_edge_cloud=1.0),
    "Congested uplink": CostModel(o_edge=4.0, o_cloud=12.0, o_edge_cloud=6.0),
    "Nearby edge, far cloud": CostModel(o_edge=1.0, o_cloud=8.0, o_edge_cloud=6.0),
    "Battery-saving phone": CostModel(lambda_mobile=3.0),
    "Cheap cloud GPUs": CostModel(lambda_cloud=0.25, lambda_edge=0.75),
}
