"""The Overview's answer: method picked on calibration, words that follow the interval,
warnings for risky settings, and label placement that keeps DIMEE visible."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dimee_core import recommendation, summary
from dimee_core.baselines import cascade
from dimee_core.cache import load_cache
from dimee_core.costs import CostModel
from dimee_core.config import DIMEEConfig
from dimee_core.evaluate import evaluate, fit_routers
from dimee_core.metrics import MethodResult
from dimee_core.recommendation import CalibrationPoint as P
from dimee_core.selection import Grid, certify, evaluate_candidates
from tests.conftest import SHIPPED
from ui import charts, labels


def _result(drop=0.0, ci=None, red=40.0, rci=None) -> MethodResult:
    return MethodResult(0.9, 0.9, 6.0, red, drop, {"mobile": .2, "edge": .5, "cloud": .3},
                        ci, rci)


def test_pick_method_picks_among_jointly_certified_settings_only():
    """One walk certified both: the cheaper certified one, whatever its calibration drop
    (the guarantee covers it); ties go to DIMEE. Not jointly certified: DIMEE+, fixed in
    advance, whatever the numbers say (choosing on them would hold only at 2 delta)."""
    cal = {"dimee": P(0.5, 9.0), "dimee_plus": P(0.6, 6.0)}
    both = ("dimee", "dimee_plus")
    assert recommendation.pick_method(cal, 0.3, both, joint=True) == "dimee_plus"
    assert recommendation.pick_method(cal, 0.3, ("dimee",), joint=True) == "dimee"
    tie = {"dimee": P(0.1, 6.0), "dimee_plus": P(0.2, 6.0)}
    assert recommendation.pick_method(tie, 0.3, both, joint=True) == "dimee"
    cheap_dimee = {"dimee": P(0.0, 3.0), "dimee_plus": P(0.2, 6.0)}
    assert recommendation.pick_method(cheap_dimee, 0.3, both, joint=False) == "dimee_plus"
    assert recommendation.pick_method(cheap_dimee, 0.3) == "dimee_plus"


def test_the_stored_target_and_delta_are_what_the_answer_uses():
    cache = load_cache(SHIPPED / "sms-spam")
    d = dict(cache.defaults, target_pp=1.0, delta=0.05, certified=True, joint=True)
    d["dimee_plus"] = dict(d["dimee_plus"], target_pp=1.0, delta=0.05, certified=True,
                           joint=True)
    assert recommendation.stored_target(replace(cache, defaults=d)) == (
        1.0, 0.05, ("dimee", "dimee_plus"), True)
    d["dimee_plus"]["joint"] = False  # tuned before the shared path: no joint claim
    assert recommendation.stored_target(replace(cache, defaults=d))[3] is False


def test_accuracy_words_follow_the_interval():
    assert recommendation.accuracy_words(_result(-0.1, (-0.4, 0.15))).startswith(
        "no measurable accuracy loss")
    assert recommendation.accuracy_words(_result(0.5, (0.1, 0.9))).startswith(
        "an accuracy loss of 0.50 pp")
    assert recommendation.accuracy_words(_result(-0.5, (-0.9, -0.1))).startswith(
        "a gain of 0.50 pp")
    assert "more than all-in-cloud" in recommendation.saving_words(_result(red=-4.2))
    assert "less than all-in-cloud" in recommendation.saving_words(_result(red=4.2))


@pytest.fixture(scope="module")
def trec():
    return load_cache(SHIPPED / "trec")


@pytest.mark.slow
def test_recommend_matches_an_independent_computation(trec):
    cfg = DIMEEConfig.for_cache(trec)
    rec = summary.recommend(trec, cfg, n_boot=0)
    ev = evaluate(trec, cfg, n_boot=0)
    for m in ("dimee", "dimee_plus"):
        assert rec.test[m].cost_reduction_pct == pytest.approx(
            ev.methods[m].cost_reduction_pct)
        assert rec.test[m].accuracy_drop_pp == pytest.approx(ev.methods[m].accuracy_drop_pp)
    # the method and the cascade's alpha come from calibration only
    dimee, plus = fit_routers(trec, cfg)
    cal = trec.calibration
    cost = {"dimee": dimee.route(cal).cost.mean(), "dimee_plus": plus.route(cal).cost.mean()}
    assert rec.calibration["dimee_plus"].mean_cost == pytest.approx(cost["dimee_plus"])
    only_cascade = Grid(split_points=((cfg.m, cfg.n),), methods=("cascade",))
    certified = certify(evaluate_candidates(cal, cfg, only_cascade), recommendation.TARGET_PP,
                        0.1, "cascade")
    alpha = certified.config.alpha if certified.ok else 1.01
    assert rec.cascade_alpha == alpha
    c = cascade(trec.test.probs, alpha, cfg.m, cfg.n, cfg.costs)
    ref = cfg.costs.reference_cost(trec.num_layers)
    assert rec.test["cascade"].cost_reduction_pct == pytest.approx(
        100 * (1 - c.cost.mean() / ref))
    within = [m for m in cost if rec.calibration[m].drop_pp <= recommendation.TARGET_PP]
    assert rec.method == min(within, key=cost.get)
    assert rec.cloud_accuracy == pytest.approx(
        (trec.test.probs[:, -1].argmax(1) == trec.test.labels).mean())
    table = summary.summary_table([rec, rec])
    assert len(table) == 2 and table["dimee_plus_reduction_pct"].iloc[0] == pytest.approx(
        rec.test["dimee_plus"].cost_reduction_pct)
    text = recommendation.headline(rec)
    assert text.startswith(f"**{'DIMEE+' if rec.method == 'dimee_plus' else 'DIMEE'}**")


@pytest.mark.slow
def test_risks_name_a_setting_worse_than_all_in_cloud(trec):
    ev = evaluate(trec, DIMEEConfig.for_cache(trec, policy="reward", mu=1.0), n_boot=200)
    assert ev.methods["dimee"].accuracy_drop_pp > 10  # the issue's +17.8 pp setting
    msgs = summary.risks(ev)
    assert any(m.startswith("DIMEE loses") for m in msgs)
    rt = load_cache(SHIPPED / "rt-snippets")
    ev = evaluate(rt, DIMEEConfig.for_cache(rt, costs=CostModel(mode="recompute")),
                  n_boot=200)
    assert ev.methods["dimee"].cost_reduction_pct < 0
    assert any("more than sending everything" in m and "recompute" in m
               for m in summary.risks(ev))
    assert summary.risks(evaluate(rt, DIMEEConfig.for_cache(rt), n_boot=200)) == []


def _boxes(xs, ys, texts, spots, w=700, h=300, char=7.5, line=16, r=9):
    """Independent pixel boxes of the placed labels (same plot-size estimate)."""
    def px(v, size):
        lo, hi = min(v), max(v)
        pad = 0.08 * ((hi - lo) or 1)
        return [size * (x - lo + pad) / (hi - lo + 2 * pad) for x in v]
    out = []
    for x, y, t, s in zip(px(xs, w), px(ys, h), texts, spots):
        dx, dy = labels._LABEL_SPOTS[s]
        bw = char * len(t)
        cx, cy = x + dx * (bw / 2 + r), y + dy * (line / 2 + r)
        out.append((cx - bw / 2, cy - line / 2, cx + bw / 2, cy + line / 2))
    return out


def test_coincident_points_get_labels_that_do_not_overlap():
    xs, ys = [5.25, 5.25, 0.0, 40.2, 81.8], [-0.1, 0.0, 0.0, 0.1, 10.35]
    texts = ["DIMEE", "Random (DIMEE shares)", "All in cloud", "DIMEE+", "Mobile only"]
    spots = labels.label_positions(xs, ys, texts)
    boxes = _boxes(xs, ys, texts, spots)
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert labels._overlap(boxes[i], boxes[j]) == 0, (texts[i], texts[j])


def test_methods_scatter_draws_dimee_on_top():
    # mobile-only's 10 pp drop squeezes the others into a few pixels (rt-snippets)
    table = pd.DataFrame({"key": ["dimee", "dimee_plus", "random", "all_in_cloud",
                                  "mobile_only"],
                          "method": ["DIMEE", "DIMEE+", "Random", "All in cloud", "Mobile"],
                          "cost_reduction_pct": [5.25, 40.0, 5.25, 0.0, 81.8],
                          "accuracy_drop_pp": [-0.1, 0.1, 0.0, 0.0, 10.35]})
    fig = charts.methods_scatter(table)
    names = [t.name for t in fig.data]
    assert names.index("DIMEE") > names.index("Random")  # later trace = drawn on top
    pos = {t.name: t.textposition for t in fig.data}
    assert pos["DIMEE"] != pos["Random"]
    assert np.isfinite([t.x[0] for t in fig.data]).all()


def test_text_summaries_carry_the_numbers():
    s = {"mobile": 0.13, "edge": 0.65, "cloud": 0.22}
    text = charts.sankey_summary("DIMEE+", s, 0.2)
    assert "13 % are answered there, 65 % on the edge and 22 % in the cloud" in text
    assert "20 % of all requests reach the cloud through the edge" in text
    assert charts.shares_summary({"A": s}) == "A: 13 % mobile, 65 % edge, 22 % cloud."


@pytest.mark.slow
def test_stored_dimee_plus_cascade_runs_as_that_cascade(trec):
    """A DIMEE+ setting that `tune` stored as a cascade must be scored as exactly that
    cascade (m, n, α), not as the DIMEE+ router at DIMEE's split points: the bug this
    catches reported an uncertified DIMEE+ at m=1, n=2 as the certified setting."""
    import dataclasses

    cache = dataclasses.replace(trec, defaults={**trec.defaults, "dimee_plus": {
        "method": "cascade", "m": 3, "n": 5, "alpha": 0.95}})
    plus = DIMEEConfig.for_cache(cache, "dimee_plus")
    assert (plus.m, plus.n, plus.alpha, plus.as_cascade) == (3, 5, 0.95, True)
    ev = evaluate(cache, n_boot=0)
    conf = trec.test.probs.max(2).astype(np.float64)  # independent cascade: phone at 3, edge at 5, else cloud
    layer = np.where(conf[:, 2] >= 0.95, 3, np.where(conf[:, 4] >= 0.95, 5, 6))
    pred = trec.test.probs[np.arange(trec.test.n), layer - 1].argmax(1)
    assert ev.methods["dimee_plus"].accuracy == pytest.approx((pred == trec.test.labels).mean())
    assert np.array_equal(ev.routings["dimee_plus"].exit_layer, layer)
    c = CostModel()  # resume mode: 3 phone layers, o_edge + 2 edge layers, o_ec + 1 cloud
    cost = np.select([layer == 3, layer == 5], [3, 3 + c.o_edge + 2], 3 + c.o_edge + 2
                     + c.o_edge_cloud + 1)
    assert ev.methods["dimee_plus"].mean_cost == pytest.approx(cost.mean())
    rec = summary.recommend(cache, n_boot=0)
    assert rec.test["dimee_plus"].cost_reduction_pct == pytest.approx(
        ev.methods["dimee_plus"].cost_reduction_pct)
    assert "every cluster gated at α = 0.95" in recommendation.setting_words(rec.plus_config)


def test_a_zero_saving_is_said_with_its_reason_in_the_same_sentence():
    from dimee_core.metrics import MethodResult

    cloud = MethodResult(0.86, 0.85, 11.0, 0.0, 0.0, {"mobile": 0.0, "edge": 0.0, "cloud": 1.0})
    some = MethodResult(0.86, 0.85, 9.9, 10.0, 0.0, {"mobile": 0.1, "edge": 0.0, "cloud": 0.9})
    rec = recommendation.Recommendation("d", "d", DIMEEConfig(), "dimee", 0.3, 1.01, {},
                                 {"dimee": cloud, "dimee_plus": some, "cascade": cloud},
                                 2000, 0.86, {})
    first = recommendation.headline(rec).split(". ")[0]
    assert "saves nothing" in first and "nothing cheaper than sending every request to " \
        "the cloud could be certified" in first and "0.3 pp target" in first
    cells = summary.summary_table([rec]).iloc[0]
    assert cells["dimee"].startswith("0.0 %") and "nothing cheaper certified" in cells["dimee"]
    assert cells["dimee_plus"] == "10.0 % · +0.00 pp"


@pytest.mark.slow
def test_a_router_that_sends_everything_to_the_cloud_says_why():
    """The stored rt-snippets DIMEE setting (k = 1, ε = 0) sends every test request to
    the cloud: the reason names its own knobs."""
    rt = load_cache(SHIPPED / "rt-snippets")
    cfg = DIMEEConfig.for_cache(rt, m=1, n=2, k=1, policy="budget", epsilon=0.0, safety=0.0)
    ev = evaluate(rt, cfg, n_boot=0)
    assert recommendation.all_to_cloud(ev.methods["dimee"])
    assert recommendation.cloud_reason(cfg) == ("because no cluster's cheaper tier keeps the "
                                         "calibration accuracy within the ε = 0 pp budget "
                                         "with a single cluster")
    assert "μ = 0.1" in recommendation.cloud_reason(replace(cfg, policy="reward", mu=0.1))


def test_coincident_points_share_one_label():
    got = labels.coincident_labels([0.0, 0.0, 0.05, 22.0, 80.0], [0.0, 0.0, 0.001, 0.0, 8.0],
                                   ["DIMEE", "All in cloud", "Random", "DIMEE+", "Mobile"])
    assert got == ["DIMEE<br>= All in cloud<br>= Random", "", "", "DIMEE+", "Mobile"]
