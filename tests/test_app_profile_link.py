"""The profile travels in the URL (AppTest): a link with an edited profile reproduces its
KPIs, an edit is mirrored into the URL, and a bad URL profile falls back to its preset
with one visible warning in the sidebar's words."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dimee_core.cache import load_cache
from dimee_core.evaluate import DIMEEConfig, evaluate
from dimee_core.profile_code import decode, encode
from dimee_core.profiles import PRESETS, label, summarise
from dimee_core.tokens import with_lengths

from .test_app_pages import APP, TIMEOUT, _clean

pytestmark = pytest.mark.slow  # AppTest: each test runs the app (seconds)


def _shown(text: str) -> str:
    """What a message reads as: Markdown escapes and the autolink-breaking joiners gone."""
    return text.replace("\\", "").replace("\u2060", "")


def _open(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def _url(at: AppTest, key: str) -> str | None:
    if key not in at.query_params:
        return None
    v = at.query_params[key]
    return v[0] if isinstance(v, list) else v


def _metric(at, label_):
    return next(m for m in at.metric if m.label == label_).value


def _expected_latency(profile) -> float:
    """DIMEE's mean test latency at the cache's defaults, computed in the core alone."""
    cache, _ = with_lengths(load_cache("cache/rt-snippets"))
    ev = evaluate(cache, DIMEEConfig.for_cache(cache), n_boot=0)
    r = ev.routings["dimee"]
    return summarise(profile, r.tier, r.escalated, cache.test.lengths, ev.config.m,
                     ev.config.n, cache.num_layers).latency_ms["mean"]


def test_a_link_with_an_edited_profile_reproduces_its_kpis():
    code = "wifi~pc.rtt_70~pc.up_3"
    at = _open({"unit": "ms", "pf": code})
    _clean(at)
    assert not [w.value for w in at.warning if "URL parameter" in w.value]
    p = decode(code)
    assert at.session_state["_profile"] == p
    assert p.phone_cloud.rtt_ms == 70.0 and p.phone_cloud.uplink_mbps == 3.0
    assert _metric(at, "Mean latency") == f"{_expected_latency(p):.1f} ms"
    at.run()  # arrival rewrites the URL in the browser only; a later run shows it here
    assert _url(at, "pf") == code  # written back unchanged
    # an edit in the editor moves the URL with it
    at.sidebar.number_input(key="pf.phone_edge.rtt_ms").set_value(9.0).run()
    _clean(at)
    assert at.session_state["_profile"].phone_edge.rtt_ms == 9.0
    assert _url(at, "pf") == "wifi~pe.rtt_9~pc.rtt_70~pc.up_3"  # parts in the editor's order
    assert encode(at.session_state["_profile"]) == _url(at, "pf")


def test_a_preset_link_is_its_slug_and_abstract_default_links_stay_short():
    at = _open({"unit": "mJ", "pf": "wifi"})
    _clean(at)
    assert at.session_state["_profile"] == PRESETS["Wi-Fi + edge GPU"]
    at.run()  # arrival rewrites the URL in the browser only; a later run shows it here
    assert _url(at, "pf") == "wifi" and _url(at, "unit") == "mJ"
    at.sidebar.radio(key="unit").set_value("abstract").run()
    assert _url(at, "pf") == "wifi"  # not the default profile: still carried
    plain = _open({})
    plain.sidebar.radio(key="unit").set_value("ms").run()
    assert _url(plain, "pf") == "lte"
    plain.sidebar.radio(key="unit").set_value("abstract").run()
    assert _url(plain, "pf") is None  # abstract and the default preset: nothing to carry


def test_a_bad_url_profile_falls_back_to_its_preset_with_a_warning():
    at = _open({"unit": "ms", "pf": "wifi~pc.rtt_-3"})
    assert not at.exception
    assert at.session_state["_profile"] == PRESETS["Wi-Fi + edge GPU"]
    warned = [_shown(w.value) for w in at.warning if "URL parameter pf" in w.value]
    assert len(warned) == 1, warned
    assert label("phone_cloud", "rtt_ms") + " must be at least 0" in warned[0]
    assert "Wi-Fi + edge GPU" in warned[0] and "rtt_ms" not in warned[0]
    assert _metric(at, "Mean latency") == f"{_expected_latency(PRESETS['Wi-Fi + edge GPU']):.1f} ms"


def test_a_free_cloud_in_the_url_is_refused_in_words():
    at = _open({"unit": "$", "pf": "lte~cl.uh_0"})
    assert not at.exception
    assert at.session_state["_profile"] == PRESETS["LTE + cloud GPU"]
    warned = [_shown(w.value) for w in at.warning if "URL parameter pf" in w.value]
    assert len(warned) == 1 and "costs no money" in warned[0]
    assert label("cloud", "usd_per_hour") in warned[0] and "usd_per_hour" not in warned[0]


def test_compare_scores_each_scenario_under_its_own_profile():
    import json

    from ui import settings

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["unit"] = "ms"
    at.switch_page("pages/compare.py").run()
    _clean(at)
    assert (at.session_state["cmp_a_pf"], at.session_state["cmp_b_pf"]) == ("5g", "congested")
    cache, _ = with_lengths(load_cache("cache/rt-snippets"))
    shown = [m.value for m in at.metric if m.label == "DIMEE Mean latency"]
    for side, value in zip("ab", shown):
        values = {k: at.session_state[f"cmp_{side}_{k}"] for k in settings.SETTINGS}
        ev = evaluate(cache, settings.config_from(cache, values), n_boot=0)
        r, c = ev.routings["dimee"], ev.config
        p = decode(at.session_state[f"cmp_{side}_pf"])
        expected = summarise(p, r.tier, r.escalated, cache.test.lengths, c.m, c.n,
                             cache.num_layers).latency_ms["mean"]
        assert value == f"{expected:.1f} ms"
    at.run()  # arrival rewrites the URL in the browser only; a later run shows it here
    doc = json.loads(_url(at, "cmp"))
    assert [s["profile"] for s in doc["scenarios"]] == ["5g", "congested"]
    doc["scenarios"][1]["profile"] = "wifi~pc.rtt_70"
    again = AppTest.from_file(APP, default_timeout=TIMEOUT)
    again.query_params.update(unit="ms", cmp=json.dumps(doc))
    again.switch_page("pages/compare.py").run()
    _clean(again)
    assert again.session_state["cmp_b_pf"] == "wifi~pc.rtt_70"
    doc["scenarios"][1]["profile"] = "wifi~pc.tail_-1"
    bad = AppTest.from_file(APP, default_timeout=TIMEOUT)
    bad.query_params["cmp"] = json.dumps(doc)
    bad.switch_page("pages/compare.py").run()
    assert not bad.exception
    warned = [_shown(w.value) for w in bad.warning if "cmp" in w.value]
    assert len(warned) == 1 and "scenario 2: profile: " + label(
        "phone_cloud", "radio_tail_mj") in warned[0]


def test_the_editor_refuses_a_free_cloud_in_words_and_keeps_the_profile():
    at = _open({"unit": "$"})
    _clean(at)
    before = at.session_state["_profile"]
    at.sidebar.number_input(key="pf.cloud.usd_per_hour").set_value(0.0).run()
    assert at.session_state["_profile"] == before
    msg = [_shown(e.value) for e in at.sidebar.error]
    assert len(msg) == 1 and "costs no money" in msg[0]
    assert label("cloud", "usd_per_hour") in msg[0] and "usd_per_hour" not in msg[0]
    assert at.sidebar.number_input(key="pf.cloud.usd_per_hour").value == before.cloud.usd_per_hour
