"""ui.optimiser's pure parts: the verdict's colour and words, figures, click parsing."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dimee_core import selection
from dimee_core.evaluate import DIMEEConfig
from dimee_core.metrics import MethodResult
from ui import optimiser


def _rec(ok: bool = True, target: float = 0.3) -> selection.Recommendation:
    cfg = DIMEEConfig(m=3, n=5, alpha=0.95, fit_fraction=0.3)
    return selection.Recommendation(
        family="any", target_pp=target, delta=0.1, index=0 if ok else None,
        method="cascade" if ok else None, config=cfg if ok else None,
        p_value=0.04 if ok else None, bound_pp=0.22 if ok else None,
        held_out_drop_pp=0.0 if ok else None, reduction_pct=40.0 if ok else None,
        n_fit=600, n_held_out=1400, tested=3, certified=2, path_length=9,
        message="Certified." if ok else "No setting can be guaranteed: too few samples.")


def _result(drop: float) -> MethodResult:
    return MethodResult(0.9, 0.9, 6.0, 45.0, drop, {"mobile": 0.5, "edge": 0.2, "cloud": 0.3})


def test_green_only_when_certified_and_within_target_on_test():
    ok = optimiser.verdict(_rec(), _result(0.25))
    assert ok.kind == "success"
    assert "accuracy drop vs all-in-cloud ≤ 0.3 pp with 90 % confidence" in ok.text
    assert "+0.22 pp" in ok.text and "cascade at α = 0.95, m = 3, n = 5" in ok.text
    over = optimiser.verdict(_rec(), _result(0.35))
    assert over.kind == "error" and "Overshoot on the test split" in over.text
    assert "+0.35 pp > target 0.3 pp" in over.text
    none = optimiser.verdict(_rec(ok=False), None)
    assert none.kind == "warning" and none.text.startswith("No setting can be guaranteed")


def test_frontier_draws_the_target_band_bounds_and_indices():
    recs = [_rec(), _rec()]
    recs[1] = selection.Recommendation(**{**recs[1].__dict__, "index": 7, "bound_pp": 0.8,
                                          "held_out_drop_pp": 0.5, "reduction_pct": 55.0})
    fig = optimiser.frontier(recs, 0.3)
    trace = fig.data[0]
    assert list(trace.x) == [40.0, 55.0]
    np.testing.assert_allclose(trace.error_y.array, [0.22, 0.3])
    assert [c[0] for c in trace.customdata] == [0, 7]
    band = fig.layout.shapes[0]
    assert band.y1 == 0.3


def test_clicked_index_reads_the_candidate_of_the_point():
    assert optimiser.clicked_index({"selection": {"points": [{"customdata": [12, 1.0, 0.5]}]}}) == 12
    assert optimiser.clicked_index({"selection": {"points": []}}) is None
    assert optimiser.clicked_index(None) is None


def test_heatmap_places_each_split_point_and_rings_the_choice():
    table = pd.DataFrame({"m": [1, 1, 2], "n": [2, 3, 3], "reduction_pct": [10.0, np.nan, 30.0],
                          "method": ["dimee", None, "cascade"], "bound_pp": [0.1, None, 0.2]})
    fig = optimiser.heatmap(table, (2, 3))
    z = np.array(fig.data[0].z, dtype=float)
    assert z[0, 0] == 10.0 and np.isnan(z[0, 1]) and z[1, 1] == 30.0
    assert fig.data[0].text[1][0] == "–" and len(fig.layout.shapes) == 1
