"""An illustrative setting for the teaching pages (Learn, Live): one that shows the method
at work, several clusters routed to more than one tier, chosen on calibration only.

It is NOT certified. A certified setting can legitimately be "send everything to the
cloud" (too few samples to certify anything cheaper at a tight target), which teaches
nothing about routing: one cluster, one tier. The lesson runs here instead, labelled as
illustrative, beside a link to the certified setting.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .cache import Cache
from .config import DIMEEConfig
from .evaluate import resolve
from .features import correct_matrix
from .router import from_config

K = 8  # enough clusters for a readable picture, few enough for a few hundred samples
FEATURES = "signals"  # several numbers even at m = 1: a 2-D picture that is not a line
EPSILON_PP = 1.0  # the budget the illustrative router may spend on calibration
MIN_SHARE = 0.05  # a tier counts as used when it takes at least this share


@dataclass(frozen=True)
class Illustration:
    config: DIMEEConfig
    reduction_pct: float  # on calibration (in-sample: the router was fitted there)
    drop_pp: float  # on calibration, in-sample
    tiers_used: int


def illustrative_setting(cache: Cache, base: DIMEEConfig | None = None) -> Illustration:
    """The (m, n) whose DIMEE router (k = K, features FEATURES, budget ε = EPSILON_PP pp,
    costs of ``base``) uses the most tiers on calibration, then saves the most there.
    Calibration only: the test split never chooses it."""
    base = base or DIMEEConfig.for_cache(cache)
    cal, L = cache.calibration, cache.num_layers
    k = max(1, min(K, cal.n // 20))
    correct = correct_matrix(cal.probs, cal.labels)
    ref = base.costs.reference_cost(L)
    best: tuple | None = None
    for m in range(1, L - 1):
        cfg = replace(base, m=m, n=m + 1, k=k, features=FEATURES, policy="budget",
                      epsilon=EPSILON_PP, safety=0.0, fit_fraction=1.0, as_cascade=False)
        router = from_config(cfg).fit(cal)
        clusters = router.labels_
        for n in range(m + 1, L):
            cfg = replace(cfg, n=n)
            r = resolve(router, cfg).route(cal, clusters)
            shares = np.bincount(r.tier, minlength=3) / cal.n
            used = int((shares >= MIN_SHARE).sum())
            drop = 100 * float((correct[:, -1].astype(int)
                                - correct[np.arange(cal.n), r.exit_layer - 1]).mean())
            red = 100 * (1 - float(r.cost.mean()) / ref)
            key = (used, red)
            if best is None or key > best[0]:
                best = (key, Illustration(cfg, red, drop, used))
    assert best is not None  # L >= 3 gives at least one (m, n)
    return best[1]
