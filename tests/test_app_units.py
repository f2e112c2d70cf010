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

pytestmark = pytest.mark.slow  # AppTest: each test runs the app (seconds)


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
    msg = [e.value.replace("\\", "").replace("\u2060", "")  # Markdown-escaped, unlinked
           for e in at.sidebar.error]
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




# ---------------------------------------------------------------- every page in the unit
# Expected numbers come from dimee_core alone (recommend / evaluate / summarise), never
# from ui/: a page that shows an abstract figure under a real-unit label fails them.

def _rt():
    cache, _ = with_lengths(load_cache("cache/rt-snippets"))
    return cache, DIMEEConfig.for_cache(cache)


def _figure(cache, cfg, routing, unit, reference=False):
    s = summarise(PRESETS["LTE + cloud GPU"], routing.tier, routing.escalated,
                  cache.test.lengths, cfg.m, cfg.n, cache.num_layers, cfg.costs.mode,
                  cfg.hidden_size, reference=reference)
    return {"ms": s.latency_ms["mean"], "mJ": s.phone_energy_mj["mean"],
            "$": s.money_per_million}[unit]


SHOWN = {"ms": ("Mean latency", "Latency reduction", "{:.1f} ms"),
         "mJ": ("Phone energy", "Phone energy reduction", "{:,.0f} mJ"),
         "$": ("Money", "Money reduction", "${:,.3f} per 1 M requests")}


@pytest.mark.parametrize("unit", ["ms", "mJ", "$"])
def test_overview_recommended_answer_is_in_the_unit(at, unit):
    from dimee_core.config import METHOD_LABELS
    from dimee_core.summary import recommend

    cache, _ = _rt()
    rec = recommend(cache, n_boot=0)  # the stored settings (DIMEE+ at its own)
    cfg, routing = rec.chosen_config, rec.routings[rec.method]
    own = _figure(cache, cfg, routing, unit)
    ref = _figure(cache, cfg, routing, unit, reference=True)
    at.switch_page("pages/overview.py")
    at.sidebar.radio(key="unit").set_value(unit).run()
    _clean(at)
    label, red_label, fmt = SHOWN[unit]
    name = METHOD_LABELS[rec.method]
    # the answer's KPI row comes first on the page (DIMEE+ at your settings later)
    assert _metric(at, f"{name} {label}") == fmt.format(own)
    assert _metric(at, f"{name} {red_label}") == f"{100 * (1 - own / ref):.1f} %"
    noun = {"ms": "latency", "mJ": "phone energy", "$": "money"}[unit]
    headline = next(m.value for m in at.markdown if m.value.startswith(f"**{name}**"))
    assert f"{noun} by {abs(100 * (1 - own / ref)):.1f} % against all-in-cloud" in headline
    assert not any(m.label.endswith("Mean cost") for m in at.metric)  # no abstract KPI left
    table = at.table[0].value  # every shipped data set, in the unit too
    assert table.loc["rt\\-snippets", name].startswith(  # names are Markdown-escaped
        f"{100 * (1 - own / ref):.1f} %")
    at.sidebar.radio(key="unit").set_value("ms").run()


