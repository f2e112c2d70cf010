"""Issue 18's target on the shipped caches: for every preset profile and real objective,
the answer tune stored saves at least what the cheapest certified setting chosen in
abstract units saves in that unit on the test split, and >= 0 against all-in-cloud on
calibration (by construction) and on test, except in the one cell the README names.
Each stored setting is rebuilt from its knobs through the evaluation path (not the
selection's code) and scored with the profile's per-request model (profiles.summarise)."""

from __future__ import annotations

import numpy as np
import pytest

from dimee_core import baselines
from dimee_core.config import DIMEEConfig
from dimee_core.evaluate import fit_routers, plus_routing
from dimee_core.objective import preset_objectives
from dimee_core.profiles import summarise
from dimee_core.selection import certify, evaluate_candidates
from dimee_core.tokens import with_lengths
from dimee_core.unit_store import KNOBS, stored

pytestmark = pytest.mark.slow
# saves on calibration (+2.1 %) but not on test (-4.7 %): the README says so
BELOW_ZERO_ON_TEST = {"vitaminc": {("LTE + cloud GPU", "latency_ms")}}
FIGURE = {"latency_ms": lambda s: s.latency_ms["mean"],
          "latency_p95_ms": lambda s: s.latency_ms["p95"],
          "energy_mj": lambda s: s.phone_energy_mj["mean"],
          "usd": lambda s: s.money_per_million}


def _test_routing(cache, e):
    """A stored setting's test routing, rebuilt from its knobs alone."""
    knobs = {k: v for k, v in e.items() if k in KNOBS}
    if e["method"] == "cascade":
        return baselines.cascade(cache.test.probs, knobs["alpha"], knobs["m"], knobs["n"],
                                 DIMEEConfig.for_cache(cache).costs), knobs["m"], knobs["n"]
    cfg = DIMEEConfig.for_cache(cache, **knobs)
    dimee, plus = fit_routers(cache, cfg)
    routing = (plus_routing(cache.test, cfg, plus) if e["method"] == "dimee_plus"
               else dimee.route(cache.test))
    return routing, cfg.m, cfg.n


def _saving(cache, o, routing, m, n) -> float:
    kw = dict(lengths=cache.test.lengths, m=m, n=n, num_layers=cache.num_layers)
    own = FIGURE[o.name](summarise(o.profile, routing.tier, routing.escalated, **kw))
    ref = FIGURE[o.name](summarise(o.profile, routing.tier, None, **kw, reference=True))
    return 100 * (1 - own / ref)


def test_every_stored_answer_saves_and_beats_the_abstract_choice(shipped):
    cache = with_lengths(shipped)[0]
    units = cache.defaults["units"]
    cands = evaluate_candidates(cache.calibration, DIMEEConfig.for_cache(cache))
    plain = certify(cands, units["target_pp"], units["delta"])  # chosen in abstract units
    plain_routing = cands.routing(plain.index, cache.test)
    rebuilt, below = {}, set()
    for o in preset_objectives():
        e = stored(cache.defaults, o)
        assert e is not None, (o.profile.name, o.name)
        if e["method"] == "all_in_cloud":
            saved = 0.0
            assert e["test"]["reduction_pct"] == 0.0
        else:
            key = tuple(sorted((k, v) for k, v in e.items() if k in KNOBS)) + (e["method"],)
            if key not in rebuilt:
                rebuilt[key] = _test_routing(cache, e)
            saved = _saving(cache, o, *rebuilt[key])
            assert e["test"]["reduction_pct"] == pytest.approx(saved, abs=1e-6)
        abstract = _saving(cache, o, plain_routing, plain.config.m, plain.config.n)
        assert e["calibration_reduction_pct"] >= 0
        assert saved >= abstract - 1e-9, (cache.name, o.profile.name, o.name, saved, abstract)
        if saved < 0:
            below.add((o.profile.name, o.name))
    assert below == BELOW_ZERO_ON_TEST.get(cache.name, set())
