"""One objective for the whole selection (dimee_core.objective, unit_answers, unit_store):
candidate costs in a unit against the hand-written physical model, the certified set and
guarantee untouched, all-in-cloud when nothing certified beats it, the stored section's
validation."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import numpy as np
import pytest

from dimee_core import selection, tuned, unit_answers
from dimee_core.config import DIMEEConfig
from dimee_core.objective import Objective, ObjectiveError, reductions, unit_values
from dimee_core.profiles import PRESETS, Device
from dimee_core.splits import fit_part
from dimee_core.unit_answers import MIN_SAVING_PCT, answer

from .conftest import synthetic_split
from .test_profiles import by_hand

GRID = selection.Grid(split_points=((1, 3), (2, 4)), ks=(1, 4), features=("conf",),
                      epsilons=(0.0, 1.0, 4.0), safeties=(0.0,), mus=(1.0,),
                      alphas=(0.7, 0.9, 0.99))
LTE = PRESETS["LTE + cloud GPU"]


@pytest.fixture(scope="module")
def setup():
    cal = synthetic_split(n=600, seed=1)
    cal = replace(cal, lengths=np.random.default_rng(2).integers(3, 60, cal.n).astype(np.int32))
    base = DIMEEConfig(fit_fraction=0.3)
    return cal, base, selection.evaluate_candidates(cal, base, GRID)


def test_a_real_objective_needs_a_profile_and_a_known_name():
    with pytest.raises(ObjectiveError, match="needs a device-and-network profile"):
        Objective("latency_ms")
    with pytest.raises(ObjectiveError, match="objective must be one of"):
        Objective("furlongs", LTE)


@pytest.mark.parametrize("name", ["latency_ms", "latency_p95_ms", "energy_mj", "usd"])
def test_candidate_costs_match_the_hand_model(setup, name):
    cal, base, cands = setup
    fit, held = fit_part(cal, cands.fit_fraction, base.random_state)
    A, B = cal.take(fit), cal.take(held)
    o = Objective(name, LTE)
    values, reference = unit_values(cands, o)
    metric = "latency_ms" if name.startswith("latency") else name
    stat = (lambda v: np.percentile(v, 95)) if name == "latency_p95_ms" else np.mean
    lengths = np.concatenate([A.lengths, B.lengths])
    for i in (0, 5, len(cands.table) - 1, int(np.argmax(cands.table["method"] == "dimee_plus"))):
        r = cands.table.iloc[i]
        hand = []
        for part in (A, B):
            route = cands.routing(i, part)
            esc = route.escalated if route.escalated is not None else np.zeros(part.n, bool)
            hand += [by_hand(LTE, 1 if e else int(t), bool(e), int(T), int(r.m), int(r.n), 6,
                             "resume", 384)[metric]
                     for t, e, T in zip(route.tier, esc, part.lengths)]
        assert values[i] == pytest.approx(stat(np.array(hand)), rel=1e-9)
    ref = [by_hand(LTE, 2, False, int(T), 1, 2, 6, "resume", 384, reference=True)[metric]
           for T in lengths]
    assert reference == pytest.approx(stat(np.array(ref)), rel=1e-9)


def test_the_objective_only_ranks_the_certified_set(setup):
    _, _, cands = setup
    plain = selection.certify(cands, 5.0, 0.1)
    assert plain.ok
    for name in ("latency_ms", "energy_mj", "usd"):
        a = answer(cands, Objective(name, PRESETS["Wi-Fi + edge GPU"]), 5.0, 0.1)
        rec = a.certified  # the same walk: same tests, same certified count, same guarantee
        assert (rec.tested, rec.certified, rec.path_length) == (
            plain.tested, plain.certified, plain.path_length)
        assert rec.guarantee() == plain.guarantee() and rec.p_value <= 0.1
        saved = reductions(cands, a.objective)
        # at least the abstract choice's saving in this unit, and never below all-in-cloud
        assert a.reduction_pct >= max(saved[plain.index], 0.0) - 1e-9
        if a.all_in_cloud:
            assert a.method == "all_in_cloud" and a.reduction_pct == 0.0
        else:
            assert a.reduction_pct == saved[rec.index] >= MIN_SAVING_PCT


def test_all_in_cloud_when_every_setting_costs_more_there(setup):
    _, _, cands = setup
    slow_phone = replace(LTE, phone=Device(ms_per_layer=500.0, watts=2.5))
    a = answer(cands, Objective("latency_ms", slow_phone), 5.0, 0.1)
    # every route runs the phone's m >= 1 layers (500 ms each); all-in-cloud does not
    assert a.all_in_cloud and a.setting() == {"method": "all_in_cloud"}
    assert "costs" in a.reason and "more than all-in-cloud" in a.reason
    assert a.certified.ok  # something was certified; it just does not pay in this unit



def test_a_saving_under_the_margin_is_all_in_cloud(setup, monkeypatch):
    """The margin decides on the calibration saving alone: just above the best certified
    saving, all-in-cloud with the reason; just below it, that setting."""
    _, _, cands = setup
    o = Objective("usd", PRESETS["Wi-Fi + edge GPU"])
    best = answer(cands, o, 5.0, 0.1)
    assert not best.all_in_cloud and best.reduction_pct > 0
    monkeypatch.setattr(unit_answers, "MIN_SAVING_PCT", best.reduction_pct + 0.01)
    a = answer(cands, o, 5.0, 0.1)
    assert a.all_in_cloud and a.reduction_pct == 0.0
    assert f"saves only {best.reduction_pct:.1f} %" in a.reason
    monkeypatch.setattr(unit_answers, "MIN_SAVING_PCT", best.reduction_pct - 0.01)
    assert answer(cands, o, 5.0, 0.1).setting() == best.setting()

ENTRY = {"method": "cascade", "m": 2, "n": 4, "alpha": 0.9, "fit_fraction": 0.3,
         "random_state": 0, "bound_pp": 0.2, "guarantee": "drop ≤ 1 pp",
         "calibration_reduction_pct": 12.5, "why": "",
         "test": {"accuracy": 0.9, "accuracy_drop_pp": 0.1, "drop_ci95": [0.0, 0.3],
                  "value": 10.0, "reference": 20.0, "reduction_pct": 50.0,
                  "shares": {"mobile": 0.5, "edge": 0.1, "cloud": 0.4}, "n_test": 100}}


def _settings(entry):
    return {"m": 2, "n": 4, "units": {"target_pp": 0.3, "delta": 0.1,
                                      "lte": {"energy_mj": entry}}}


def test_the_units_section_round_trips_through_routing_json(tmp_path):
    tuned.save(tmp_path, _settings(ENTRY), 6, 600)
    back = json.loads((tmp_path / "routing.json").read_text())
    assert back["units"]["lte"]["energy_mj"] == ENTRY
    cloud = {"method": "all_in_cloud", "calibration_reduction_pct": 0.0, "why": "x",
             "test": ENTRY["test"]}
    tuned.save(tmp_path, _settings(cloud), 6, 600)


@pytest.mark.parametrize("path, bad, words", [
    (("method",), "magic", "units.lte.energy_mj.method must be one of"),
    (("m",), 7, "m"),
    (("test", "accuracy"), 1.5, "units.lte.energy_mj.test.accuracy"),
    (("test", "shares"), {"mobile": 1.0}, "units.lte.energy_mj.test.shares"),
    (("test", "value"), float("inf"), "units.lte.energy_mj.test.value"),
    (("rm -rf",), 1, "unknown field"),
])
def test_a_bad_stored_answer_is_one_message_naming_it(tmp_path, path, bad, words):
    e = copy.deepcopy(ENTRY)
    target = e
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = bad
    with pytest.raises(ValueError, match=words.replace(".", r"\.")):
        tuned.validate(_settings(e), 6, 600)
    with pytest.raises(ValueError, match="not a preset profile"):
        tuned.validate({"units": {"target_pp": 0.3, "delta": 0.1, "mars": {}}}, 6, 600)
