"""What the guarantee bounds, measured where it is known exactly.

The report's re-splits score each recommendation on the other half of the data, so
their violation rate mixes the scoring half's noise into P(true drop > target). Here
calibration splits are drawn from a finite population instead, and each recommended
rule's true drop is its exact drop on that population.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from .cache import Split
from .config import DIMEEConfig
from .selection import DELTA, METHODS, Grid, certify, evaluate_candidates

TARGETS_PP = (0.3, 1.0)


def population_violations(population: Split, base: DIMEEConfig, n_calibration: int,
                          draws: int, targets=TARGETS_PP, delta: float = DELTA,
                          grid: Grid = Grid(), random_state: int = 0) -> dict:
    """What the guarantee bounds, measured where it is known exactly: ``draws``
    calibration splits of ``n_calibration`` samples drawn i.i.d. (with replacement) from
    a finite ``population``; each method's recommendation's TRUE drop is its exact drop
    on the population. ``true_violation_rate`` estimates P(true drop > target) <= delta
    (the re-splits' ``violation_rate`` also carries the scoring half's noise)."""
    rng = np.random.default_rng(random_state)
    corr = population.probs.argmax(2) == population.labels[:, None]
    got: dict = {}
    for r in range(draws):
        cal = population.take(rng.integers(0, population.n, n_calibration))
        cands = evaluate_candidates(cal, replace(base, random_state=random_state + r), grid)
        for t, m in itertools.product(targets, METHODS):
            rec = certify(cands, t, delta, m, bound=False)
            if rec.ok:
                exit_layer = cands.routing(rec.index, population).exit_layer
                drop = 100 * float(corr[:, -1].mean()
                                   - corr[np.arange(population.n), exit_layer - 1].mean())
            got.setdefault((t, m), []).append((rec.ok, rec.ok and drop > t + 1e-9))
    return {f"{t:g}": {m: {"draws": draws,
                           "certified_rate": float(np.mean([v[0] for v in got[t, m]])),
                           "true_violation_rate": float(np.mean([v[1] for v in got[t, m]]))}
                       for m in METHODS} for t in targets}
