"""The Overview / What-if downloads: both routers per sample, the cluster decisions and
the cache's build id."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from dimee_core import explore
from dimee_core.cache import load_cache
from dimee_core.evaluate import DIMEEConfig, evaluate
from tests.conftest import SHIPPED
from ui.compute import Results


@pytest.fixture(scope="module")
def setup():
    cache = load_cache(SHIPPED / "rt-snippets")
    cfg = DIMEEConfig.for_cache(cache)
    return cache, cfg, evaluate(cache, cfg, n_boot=0)


@pytest.mark.slow
def test_assignments_hold_dimee_plus_too(setup):
    cache, cfg, ev = setup
    df = explore.assignments_table(cache, cfg, ev)
    assert len(df) == cache.test.n
    for key, suffix in (("dimee", ""), ("dimee_plus", "_plus")):
        r = ev.methods[key]
        shares = df[f"tier{suffix}"].value_counts(normalize=True)
        for tier, share in r.tier_shares.items():
            assert shares.get(tier, 0.0) == pytest.approx(share)
        assert df[f"cost{suffix}"].mean() == pytest.approx(r.mean_cost)
        assert df[f"correct{suffix}"].mean() == pytest.approx(r.accuracy)
    assert df["escalated_plus"].sum() == int(ev.routings["dimee_plus"].escalated.sum())
    assert not df["tier_plus"].equals(df["tier"])  # DIMEE+ routes differently here


@pytest.mark.slow
def test_json_holds_cluster_decisions_and_build_id(setup):
    cache, cfg, ev = setup
    res = Results(ev, explore.cluster_table(ev.dimee), explore.cluster_table(ev.dimee_plus),
                  explore.via_edge(ev.routings["dimee_plus"]), ev.dimee_plus.beta_)
    doc = json.loads(json.dumps(res.to_json(cache)))  # must be plain JSON (no NaN objects)
    assert doc["cache"]["build_id"] == cache.build_id and doc["cache"]["name"] == cache.name
    for key, router in (("dimee", ev.dimee), ("dimee_plus", ev.dimee_plus)):
        rows = doc["clusters"][key]
        assert len(rows) == cfg.k
        assert [r["tier"] for r in rows] == [explore.tier_name(o, router.beta_)
                                             for o in router.cluster_tiers_]
    assert doc["config"]["k"] == cfg.k


@pytest.mark.slow
def test_build_id_follows_the_build_not_the_tuning():
    cache = load_cache(SHIPPED / "trec")
    again = load_cache(SHIPPED / "trec")
    assert cache.build_id == again.build_id and len(cache.build_id) == 16
    retuned = replace(cache, meta={**cache.meta, "defaults": {"k": 3}})
    assert retuned.build_id == cache.build_id
    probs = cache.test.probs.copy()
    probs[0, -1] = probs[0, -1][::-1]
    rebuilt = replace(cache, test=replace(cache.test, probs=probs))
    assert rebuilt.build_id != cache.build_id
    other = load_cache(SHIPPED / "sms-spam")
    assert other.build_id != cache.build_id
    assert np.array_equal(cache.test.probs, again.test.probs)
