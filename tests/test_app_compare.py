"""The Compare page through AppTest: two whole settings side by side, and in the URL."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from ui import memo, settings

from .test_app_pages import APP, ROOT, TIMEOUT, _app, _clean

pytestmark = pytest.mark.slow  # AppTest: each test runs the app (seconds)


def test_compare_scenarios_differ_in_any_knob_and_show_both_methods():
    at = _app()
    at.switch_page("pages/compare.py").run()
    _clean(at)
    at.number_input(key="cmp_b_m").set_value(1).run()
    at.number_input(key="cmp_b_k").set_value(4).run()
    at.selectbox(key="cmp_b_policy").select("reward").run()
    _clean(at)
    diff = at.dataframe[0].value
    assert set(diff["method"]) == {"DIMEE", "DIMEE+"}
    # scenario B's DIMEE is exactly the core's evaluation of B's full setting
    from dimee_core.evaluate import evaluate
    cache = memo.load(str(ROOT / "cache" / "rt-snippets"))
    b = {k: at.session_state[f"cmp_b_{k}"] for k in settings.SETTINGS}
    assert (b["m"], b["k"], b["policy"]) == (1, 4, "reward")
    ev = evaluate(cache, settings.config_from(cache, b), n_boot=0)
    row = diff[(diff["method"] == "DIMEE")
               & (diff["kpi"] == "Cost reduction vs all-in-cloud (%)")]
    assert row["Congested"].iloc[0] == pytest.approx(ev.methods["dimee"].cost_reduction_pct)
    row = diff[(diff["method"] == "DIMEE+") & (diff["kpi"] == "Accuracy (%)")]
    assert row["Congested"].iloc[0] == pytest.approx(100 * ev.methods["dimee_plus"].accuracy)


def test_compare_scenarios_travel_in_the_url():
    from ui import scenarios

    cache = memo.load(str(ROOT / "cache" / "rt-snippets"))
    b = dict(settings.defaults(cache), m=1, n=2, k=3, policy="pools", oc=9.5)
    link = scenarios.to_json("rt-snippets", [("Now", settings.defaults(cache)), ("Slow", b)],
                             compact=True)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["cmp"] = link
    at.switch_page("pages/compare.py").run()  # a deep link: Compare is the first run
    _clean(at)
    assert {k: at.session_state[f"cmp_b_{k}"] for k in settings.SETTINGS} == b
    assert at.session_state["cmp_name_b"] == "Slow"
    at.run()  # arrival rewrites the browser's URL only; the next run shows it here
    url = at.query_params["cmp"]
    url = url[0] if isinstance(url, list) else url
    name, back = scenarios.from_json(url.encode(), cache)[1]  # mirrored back
    assert (name, {k: back[k] for k in settings.SETTINGS}) == ("Slow", b)
    assert back[scenarios.PROFILE] == "lte"  # a link without profiles: the sidebar's
    hostile = AppTest.from_file(APP, default_timeout=TIMEOUT)
    hostile.query_params["cmp"] = '{"format": "dimee-studio-scenarios", "scenarios": 7}'
    hostile.switch_page("pages/compare.py").run()
    assert not hostile.exception
    assert any("URL parameter cmp ignored" in w.value for w in hostile.warning)
    assert len(hostile.metric) >= 8  # both scenarios still compared
