"""The shipped report's numbers against independent recomputation from the cache arrays."""

import json

import numpy as np
import pytest

from dimee_core.cache import load_cache
from dimee_core.evaluate import DIMEEConfig
from dimee_core.report import frontier_gap
from dimee_core.tune import Candidate, select

from .conftest import ROOT, SHIPPED

RESULTS = json.loads((ROOT / "docs" / "results.json").read_text())


def cascade_by_hand(probs, labels, alpha, m=2, n=4):
    """Independent cascade: default costs mobile 2, edge 6, cloud-via-edge 11; ref 11."""
    conf, pred = probs.max(2), probs.argmax(2)
    at_m, at_n = conf[:, m - 1] >= alpha, conf[:, n - 1] >= alpha
    answer = np.where(at_m, pred[:, m - 1], np.where(at_n, pred[:, n - 1], pred[:, -1]))
    cost = np.where(at_m, 2.0, np.where(at_n, 6.0, 11.0))
    drop = 100 * ((pred[:, -1] == labels).mean() - (answer == labels).mean())
    return 100 * (1 - cost.mean() / 11.0), drop


@pytest.mark.parametrize("name", sorted(RESULTS["datasets"]))
def test_report_cascade_points_recompute(name):
    cache = load_cache(SHIPPED / name)
    d = RESULTS["datasets"][name]
    assert d["final_exit_accuracy"] == pytest.approx(
        (cache.test.probs[:, -1].argmax(1) == cache.test.labels).mean())
    for p in d["points"]:
        if p["method"] != "cascade":
            continue
        red, drop = cascade_by_hand(cache.test.probs, cache.test.labels, p["setting"]["alpha"])
        assert p["test"]["cost_reduction_pct"] == pytest.approx(red)
        assert p["test"]["accuracy_drop_pp"] == pytest.approx(drop)
    for row in d["frontier"]:
        if row["method"] == "cascade":
            alpha = row["value"] if row["protocol"] == "test sweep" else row["setting"]["alpha"]
            red, drop = cascade_by_hand(cache.test.probs, cache.test.labels, alpha)
            assert row["reduction_pct"] == pytest.approx(red)
            assert row["drop_pp"] == pytest.approx(drop)


@pytest.mark.parametrize("name", sorted(RESULTS["datasets"]))
def test_report_dimee_points_recompute(name):
    """Refit the chosen DIMEE/DIMEE+ setting on calibration; test numbers must match."""
    cache = load_cache(SHIPPED / name)
    base = DIMEEConfig.for_cache(cache)
    d = RESULTS["datasets"][name]
    tuned = [{**r, "test": {"accuracy_drop_pp": r["drop_pp"],
                            "cost_reduction_pct": r["reduction_pct"]}}
             for r in d["frontier"] if r["protocol"] == "calibration-tuned"]
    for p in d["points"] + tuned[::4]:  # every point, and a share of the frontier
        if p["method"] == "cascade":
            continue
        s = p["setting"]
        cfg = DIMEEConfig.from_dict({**base.to_dict(), "k": s["k"], "features": s["features"],
                                     "epsilon": s["epsilon"], "safety": s["safety"],
                                     "policy": "budget"})
        r = cfg.router(escalate=p["method"] == "dimee_plus").fit(cache.calibration)
        route = r.route(cache.test)
        pred = cache.test.probs[np.arange(cache.test.n), route.exit_layer - 1].argmax(1)
        final = cache.test.probs[:, -1].argmax(1)
        drop = 100 * ((final == cache.test.labels).mean() - (pred == cache.test.labels).mean())
        assert p["test"]["accuracy_drop_pp"] == pytest.approx(drop)
        assert p["test"]["cost_reduction_pct"] == pytest.approx(100 * (1 - route.cost.mean() / 11))
        if p["method"] == "dimee_plus":
            assert s["beta"] == r.beta_


def test_select_uses_the_confidence_bound():
    cfg = DIMEEConfig()
    cheap_noisy = Candidate(cfg, False, oof_drop_pp=0.2, oof_cost=3.0, oof_se_pp=0.2)
    safe = Candidate(cfg, False, oof_drop_pp=0.0, oof_cost=6.0, oof_se_pp=0.1)
    assert select([cheap_noisy, safe], 0.3, False, z=1.645) is safe
    assert select([cheap_noisy, safe], 0.3, False, z=0.0) is cheap_noisy
    assert select([cheap_noisy], 0.3, False).oof_cost == 3.0  # none feasible: least bound


