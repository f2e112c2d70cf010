"""The dashboard in real units: unit switch, profile picker/editor, SLA and split sweep."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dimee_core.cache import load_cache
from dimee_core.evaluate import DIMEEConfig, evaluate
from dimee_core.profiles import PRESETS, profile_json, summarise
from dimee_core.tokens import with_lengths

from .test_app_pages import APP, TIMEOUT, _clean


def _metric(at, label):
    return next(m for m in at.metric if m.label == label).value


@pytest.fixture(scope="module")
def at() -> AppTest:
    a = AppTest.from_file(APP, default_timeout=TIMEOUT)
    a.query_params["unit"] = "ms"
    return a.run()


def test_unit_switch_puts_the_kpis_in_ms(at):
    _clean(at)
    shown = _metric(at, "Mean latency")
    cache, _ = with_lengths(load_cache("cache/rt-snippets"))
    ev = evaluate(cache, DIMEEConfig.for_cache(cache), n_boot=0)
    r = ev.routings["dimee"]
    expected = summarise(PRESETS["LTE + cloud GPU"], r.tier, r.escalated,
                         cache.test.lengths, ev.config.m, ev.config.n, 6).latency_ms["mean"]
    assert shown == f"{expected:.1f} ms"
    assert any(m.label == "DIMEE+ Mean latency" for m in at.metric)
    at.sidebar.radio(key="unit").set_value("$").run()
    _clean(at)
    assert _metric(at, "Money").startswith("$")
    at.sidebar.radio(key="unit").set_value("abstract").run()
    assert any(m.label == "Mean cost" for m in at.metric)
    at.sidebar.radio(key="unit").set_value("ms").run()


def test_uplink_action_and_a_bad_edit_keeps_the_previous_profile(at):
    before = _metric(at, "Mean latency")
    at.sidebar.button(key="pf_act_1").click().run()  # uplink / 3: slower
    _clean(at)
    assert at.session_state["_profile"].phone_cloud.uplink_mbps == pytest.approx(2.0)
    slower = _metric(at, "Mean latency")
    assert float(slower.split()[0]) > float(before.split()[0])
    good = at.session_state["_profile"]
    at.sidebar.number_input(key="pf.phone_cloud.uplink_mbps").set_value(0.0).run()
    assert at.session_state["_profile"] == good  # refused: bandwidth must be above 0
    msg = [e.value.replace("\\", "") for e in at.sidebar.error]  # Markdown-escaped
    assert msg and "phone → cloud link: uplink bandwidth (Mbit/s) must be above 0" in msg[0]
    assert "uplink_mbps" not in msg[0]
    assert at.sidebar.number_input(key="pf.phone_cloud.uplink_mbps").value == pytest.approx(2.0)
    at.sidebar.button(key="pf_act_0").click().run()  # x3 back, clears the error
    assert not at.sidebar.error


def test_unknown_unit_in_the_url_falls_back_with_a_message():
    a = AppTest.from_file(APP, default_timeout=TIMEOUT)
    a.query_params["unit"] = "furlongs"
    a.run()
    assert not a.exception
    assert a.session_state["unit"] == "abstract"
    assert any("unit='furlongs'" in w.value for w in a.warning)


def test_what_if_latency_chart_sla_and_best_split(at):
    at.switch_page("pages/whatif.py").run()
    _clean(at)
    assert at.number_input(key="sla_ms") is not None
    at.number_input(key="sla_ms").set_value(150.0).run()
    at.toggle(key="net_go").set_value(True).run()
    _clean(at)
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("SLA: p95" in s for s in charts)  # the SLA line on the latency chart
    assert any("mobile split m" in s for s in charts)  # the (m, n) heatmap
    assert any("For **" in m.value for m in at.success)
    at.number_input(key="sla_ms").set_value(0.5).run()  # below the phone's own latency
    assert any("No split can meet the latency target" in e.value for e in at.error)
    assert not at.exception


