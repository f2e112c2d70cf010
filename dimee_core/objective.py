"""What a recommendation minimises: the abstract cost, or a device-and-network
profile's mean latency, p95 latency, phone energy or money.

The selection's path (which candidates are tested, in which order) is fixed by the fit
part as always, so its certified set and guarantee are the same whatever the objective:
with probability at least 1 - delta EVERY certified candidate is within the target, so
choosing among them afterwards keeps it. The objective decides that choice: each
candidate's cost in its unit over the calibration split (from the tiers the selection
stored), the cheapest certified one wins. Under a real unit all-in-cloud is always an
honest answer (its drop against itself is identically 0): when no certified setting is
cheaper than it in that unit, it is the recommendation.

Measured on rt-snippets (LTE + cloud GPU, 0.3 pp, delta 0.1), ordering and pruning the
path by the unit instead (routers solving in the unit too) certified worse settings:
phone energy 4.5 % saved against 11.9 % this way, money 36.5 % against 80.9 %, mean
latency -44.2 % against -40.5 % (both then all-in-cloud).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .costs import moments
from .profiles import PRESETS, Profile, UnitCosts
from .profiles import per_request as profile_per_request

OBJECTIVES = ("abstract", "latency_ms", "latency_p95_ms", "energy_mj", "usd")
REAL = OBJECTIVES[1:]
METRIC = {"latency_ms": "latency_ms", "latency_p95_ms": "latency_ms",
          "energy_mj": "energy_mj", "usd": "usd"}  # the profile figure it is read from
WORDS = {"abstract": "abstract cost", "latency_ms": "mean latency",
         "latency_p95_ms": "p95 latency", "energy_mj": "phone energy", "usd": "money"}
P95 = 95.0
CHUNK = 256  # candidates per block of per-request figures (bounds memory)


class ObjectiveError(ValueError):
    """An objective that cannot be used as asked."""


@dataclass(frozen=True)
class Objective:
    name: str = "abstract"
    profile: Profile | None = None

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            raise ObjectiveError(f"objective must be one of {', '.join(OBJECTIVES)}, "
                                 f"got {self.name!r}")
        if (self.name != "abstract") != (self.profile is not None):
            raise ObjectiveError("a real-unit objective needs a device-and-network profile "
                                 "(--profile), and the abstract one takes none")

    @property
    def real(self) -> bool:
        return self.name != "abstract"

    @property
    def words(self) -> str:
        return WORDS[self.name] + (f" under {self.profile.name}" if self.real else "")

    def statistic(self, values: np.ndarray) -> float:
        """The objective's figure of per-request values: their mean, or their p95."""
        if values.size == 0:
            return float("nan")
        if self.name == "latency_p95_ms":
            return float(np.percentile(values, P95))
        return float(values.mean())


def preset_objectives() -> list[Objective]:
    """Every preset profile x real objective: what ``tune`` stores a recommendation for."""
    return [Objective(name, p) for p in PRESETS.values() for name in REAL]


def _unit(cands, objective: Objective) -> UnitCosts:
    if not objective.real:
        raise ObjectiveError("abstract costs are the candidates' own (reduction_pct)")
    base = cands.base
    return UnitCosts(objective.profile, METRIC[objective.name], base.costs.mode,
                     base.hidden_size)


def per_request(cands, objective: Objective, rows: np.ndarray) -> np.ndarray:
    """[len(rows), N] each of these candidates' per-request figure on the calibration
    split (fit part, then held-out part), from the tiers the selection stored per
    candidate (``Candidates.tiers`` / ``escalated``)."""
    unit, phi, t = _unit(cands, objective), moments(cands.lengths), cands.table
    rows = np.asarray(rows)
    out = np.empty((len(rows), len(phi)))
    ms, ns = t["m"].to_numpy()[rows], t["n"].to_numpy()[rows]
    for m, n in {(int(a), int(b)) for a, b in zip(ms, ns)}:
        at = np.flatnonzero((ms == m) & (ns == n))
        polys = unit.route_polynomials(m, n, cands.num_layers)
        per_tier = phi @ polys.tier.T  # [N, 3]
        esc = cands.escalated[rows[at]]
        route = np.where(esc, 1, cands.tiers[rows[at]])  # escalated: edge route + hand-over
        out[at] = (per_tier[np.arange(len(phi))[None, :], route]
                   + esc * (phi @ polys.escalation)[None, :])
    return out


def reference_per_request(cands, objective: Objective) -> np.ndarray:
    """[N] all-in-cloud's per-request figure on the calibration split."""
    polys = _unit(cands, objective).route_polynomials(1, 2, cands.num_layers)  # no m, n
    return moments(cands.lengths) @ polys.reference


def unit_values(cands, objective: Objective) -> tuple[np.ndarray, float]:
    """[C] each candidate's figure in ``objective``'s unit and statistic over the whole
    calibration split, and all-in-cloud's."""
    rows = np.arange(len(cands.table))
    values = [objective.statistic(v) for s in range(0, len(rows), CHUNK)
              for v in per_request(cands, objective, rows[s:s + CHUNK])]
    return np.array(values), objective.statistic(reference_per_request(cands, objective))


def reductions(cands, objective: Objective) -> np.ndarray:
    """[C] each candidate's saving (%) against all-in-cloud on the calibration split, in
    the objective's unit (abstract: the selection's own column)."""
    if not objective.real:
        return cands.table["reduction_pct"].to_numpy()
    values, reference = unit_values(cands, objective)
    return 100 * (1 - values / reference)



def routing_figures(objective: Objective, tier: np.ndarray, escalated: np.ndarray | None,
                    lengths: np.ndarray, m: int, n: int, num_layers: int,
                    mode: str = "resume", hidden_size: int | None = None
                    ) -> tuple[float, float]:
    """One routing's figure in ``objective``'s unit and statistic ($: per million
    requests, as the dashboard shows money), and all-in-cloud's for the same requests."""
    kw = {} if hidden_size is None else {"hidden_size": hidden_size}
    own, ref = profile_per_request(objective.profile, METRIC[objective.name], tier,
                                   escalated, lengths, m, n, num_layers, mode, **kw)
    return objective.statistic(own), objective.statistic(ref)
