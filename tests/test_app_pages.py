"""Every page through streamlit.testing.v1.AppTest on the shipped cache (cache/rt-snippets)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui import datasets, memo, settings

pytestmark = pytest.mark.slow  # AppTest: each test runs the app (seconds)

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGES = ["pages/overview.py", "pages/whatif.py", "pages/samples.py", "pages/learn.py",
         "pages/compare.py"]
TIMEOUT = 120  # first run fits k-means on 2 busy cores


def _app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _metric(at: AppTest, label: str) -> float:
    m = next(m for m in at.metric if m.label == label)
    return float(m.value.split()[0])


@pytest.fixture(scope="module")
def at() -> AppTest:
    return _app()


def test_every_page_renders(at):
    _clean(at)
    assert at.sidebar.selectbox(key="ds").value == "rt-snippets"
    for page in PAGES:
        at.switch_page(page).run()
        _clean(at)
        assert at.get("plotly_chart"), page
        if page not in ("pages/learn.py", "pages/samples.py"):
            assert len(at.metric) >= 4, page
    at.switch_page("pages/overview.py").run()


def test_key_widgets_exist(at):
    for key in ("m", "n", "k", "alpha", "eps", "mu", "safety", "fit", "lm", "le", "lc", "oe",
                "oc", "oec"):
        assert at.sidebar.slider(key=key) is not None
    for key in ("feat", "preset"):
        assert at.sidebar.selectbox(key=key) is not None
    assert at.sidebar.radio(key="policy").options == ["pools", "reward", "budget"]
    labels = [m.label for m in at.metric]
    assert {"Accuracy", "Accuracy drop vs cloud", "Mean cost", "Cost reduction"} <= set(labels)
    # the page's own downloads (the sidebar's profile download is not in main)
    assert {b.key for b in at.main.get("download_button")} == {
        "ov_onepage_pdf", "ov_onepage_png", "ov_csv", "ov_json"}
    at.switch_page("pages/whatif.py").run()
    assert at.number_input(key="opt_target") is not None
    k = at.sidebar.slider(key="k").value
    plus = [d.value for d in at.dataframe if {"cluster", "tier"} <= set(d.value.columns)
            and "acc_mobile" not in d.value.columns]  # the DIMEE+ option per cluster
    assert len(plus) == 1 and len(plus[0]) == k
    allowed = ("mobile", "edge", "cloud", "edge → cloud if conf <")
    assert all(t.startswith(allowed) or (t.startswith("mobile if conf ≥") and "else edge"
                                         in t) for t in plus[0]["tier"])
    at.switch_page("pages/samples.py").run()
    assert at.selectbox(key="smp_id") is not None
    at.switch_page("pages/compare.py").run()
    assert at.session_state["cmp_a_oc"] != at.session_state["cmp_b_oc"]  # two presets
    at.switch_page("pages/overview.py").run()


def test_split_points_cannot_be_invalid(at):
    at.sidebar.slider(key="m").set_value(4).run()
    _clean(at)
    n = at.sidebar.get("number_input") or []
    # m = L-2 leaves exactly one edge split: n is forced to L-1 and shown disabled
    assert at.session_state["n"] == 5
    assert any(w.key == "n" and w.disabled for w in n)
    at.sidebar.slider(key="m").set_value(2).run()
    assert at.sidebar.slider(key="n").min == 3
    assert at.sidebar.slider(key="k").max <= 2000
    at.sidebar.slider(key="n").set_value(4).run()
    _clean(at)


def test_raising_o_cloud_never_lowers_reduction_with_fixed_routing():
    # the pools policy ignores costs, so the routing is held fixed while o_cloud rises
    at = _app({"policy": "pools"})
    _clean(at)
    last, shares = -1e9, None
    for oc in (1.0, 5.0, 10.0, 20.0, 30.0):
        at.sidebar.slider(key="oc").set_value(oc).run()
        _clean(at)
        red = _metric(at, "Cost reduction")
        caption = next(c.value for c in at.caption if "In plain words" in c.value)
        now = caption.split(" It costs")[0]
        assert shares is None or now == shares  # same tiers
        shares = now
        assert red >= last - 0.05  # displayed to 0.1 %
        last = red


def test_query_params_round_trip():
    q = {"m": "1", "n": "3", "k": "4", "alpha": "0.85", "policy": "reward", "mu": "0.5",
         "oc": "7.5", "mode": "recompute", "ds": "rt-snippets"}
    at = _app(q)
    _clean(at)
    assert not any("URL parameter" in w.value for w in at.warning)
    assert at.sidebar.slider(key="m").value == 1 and at.sidebar.slider(key="n").value == 3
    assert at.sidebar.slider(key="oc").value == 7.5
    assert at.sidebar.radio(key="mode").value == "recompute"
    for k, v in q.items():
        assert at.query_params[k] == [v] or at.query_params[k] == v, k
    at.sidebar.slider(key="oe").set_value(3.0).run()
    assert at.query_params["oe"] in ("3", ["3"])


@pytest.mark.parametrize("key,bad", [("oc", "lots"), ("m", "9"), ("policy", "magic"),
                                     ("alpha", "nan"), ("ds", "no-such-data")])
def test_malformed_query_value_falls_back_with_warning(key, bad):
    at = _app({key: bad})
    assert not at.exception
    assert any(key in w.value for w in at.warning), [w.value for w in at.warning]
    d = settings.defaults(memo.load(str(ROOT / "cache" / "rt-snippets")))
    if key in d:
        assert at.session_state[key] == d[key]
    assert len(at.metric) >= 4  # the app still works


def test_invalid_costs_and_bad_cache_show_errors_not_tracebacks(monkeypatch):
    monkeypatch.setenv(datasets.SERVER_PATHS_ENV, "1")
    at = _app()  # own session: the load error stays on screen until the next load
    at.sidebar.slider(key="oc").set_value(0.0)
    at.sidebar.slider(key="lc").set_value(0.0).run()
    assert not at.exception
    assert any("cost is zero" in e.value and "o_cloud" not in e.value for e in at.error)
    at.sidebar.slider(key="oc").set_value(5.0)
    at.sidebar.slider(key="lc").set_value(1.0).run()
    _clean(at)
    at.sidebar.text_input(key="user_path").input("/definitely/not/a/cache")
    at.sidebar.button(key="user_path_go").click().run()
    assert not at.exception
    assert any("Could not load that folder" in e.value for e in at.error)
    assert len(at.metric) >= 4  # still usable with the previous dataset


def test_optimiser_recommends_a_certified_setting_and_applies_every_knob(at):
    """rt-snippets at 1 pp, default costs: the page shows exactly the selection's
    recommendation (recomputed here), in green with its guarantee in words, and Apply
    writes all its knobs into the shared settings."""
    from dimee_core import selection
    from dimee_core.cache import load_cache
    from dimee_core.evaluate import DIMEEConfig

    at.switch_page("pages/whatif.py").run()
    at.number_input(key="opt_target").set_value(1.0)
    at.button(key="opt_go").click().run()
    _clean(at)
    cache = load_cache(ROOT / "cache" / "rt-snippets")
    base = DIMEEConfig(alpha=at.session_state["alpha"])
    cands = selection.evaluate_candidates(cache.calibration, base)
    rec = selection.certify(cands, 1.0, 0.1, "any")
    assert rec.ok and not at.warning
    assert len(at.success) == 1
    msg = at.success[0].value
    assert "accuracy drop vs all-in-cloud ≤ 1 pp with 90 % confidence" in msg
    assert f"{rec.bound_pp:+.2f} pp" in msg and f"{rec.reduction_pct:.1f} %" in msg
    at.button(key="opt_apply").click().run()
    _clean(at)
    c = rec.config
    got = {k: at.session_state[k] for k in ("m", "n", "alpha")}
    assert got == {"m": c.m, "n": c.n, "alpha": c.alpha}
    if rec.method != "cascade":
        assert (at.session_state["k"], at.session_state["feat"], at.session_state["policy"],
                at.session_state["fit"]) == (c.k, c.features, c.policy, c.fit_fraction)
    # the page shows the recommended method's own numbers, scored here by hand from the
    # selection's rule, with its guarantee; the other methods are said to be uncertified
    import numpy as np

    r, test = cands.routing(rec.index, cache.test), cache.test  # the selection's routers
    right = test.probs.argmax(2) == test.labels[:, None]
    drop = 100 * (right[:, -1].mean() - right[np.arange(test.n), r.exit_layer - 1].mean())
    saved = 100 * (1 - r.cost.mean() / base.costs.reference_cost(cache.num_layers))
    name = {"cascade": "Confidence cascade", "dimee": "DIMEE", "dimee_plus": "DIMEE+"}
    shown = {m.label: m.value for m in at.metric}
    prefix = f"{name[rec.method]} (applied) "
    assert shown[prefix + "Cost reduction"] == f"{saved:.1f} %"
    assert shown[prefix + "Accuracy drop vs cloud"] == f"{drop:+.2f} pp"
    assert any(s.value.startswith("**Certified:**") and "≤ 1 pp with 90 % confidence"
               in s.value for s in at.success)
    status = next(c.value for c in at.caption if "Certified at these knobs" in c.value)
    yes, no = status.split("Not certified")
    assert name[rec.method] in yes and all(name[m] in no for m in name if m != rec.method)
    at.switch_page("pages/overview.py").run()


def test_optimiser_refuses_bad_input_plainly(at):
    at.switch_page("pages/whatif.py").run()
    at.number_input(key="opt_target").set_value(-1.0)
    at.button(key="opt_go").click().run()
    assert not at.exception
    assert any("target accuracy drop must be a number >= 0" in e.value for e in at.error)
    at.number_input(key="opt_target").set_value(0.5)
    at.number_input(key="opt_delta").set_value(1.5)
    at.button(key="opt_go").click().run()
    assert any("strictly between 0 and 1" in e.value for e in at.error)
    assert not [s for s in at.success if s.value.startswith("Guaranteed")]  # no verdict
    at.number_input(key="opt_delta").set_value(0.1)
    at.switch_page("pages/overview.py").run()


def test_samples_filter_and_drill_down():
    at = _app()
    at.switch_page("pages/samples.py").run()
    at.selectbox(key="smp_outcome").select("wrong").run()
    _clean(at)
    picker = at.selectbox(key="smp_id")
    assert picker.options, "the test split has wrong answers to show"
    sid = int(picker.options[-1].split(":")[0].lstrip("#"))  # shown as "#id: text"
    picker.set_value(sid).run()
    _clean(at)
    assert at.selectbox(key="smp_id").value == sid
    assert any(":red[**wrong**]" in md.value for md in at.markdown)
    charts = at.get("plotly_chart")
    assert len(charts) >= 2  # the trajectory and the cost breakdown
    breakdown = next(c.value for c in at.caption if c.value.startswith("mobile compute"))
    assert "all-in-cloud would cost" in breakdown


def test_samples_explain_dimee_plus_rule():
    """With DIMEE+ picked, a sample's drill-down states its cluster's rule and its own
    phone / edge confidences, and the tier shown obeys that rule."""
    at = _app()
    at.switch_page("pages/samples.py").run()
    at.button_group(key="smp_method").set_value("dimee_plus").run()
    _clean(at)
    rule = next(c.value for c in at.caption if c.value.startswith("DIMEE+ rule of cluster"))
    text = next(md.value for md in at.markdown if "sent to **" in md.value)
    tier = text.split("sent to **")[1].split("**")[0]
    conf_m = float(rule.split("confidence: ")[1].split(" on the phone")[0])
    option = rule.split("**")[1]
    if option.startswith("mobile if conf ≥"):
        gamma = float(option.split("≥ ")[1].split(",")[0])
        assert (tier == "mobile") == (conf_m >= gamma)
    else:
        assert tier == option or option.startswith("edge → cloud")


def test_overview_shows_the_reports_calibration_tuned_numbers(at):
    import json

    at.switch_page("pages/overview.py").run()
    exp = next(e for e in at.expander if e.label.startswith("Against the paper's headline"))
    table = exp.dataframe[0].value
    points = json.loads((ROOT / "docs" / "results.json").read_text())[
        "datasets"]["rt-snippets"]["points"]
    assert list(table["method"]) == [{"dimee": "DIMEE", "dimee_plus": "DIMEE+",
                                      "cascade": "cascade"}[p["method"]] for p in points]
    assert list(table["drop"]) == pytest.approx([p["test"]["accuracy_drop_pp"] for p in points])


def test_loading_a_cache_folder_switches_to_it(tmp_path, monkeypatch):
    monkeypatch.setenv(datasets.SERVER_PATHS_ENV, "1")  # opt-in; config binds loopback
    folder = tmp_path / "mine"
    shutil.copytree(ROOT / "cache" / "rt-snippets", folder)
    at = _app()
    at.sidebar.text_input(key="user_path").input(str(folder))
    at.sidebar.button(key="user_path_go").click().run()
    _clean(at)
    assert at.sidebar.selectbox(key="ds").value == "rt-snippets (yours)"
    assert len(at.metric) >= 4


def test_preset_is_an_action_not_a_mirror():
    """Picking a preset sets every cost, then the picker shows the current costs again
    (None), so a stale preset value from the browser can never reset the costs."""
    from dimee_core.costs import PRESETS
    at = _app()
    name = "Congested uplink"
    at.sidebar.selectbox(key="preset").select(name).run()
    _clean(at)
    assert at.sidebar.selectbox(key="preset").value is None
    assert at.sidebar.slider(key="oc").value == PRESETS[name].o_cloud
    assert any(c.value == f"Current costs: {name}" for c in at.sidebar.caption)
    at.sidebar.slider(key="oc").set_value(7.0).run()  # a cost move afterwards sticks
    _clean(at)
    assert at.sidebar.slider(key="oc").value == 7.0
    assert any(c.value == "Current costs: Custom" for c in at.sidebar.caption)


def test_overview_leads_with_the_recommended_method(at):
    from dimee_core import answer, recommendation, summary
    from tests.conftest import shipped_names

    at.switch_page("pages/overview.py").run()
    _clean(at)
    assert [h.value for h in at.header][0] == "The answer for this data set"
    cache = memo.load(str(ROOT / "cache" / "rt-snippets"))
    rec = summary.recommend(cache, n_boot=answer.N_BOOT)
    page_md = [md.value for md in at.markdown if not md.value.startswith("<style>")]
    assert page_md[0] == recommendation.headline(rec)  # the first thing after the heading
    assert _metric(at, f"{'DIMEE+' if rec.method == 'dimee_plus' else 'DIMEE'} Cost "
                       f"reduction") == pytest.approx(rec.chosen.cost_reduction_pct, abs=0.05)
    table = at.table[0].value  # Markdown cells: the names are escaped
    table.index = [re.sub(r"\\(.)", r"\1", n).replace("\u2060", "") for n in table.index]
    assert sorted(table.index) == shipped_names()
    assert table.loc["rt-snippets", "DIMEE+"].startswith(
        f"{rec.test['dimee_plus'].cost_reduction_pct:.1f} %")
    at.button_group(key="ov_sankey_method").set_value("cascade").run()
    _clean(at)
    assert any(c.value.startswith("Cascade: every request starts on the phone")
               for c in at.caption)


def test_risky_setting_is_said_on_the_page():
    at = _app({"ds": "trec", "policy": "reward", "mu": "1"})
    _clean(at)
    assert any(w.value.startswith("DIMEE loses") for w in at.warning), \
        [w.value for w in at.warning]


@pytest.mark.parametrize("value", ["[Click here to sign in](https://evil.example/)",
                                   "![x](http://HOST/b.png)", ":red[alarm] <b>x</b>"])
def test_url_values_are_shown_escaped(value):
    """Markdown in a shared link must not render as a link, an image or a directive."""
    at = _app({"ds": value, "oc": value})
    assert not at.exception
    shown = [w.value for w in at.warning]
    assert any("URL parameter ds=" in w for w in shown) and any("URL parameter oc=" in w
                                                                for w in shown)
    for w in shown:
        assert "](" not in w and ":red[" not in w and "<b>" not in w, w
    assert len(at.metric) >= 4


def test_a_reloaded_link_to_a_private_cache_says_why():
    at = _app({"ds": "mine.zip (uploaded)"})
    assert any("private to the session" in w.value for w in at.warning)
    assert at.sidebar.selectbox(key="ds").value == "rt-snippets"


def test_switching_data_set_starts_from_its_defaults():
    """The sidebar then shows what the CLI and a fresh link show for that data set."""
    trec = memo.load(str(ROOT / "cache" / "trec"))
    at = _app()
    at.sidebar.slider(key="k").set_value(5).run()
    at.sidebar.slider(key="alpha").set_value(0.7).run()
    at.sidebar.selectbox(key="ds").select("trec").run()
    _clean(at)
    want = settings.defaults(trec)
    assert {k: at.session_state[k] for k in want} == want
    fresh = _app({"ds": "trec"})
    assert _metric(at, "Cost reduction") == _metric(fresh, "Cost reduction")
    at.sidebar.slider(key="k").set_value(3).run()  # and the reset button
    at.sidebar.button(key="reset_defaults").click().run()
    _clean(at)
    assert {k: at.session_state[k] for k in want} == want


def test_server_path_control_is_off_by_default():
    at = _app()
    assert not [w for w in at.sidebar.text_input if w.key == "user_path"]


def test_a_hostile_cache_folder_shows_an_error_not_a_broken_session(tmp_path, monkeypatch):
    """A lone surrogate in the title used to raise UnicodeEncodeError on every run."""
    from . import hostile

    monkeypatch.setenv(datasets.SERVER_PATHS_ENV, "1")
    folder = hostile.small_cache(tmp_path / "evil")
    raw = (folder / "meta.json").read_text().replace(
        '"Toy data"', '"[x](https://e.example) \\ud800"')
    (folder / "meta.json").write_text(raw)
    at = _app()
    at.sidebar.text_input(key="user_path").input(str(folder))
    at.sidebar.button(key="user_path_go").click().run()
    assert not at.exception
    assert any("lone surrogate" in e.value for e in at.error)
    assert at.sidebar.selectbox(key="ds").value == "rt-snippets" and len(at.metric) >= 4
def test_learn_fills_every_slot_and_explains_the_cloud():
    """At α = 1 trec has no easy test sample: the slot is still filled, and says so;
    one request per tier; the cloud one's explanation names its own cluster."""
    at = _app({"ds": "trec", "alpha": "1"})
    at.switch_page("pages/learn.py").run()
    _clean(at)
    m = at.session_state["m"]
    cache = memo.load(str(ROOT / "cache" / "trec"))
    assert cache.test.probs[:, :m].max() < 1.0  # so no sample is easy at α = 1
    subs = [s.value for s in at.subheader]
    assert {"An easy sample", "A hard sample", "Answered on the phone", "Answered on the edge",
            "Answered in the cloud", "Why did this one go to the cloud?"} <= set(subs)
    assert any(i.value.startswith("No test sample is easy at α = 1:") for i in at.info)
    tiers = [md.value for md in at.markdown if " sends it to the **" in md.value]
    assert [t.split("sends it to the **")[1].split("**")[0] for t in tiers] == \
        ["mobile", "edge", "cloud"]
    cloud_cluster = tiers[2].split("cluster **#")[1].split("**")[0]
    why = next(md.value for md in at.markdown if md.value.startswith("Request #"))
    assert f"Cluster #{cloud_cluster} holds" in why and why.endswith("so: cloud.")