def test_frontier_gap():
    rows = [{"method": "dimee_plus", "drop_pp": 0.1, "reduction_pct": 40},
            {"method": "cascade", "drop_pp": 0.1, "reduction_pct": 35},
            {"method": "cascade", "drop_pp": 0.0, "reduction_pct": 10},
            {"method": "cascade", "drop_pp": 0.5, "reduction_pct": 45}]
    g = frontier_gap(rows, protocol=None)
    assert (g["points"], g["not_worse"], g["of"]) == (2, 1, 3)
    assert g["worst_gap_pp"] == -5 and g["mean_gap_pp"] == 0
    assert frontier_gap(rows)["points"] == 0  # no row carries the calibration-tuned tag


def test_report_frontier_protocols_cover_every_method():
    for d in RESULTS["datasets"].values():
        seen = {(r["method"], r["protocol"]) for r in d["frontier"]}
        assert seen == {(m, p) for m in ("dimee", "dimee_plus", "cascade")
                        for p in ("calibration-tuned", "test sweep")}


def test_staircase_gaps_match_a_loop_over_points_and_resamples():
    from dimee_core.report import _staircase_gaps

    rng = np.random.default_rng(3)
    md, mr = rng.normal(0.5, 0.5, (7, 9)), rng.uniform(0, 80, (7, 9))
    td, tr = rng.normal(0.5, 0.5, (7, 5)), rng.uniform(0, 80, (7, 5))
    gaps = _staircase_gaps(md, mr, td, tr)
    for b in range(7):
        for t in range(5):
            ok = [mr[b, j] for j in range(9) if md[b, j] <= td[b, t] + 1e-9]
            want = max(ok) - tr[b, t] if ok else np.nan
            np.testing.assert_equal(gaps[b, t], want)


def test_frontier_gap_bootstrap_of_a_method_against_itself_is_never_worse():
    from dimee_core.report import Tuner, frontier_gap_bootstrap
    from dimee_core.tune import cross_validate

    cache = load_cache(SHIPPED / "trec")
    base = DIMEEConfig.for_cache(cache)
    cands = cross_validate(cache.calibration, base, epsilon_grid=(0.3, 1.0), k_grid=(1, 2),
                           feature_grid=("conf",), safety_grid=(0.0,), folds=3)
    tuner = Tuner(cache, base, cands)
    # each point meets itself (gap 0) or a point of its own that is cheaper at no
    # larger drop in that resample (gap > 0): never worse
    same = frontier_gap_bootstrap(tuner, "cascade", "cascade", n_boot=200)
    assert same["mean_gap_ci95"][0] >= 0 and same["significantly_worse"] == 0
    vs = frontier_gap_bootstrap(tuner, n_boot=200)
    assert vs["mean_gap_ci95"][0] <= vs["mean_gap_ci95"][1]


def test_headline_table_is_this_builds_report_or_nothing():
    from dataclasses import replace

    from dimee_core.report import headline_table, load_results

    result = load_results(ROOT / "docs" / "results.json")
    cache = load_cache(SHIPPED / "trec")
    table = headline_table(result, cache)
    points = RESULTS["datasets"]["trec"]["points"]
    assert len(table) == len(points)
    np.testing.assert_allclose(table["reduction"], [p["test"]["cost_reduction_pct"]
                                                    for p in points])
    assert set(table["meets"]) <= {"yes", "no", ""}
    # another build of the same dataset (here: one test sample fewer) gets no numbers
    other = replace(cache, test=cache.test.take(np.arange(cache.test.n - 1)))
    assert headline_table(result, other) is None
    assert headline_table(result, replace(cache, meta={**cache.meta, "name": "x"})) is None


def test_load_results_refuses_what_is_not_a_report(tmp_path):
    from dimee_core.report import load_results

    assert load_results(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert load_results(tmp_path / "bad.json") is None
    (tmp_path / "list.json").write_text("[1, 2]")
    assert load_results(tmp_path / "list.json") is None


def test_headline_table_survives_a_hostile_report():
    from dimee_core.report import headline_table

    cache = load_cache(SHIPPED / "trec")
    for d in ({"n_test": cache.test.n, "final_exit_accuracy": "high", "points": []},
              {"n_test": cache.test.n}, {"n_test": cache.test.n, "points": [{"x": 1}],
                                         "final_exit_accuracy": RESULTS["datasets"]["trec"][
                                             "final_exit_accuracy"]}):
        assert headline_table({"datasets": {"trec": d}}, cache) is None
