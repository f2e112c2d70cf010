"""dimee_core.price: the price of certainty shown beside every recommended saving."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dimee_core.evaluate import DIMEEConfig
from dimee_core.price import Price, SizePoint, extrapolate_4x, price_of_certainty, \
    resplit_interval
from dimee_core.selection import Candidates, samples_needed

from .conftest import synthetic_split


def _cands(rows: list[tuple[str, float, np.ndarray]]) -> Candidates:
    table = pd.DataFrame({"method": [r[0] for r in rows], "reduction_pct": [r[1] for r in rows]})
    D = np.stack([r[2] for r in rows]).astype(np.int8)
    return Candidates(DIMEEConfig(), 0.3, 6, 100, D.shape[1], table, D, {})


def test_resplit_interval_picks_on_one_half_and_scores_the_other():
    n = 1000
    safe = np.zeros(n)
    bad = np.zeros(n)
    bad[:100] = 1  # a 10 pp drop: never within 1 pp on any half
    cands = _cands([("cascade", 20.0, safe), ("dimee_plus", 90.0, bad), ("dimee", 95.0, safe)])
    i = resplit_interval(cands, 1.0, "dimee_plus", resplits=50)
    # DIMEE is outside the family; the 90 % setting always fails the target on the half
    assert (i.mean_saving_pct, i.lo_pct, i.hi_pct, i.mean_drop_pp, i.break_share, i.n) == \
        (20.0, 20.0, 20.0, 0.0, 0.0, 50)
    # a setting at exactly the target on the whole part: picked on about half the
    # re-splits (its half-drop is within the target about half the time), and then it
    # breaks the target on the other half every time it was picked for being under it
    edge = np.zeros(n)
    edge[:10] = 1  # 1.0 pp on all n
    i = resplit_interval(_cands([("cascade", 20.0, safe), ("cascade", 60.0, edge)]), 1.0,
                         "dimee_plus", resplits=400)
    assert 0.3 < (i.mean_saving_pct - 20.0) / 40.0 < 0.7
    assert i.lo_pct == 20.0 and i.hi_pct == 60.0
    assert 0.3 < i.break_share < 0.7
    assert resplit_interval(_cands([("cascade", 60.0, edge + 1)]), 1.0, "cascade") is None


def test_extrapolation_follows_the_trend_per_doubling_and_is_capped():
    pts = [SizePoint(250, 175, 10.0, ""), SizePoint(500, 350, 20.0, ""),
           SizePoint(1000, 700, 30.0, "")]
    assert extrapolate_4x(pts) == pytest.approx(30.0 + 2 * (30.0 - 10.0) / 2)  # 50 %
    assert extrapolate_4x(pts[1:]) == pytest.approx(30.0 + 2 * 10.0)
    assert extrapolate_4x([SizePoint(250, 175, None, "too small"), pts[2]]) is None
    assert extrapolate_4x([pts[0], SizePoint(1000, 700, 95.0, "")]) == 100.0
    assert extrapolate_4x([pts[2], SizePoint(2000, 1400, 25.0, "")]) == 25.0  # not below
    assert extrapolate_4x(pts, ceiling=42.0) == 42.0  # never above the calibration-best


@pytest.mark.slow
def test_a_cache_too_small_for_the_curve_says_so_and_round_trips():
    """400 calibration samples at 0.3 pp: even N holds out fewer than the 770+ samples a
    perfect setting needs, so every point says 'too small' and nothing is certified."""
    cal = synthetic_split(400)
    p = price_of_certainty(cal, DIMEEConfig(k=4), 0.3, 0.1)
    need = samples_needed(0.3, 0.1)
    assert need == 772  # the README's number
    assert not p.certified and p.certified_pct == 0.0 and p.too_small_for_curve
    assert [q.n_calibration // 10 for q in p.curve] == [10, 19, 40]  # stratified shares
    assert all(q.saving_pct is None and "too small" in q.note for q in p.curve[:2])
    assert p.extrapolated_4x_pct is None
    assert Price.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    with pytest.raises(ValueError, match="malformed"):
        Price.from_dict({**p.to_dict(), "curve": [{"n": 1}]})
    with pytest.raises(ValueError, match="target_pp is not a number"):
        Price.from_dict({**p.to_dict(), "target_pp": float("nan")})


@pytest.mark.slow
def test_the_certified_saving_is_never_above_the_calibration_best():
    cal = synthetic_split(2400, seed=3)
    p = price_of_certainty(cal, DIMEEConfig(k=4), 2.0, 0.1, fractions=())
    assert p.certified and p.best_pct is not None
    assert p.certified_pct <= p.best_pct + 1e-9
    assert p.interval is not None and p.interval.lo_pct <= p.interval.hi_pct


def _stored_example() -> dict:
    p = Price(0.3, 0.1, "dimee_plus", 2000, 9.6, {"method": "cascade", "m": 3, "n": 5,
                                                   "alpha": 0.995}, 0.18, "Certified.",
              68.6, 0.29, None, (SizePoint(500, 350, None, "too small"),
                                 SizePoint(2000, 1400, 9.6, "certified")), None)
    return json.loads(json.dumps(p.to_dict()))


@pytest.mark.slow
def test_routing_json_keeps_a_valid_price_and_refuses_a_malformed_one():
    from dimee_core import tuned
    from dimee_core.cache import load_cache

    from .conftest import SHIPPED

    cache = load_cache(SHIPPED / "trec")
    settings = {**cache.defaults, tuned.PRICE_KEY: _stored_example()}
    assert tuned.validate(settings, cache.num_layers, cache.calibration.n) is settings
    for bad in ({**_stored_example(), "delta": 2.0}, {**_stored_example(), "curve": []},
                {**_stored_example(), "extra": 1}, [1, 2]):
        with pytest.raises(ValueError, match="price of certainty"):
            tuned.validate({**cache.defaults, tuned.PRICE_KEY: bad}, cache.num_layers,
                           cache.calibration.n)


@pytest.mark.slow
def test_fuzz_stored_price_parser_only_raises_value_error():
    from hypothesis import HealthCheck, given, settings, strategies as st

    leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
    value = st.recursive(leaf, lambda kids: st.lists(kids, max_size=3)
                         | st.dictionaries(st.text(max_size=5), kids, max_size=3), max_leaves=8)
    base = _stored_example()

    @settings(max_examples=300, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sorted(base) + ["interval", "curve"]), value)
    def one(key, v):
        try:
            Price.from_dict({**base, key: v})
        except ValueError:
            pass

    one()
