"""The Overview in real units says which tier pays off and why, names the radio tail
(with its source) under energy figures it dominates, and shows money per million
requests in the KPI itself (AppTest)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dimee_core.payoff import SOURCE

from .test_app_pages import APP, TIMEOUT, _clean

pytestmark = pytest.mark.slow  # AppTest: each test runs the app (seconds)


def _overview(unit: str, pf: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(unit=unit, pf=pf)
    return at.run()


def test_lte_energy_says_only_the_phone_pays_off_and_names_the_tail():
    at = _overview("mJ", "lte")
    _clean(at)
    boxes = [i.value for i in at.info if "Which tier pays off" in i.value]
    assert len(boxes) == 1
    assert "Neither the edge nor going on to the cloud after the phone pays off" in boxes[0]
    notes = [c.value for c in at.caption if "promotion and tail" in c.value]
    assert notes and all(SOURCE in n for n in notes)
    assert any(n.startswith("Phone energy: ") for n in notes)  # DIMEE's own KPI row


def test_money_kpi_reads_per_million_requests():
    at = _overview("$", "wifi")
    _clean(at)
    money = [m.value for m in at.metric if m.label.endswith("Money")]
    assert money and all(v.startswith("$") and v.endswith(" per 1 M requests")
                         for v in money)
    assert not [c.value for c in at.caption if "promotion and tail" in c.value]


def test_the_optimiser_chooses_in_the_unit(tmp_path):
    """What-if's optimiser in $ (LTE): the certified setting with the least money, its
    calibration saving in $ checked against the profile's own per-sample model; in mJ on
    Wi-Fi nothing certified beats all-in-cloud, and it says so."""
    import re

    import numpy as np

    from dimee_core import selection
    from dimee_core.cache import load_cache
    from dimee_core.config import DIMEEConfig
    from dimee_core.objective import Objective
    from dimee_core.profiles import PRESETS, summarise
    from dimee_core.unit_answers import answer
    from dimee_core.splits import fit_part

    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(unit="$", pf="lte")
    at.switch_page("pages/whatif.py").run()
    at.number_input(key="opt_target").set_value(0.3)
    at.button(key="opt_go").click().run()
    _clean(at)
    msg = next(s.value for s in at.success if s.value.startswith("Guaranteed"))
    saved = float(re.search(r"([-\d.]+) % less money than all-in-cloud on calibration",
                            msg).group(1))
    cache = load_cache("cache/rt-snippets")
    cands = selection.evaluate_candidates(cache.calibration,
                                          DIMEEConfig(alpha=at.session_state["alpha"]))
    fit, held = fit_part(cache.calibration, cands.fit_fraction, 0)
    lte = PRESETS["LTE + cloud GPU"]
    ref = summarise(lte, np.zeros(cache.calibration.n, int), None, cache.calibration.lengths,
                    1, 2, 6, reference=True).money_per_million

    def money_saved(rec) -> float:  # on calibration, by the profile's per-request model
        total = 0.0
        for part in (cache.calibration.take(fit), cache.calibration.take(held)):
            r = cands.routing(rec.index, part)
            total += part.n * summarise(lte, r.tier, r.escalated, part.lengths, rec.config.m,
                                        rec.config.n, 6).money_per_million
        return 100 * (1 - total / cache.calibration.n / ref)

    chosen = answer(cands, Objective("usd", lte), 0.3, 0.1).certified
    assert saved == pytest.approx(money_saved(chosen), abs=0.05)
    # at least what the setting chosen in abstract units saves in money
    assert money_saved(chosen) >= money_saved(selection.certify(cands, 0.3, 0.1)) - 1e-9
    energy = AppTest.from_file(APP, default_timeout=300)  # Wi-Fi, phone energy: nothing
    energy.query_params.update(unit="mJ", pf="wifi")  # certified saves (README table)
    energy.switch_page("pages/whatif.py").run()
    energy.number_input(key="opt_target").set_value(0.3)
    energy.button(key="opt_go").click().run()
    assert any("the answer is **all in the cloud**" in w.value for w in energy.warning)


def _stored(unit_key: str, slug: str) -> dict:
    import json

    objective = {"ms": "latency_ms", "mJ": "energy_mj", "$": "usd"}[unit_key]
    return json.load(open("cache/rt-snippets/routing.json"))["units"][slug][objective]


def test_the_overview_reads_the_answer_tune_stored_for_the_unit():
    from ui.unit_answer import LABELS

    e = _stored("mJ", "lte")
    at = _overview("mJ", "lte")
    _clean(at)
    name = LABELS[e["method"]]
    shown = {m.label: m.value for m in at.metric}
    assert shown[f"{name} Phone energy"] == f"{e['test']['value']:,.0f} mJ"
    assert shown[f"{name} Phone energy reduction"] == f"{e['test']['reduction_pct']:.1f} %"
    assert shown[f"{name} Accuracy"] == f"{100 * e['test']['accuracy']:.2f} %"
    assert any(m.value.startswith("Under **LTE") and "cuts phone energy by" in m.value
               for m in at.markdown)
    cloud = _stored("mJ", "wifi")
    assert cloud["method"] == "all_in_cloud"
    at = _overview("mJ", "wifi")
    _clean(at)
    assert any("the answer is **All in cloud**" in m.value for m in at.markdown)
    shown = {m.label: m.value for m in at.metric}
    assert shown["All in cloud Phone energy reduction"] == "0.0 %"


def test_an_edited_profile_has_no_stored_answer_and_says_so():
    at = _overview("ms", "lte~pc.rtt_90")
    _clean(at)
    assert any("No answer is stored for this profile" in c.value for c in at.caption)
