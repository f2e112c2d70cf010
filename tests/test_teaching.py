"""dimee_core.teaching: the illustrative setting of the Learn and Live pages."""

from __future__ import annotations

import numpy as np
import pytest

from dimee_core.cache import Cache
from dimee_core.evaluate import DIMEEConfig, fit_routers
from dimee_core.teaching import EPSILON_PP, FEATURES, illustrative_setting

from .conftest import synthetic_split


def _cache(test_seed: int = 1) -> Cache:
    return Cache(meta={"name": "synthetic", "num_layers": 6}, calibration=synthetic_split(400, seed=0),
                 test=synthetic_split(200, seed=test_seed))


@pytest.mark.slow
def test_illustration_routes_to_several_tiers_and_reports_its_own_numbers():
    cache = _cache()
    ill = illustrative_setting(cache, DIMEEConfig())
    c = ill.config
    assert (c.k, c.features, c.policy, c.epsilon, c.fit_fraction) == (8, FEATURES, "budget",
                                                                    EPSILON_PP, 1.0)
    # recomputed here: a fresh router at that setting, fitted on calibration
    cal = cache.calibration
    r = fit_routers(cache, c)[0].route(cal)
    shares = np.bincount(r.tier, minlength=3) / cal.n
    assert ill.tiers_used == int((shares >= 0.05).sum()) >= 2
    ref = c.costs.reference_cost(cal.probs.shape[1])
    assert np.isclose(ill.reduction_pct, 100 * (1 - r.cost.mean() / ref))
    right = cal.probs.argmax(2) == cal.labels[:, None]
    drop = 100 * (right[:, -1].mean() - right[np.arange(cal.n), r.exit_layer - 1].mean())
    assert np.isclose(ill.drop_pp, drop)


@pytest.mark.slow
def test_the_test_split_never_chooses_it():
    a = illustrative_setting(_cache(test_seed=1), DIMEEConfig())
    b = illustrative_setting(_cache(test_seed=7), DIMEEConfig())
    assert a == b


@pytest.mark.slow
def test_rt_snippets_illustration_is_the_readme_one():
    """README: rt-snippets opens Learn and Live at m = 2, n = 4, three tiers, 61 % saved
    at +1.00 pp on calibration (in-sample)."""
    from dimee_core.cache import load_cache

    from .conftest import SHIPPED

    ill = illustrative_setting(load_cache(SHIPPED / "rt-snippets"))
    assert (ill.config.m, ill.config.n, ill.config.k, ill.tiers_used) == (2, 4, 8, 3)
    assert round(ill.reduction_pct) == 61 and f"{ill.drop_pp:+.2f}" == "+1.00"
