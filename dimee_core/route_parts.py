"""A device-and-network profile's per-request figure of every route, split into the parts
a request pays: the phone's own layers, the transfer off the phone, the remote layers
(and, for an escalated request, the edge -> cloud hand-over). ``profiles.route_polynomials``
is their sum; the Samples page draws one request's parts in the chosen unit.

Each part is a polynomial in the request's token count T (coefficients of (1, T, T^2)),
so it stays exact for every request. Pure: no Streamlit, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .costs import RoutePolynomials, moments

PARTS = ("phone compute", "transfer", "remote compute")  # of a route (tier)
ESCALATION = "escalation"  # the edge -> cloud hand-over: its transfer and cloud layers


@dataclass(frozen=True)
class RouteParts:
    """[3 tiers, 3 coefficients] per part, the escalation's and all-in-cloud's [3]."""

    tier: dict[str, np.ndarray]
    escalation: np.ndarray
    reference: np.ndarray

    def polynomials(self) -> RoutePolynomials:
        total = self.tier[PARTS[0]]
        for part in PARTS[1:]:  # phone, then transfer, then remote: one order everywhere
            total = total + self.tier[part]
        return RoutePolynomials(total, self.escalation, self.reference)

    def of_request(self, tier: int, escalated: bool, tokens: float) -> dict[str, float]:
        """One request's parts (they sum to its figure): answered on ``tier`` (an
        escalated one took the edge's route, then the hand-over)."""
        phi = moments(np.array([tokens]))[0]
        route = 1 if escalated else int(tier)
        out = {part: float(phi @ self.tier[part][route]) for part in PARTS}
        out[ESCALATION] = float(phi @ self.escalation) if escalated else 0.0
        return out

    def reference_of(self, tokens: float) -> float:
        """All-in-cloud's figure for a request of ``tokens`` tokens."""
        return float(moments(np.array([tokens]))[0] @ self.reference)


def route_parts(p: Any, metric: str, m: int, n: int, num_layers: int, mode: str,
                hidden_size: int) -> RouteParts:
    """Every route's parts in ``metric`` under ``p``, a ``profiles.Profile`` (not imported:
    profiles imports this module); the caller checks the arguments (``profiles.parts``)."""
    L, resume = num_layers, mode == "resume"
    tokens = np.array([0.0, p.payload.token_id_bytes, 0.0])
    state = np.array([0.0, hidden_size * p.payload.hidden_value_bytes, 0.0])
    ship = state if resume else tokens  # what leaves the phone / the edge
    edge_layers, cloud_layers = (n - m, L - m) if resume else (n, L)
    up_layers = L - n if resume else L
    zero = np.zeros(3)
    if metric == "latency_ms":
        phone = m * p.phone.layer_ms()
        transfer = [zero, p.phone_edge.transfer_ms(ship), p.phone_cloud.transfer_ms(ship)]
        remote = [zero, edge_layers * p.edge.layer_ms(), cloud_layers * p.cloud.layer_ms()]
        up = p.edge_cloud.transfer_ms(ship) + up_layers * p.cloud.layer_ms()
        ref = p.phone_cloud.transfer_ms(tokens) + L * p.cloud.layer_ms()
    elif metric == "energy_mj":  # W x ms = mJ; the remote layers cost the phone nothing
        phone = m * p.phone.layer_ms() * p.phone.watts
        transfer = [zero, p.phone_edge.radio_mj(ship), p.phone_cloud.radio_mj(ship)]
        remote, up, ref = [zero] * 3, zero, p.phone_cloud.radio_mj(tokens)
    elif metric == "usd":  # only the edge and the cloud bill
        def bill(dev, layers):
            return (layers * dev.layer_ms() * dev.usd_per_hour / 3.6e6
                    + np.array([dev.usd_per_million_requests / 1e6, 0, 0]))
        phone, transfer = zero, [zero] * 3
        remote = [zero, bill(p.edge, edge_layers), bill(p.cloud, cloud_layers)]
        up, ref = bill(p.cloud, up_layers), bill(p.cloud, L)
    else:  # bytes the phone sends
        phone, transfer, remote, up, ref = zero, [zero, ship, ship], [zero] * 3, zero, tokens
    stack = lambda rows: np.stack(rows).astype(float)
    return RouteParts({"phone compute": stack([phone] * 3), "transfer": stack(transfer),
                       "remote compute": stack(remote)},
                      np.asarray(up, float), np.asarray(ref, float))
