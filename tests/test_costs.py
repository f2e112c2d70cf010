import math

import numpy as np
import pytest

from dimee_core.costs import PRESETS, CostModel


def test_default_route_costs_by_hand():
    c = CostModel()  # lambdas 1, o_edge 2, o_cloud 5, o_edge_cloud 3
    np.testing.assert_allclose(c.tier_costs(2, 4, 6), [2, 2 + 2 + 2, 2 + 5 + 4])
    assert c.reference_cost(6) == 11
    np.testing.assert_allclose(c.cascade_costs(2, 4, 6), [2, 6, 6 + 3 + 2])


def test_custom_costs_resume_and_recompute():
    c = CostModel(lambda_mobile=3, lambda_edge=0.5, lambda_cloud=0.25, o_edge=1.5,
                  o_cloud=4, o_edge_cloud=2)
    np.testing.assert_allclose(c.tier_costs(1, 3, 6), [3, 3 + 1.5 + 2 * 0.5, 3 + 4 + 5 * 0.25])
    r = CostModel(lambda_mobile=3, lambda_edge=0.5, lambda_cloud=0.25, o_edge=1.5, o_cloud=4,
                  o_edge_cloud=2, mode="recompute")
    np.testing.assert_allclose(r.tier_costs(1, 3, 6), [3, 3 + 1.5 + 3 * 0.5, 3 + 4 + 6 * 0.25])
    assert r.reference_cost(6) == 4 + 6 * 0.25
    assert r.escalation_cost(3, 6) == 2 + 6 * 0.25
    assert c.escalation_cost(3, 6) == 2 + 3 * 0.25


@pytest.mark.parametrize("kwargs, message", [
    ({"o_cloud": -1}, "o_cloud must be finite"),
    ({"lambda_edge": math.nan}, "lambda_edge must be finite"),
    ({"o_edge": math.inf}, "o_edge must be finite"),
    ({"o_edge": "2"}, "must be a number"),
    ({"mode": "teleport"}, "mode must be one of"),
    ({"o_cloud": 0, "lambda_cloud": 0}, "all-in-cloud cost is zero"),
])
def test_invalid_costs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CostModel(**kwargs)


@pytest.mark.parametrize("m, n", [(0, 2), (3, 3), (4, 2), (2, 6)])
def test_invalid_split_points(m, n):
    with pytest.raises(ValueError, match="1 <= m < n < L"):
        CostModel().tier_costs(m, n, 6)


def test_presets_are_valid_and_distinct():
    assert len({p for p in PRESETS.values()}) == len(PRESETS)
    for p in PRESETS.values():
        t = p.tier_costs(2, 4, 6)
        assert t[0] <= t[1] and t[0] <= t[2]