def test_compare_kpis_and_difference_are_in_the_unit_under_one_profile(at):
    from dataclasses import replace

    from dimee_core.costs import PRESETS as COSTS

    cache, cfg = _rt()
    at.sidebar.radio(key="unit").set_value("ms").run()
    at.switch_page("pages/compare.py").run()
    at.number_input(key="cmp_b_m").set_value(3).run()  # n follows: 4
    at.number_input(key="cmp_b_k").set_value(4).run()
    for side in "ab":  # each scenario starts on its own network: both on the sidebar's
        at.selectbox(key=f"cmp_{side}_pf").set_value("lte").run()
    _clean(at)
    assert [at.session_state[f"cmp_b_{k}"] for k in "mnk"] == [3, 4, 4]
    expected = {}
    for side, preset, split in (("a", "5G: cheap uplink", {}),
                                ("b", "Congested uplink", dict(m=3, n=4, k=4))):
        c = replace(cfg, costs=COSTS[preset], **split)
        ev = evaluate(cache, c, n_boot=0)
        expected[side] = {k: _figure(cache, c, ev.routings[k], "ms")
                          for k in ("dimee", "dimee_plus")}
    shown = [m.value for m in at.metric if m.label == "DIMEE Mean latency"]
    assert shown == [f"{expected[s]['dimee']:.1f} ms" for s in "ab"]
    shown = [m.value for m in at.metric if m.label == "DIMEE+ Mean latency"]
    assert shown == [f"{expected[s]['dimee_plus']:.1f} ms" for s in "ab"]
    assert expected["a"]["dimee"] != pytest.approx(expected["b"]["dimee"])
    diff = at.dataframe[0].value
    row = diff[(diff["method"] == "DIMEE+")
               & (diff["kpi"] == "Mean latency per request (ms)")].iloc[0]
    assert row["5G"] == pytest.approx(expected["a"]["dimee_plus"])
    assert row["difference"] == pytest.approx(expected["b"]["dimee_plus"]
                                              - expected["a"]["dimee_plus"])
    assert not diff["kpi"].str.contains("layer-equivalents|Cost reduction").any()
    caption = next(c.value for c in at.caption if "Both scenarios" in c.value)
    assert "one profile" in caption and "directly comparable" in caption
    assert not any("each scenario's own units" in c.value for c in at.caption)
    # how costs are shown is the sidebar's choice, not a scenario knob
    assert not [w for w in at.selectbox if w.key in ("cmp_a_unit", "cmp_b_unit")]
    at.switch_page("pages/overview.py").run()


def test_samples_per_request_cost_is_the_requests_own_latency(at):
    from dimee_core.profiles import route_polynomials

    cache, cfg = _rt()
    at.switch_page("pages/samples.py").run()
    _clean(at)
    table = at.dataframe[0].value
    routing = evaluate(cache, cfg, n_boot=0).routings["dimee"]
    polys = route_polynomials(PRESETS["LTE + cloud GPU"], "latency_ms", cfg.m, cfg.n,
                              cache.num_layers, cfg.costs.mode, cfg.hidden_size)
    want = polys.per_sample(routing.tier, routing.escalated, cache.test.lengths)
    np.testing.assert_allclose(table["latency_ms"].to_numpy(), want[table["id"]])
    sid = at.selectbox(key="smp_id").value
    assert _metric(at, "This request: latency (ms)") == f"{want[sid]:.1f} ms"
    # the cost breakdown in ms under the profile: its parts sum to this request's latency
    bar = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
               if "all in cloud" in c.proto.spec and '"stack"' in c.proto.spec)
    title = bar["layout"]["xaxis"]["title"]["text"]
    name = at.session_state["_profile"].name  # an earlier test may have edited it
    assert title.startswith(f"mean latency per request (ms), {name} (total")
    assert sum(t["x"][0] for t in bar["data"]) == pytest.approx(want[sid], rel=1e-9)
    assert not any("abstract units" in c.value for c in at.caption)
    at.switch_page("pages/overview.py").run()


def test_what_if_frontier_is_in_the_unit_and_names_the_profile(at):
    cache, cfg = _rt()
    at.switch_page("pages/whatif.py").run()
    _clean(at)
    fig = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
               if "cheaper" in c.proto.spec and "(now)" in c.proto.spec)
    p = at.session_state["_profile"]  # an earlier test may have edited it
    assert fig["layout"]["xaxis"]["title"]["text"] == (
        f"mean latency per request (ms), {p.name} ← cheaper")
    r = evaluate(cache, cfg, n_boot=0).routings["dimee"]  # DIMEE's star: its own latency
    want = summarise(p, r.tier, r.escalated, cache.test.lengths,
                     cfg.m, cfg.n, cache.num_layers).latency_ms["mean"]
    star = next(t for t in fig["data"] if t.get("name") == "DIMEE (now)")
    assert star["x"][0] == pytest.approx(want, rel=1e-9)
    assert not any("abstract units" in c.value for c in at.caption)
    at.switch_page("pages/overview.py").run()


def test_headline_panel_names_the_guaranteed_selection(at):
    at.switch_page("pages/overview.py").run()
    text = " ".join(c.value for c in at.caption)
    assert "Learn then Test" in text
    assert "cross-validation" not in text
