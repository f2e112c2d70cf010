"""Issue 20 in AppTest: risk warnings on every KPI page, messages that say what they do
and use the sidebar's words, and the network sweep's Apply (shipped rt-snippets)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dimee_core import summary
from dimee_core.cache import load_cache
from dimee_core.evaluate import evaluate
from ui import settings

pytestmark = pytest.mark.slow  # AppTest: each test runs the app (seconds)

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
RISKY = {"m": "2", "k": "12", "eps": "0"}  # DIMEE measurably loses more than ε = 0 here


def _run(page: str | None = None, **query: str) -> AppTest:
    """A deep link: ``page`` with ``query`` is the session's first run."""
    at = AppTest.from_file(APP, default_timeout=180)
    for k, v in query.items():
        at.query_params[k] = v
    (at.switch_page(page) if page else at).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(scope="module")
def expected_risks() -> list[str]:
    """The warnings computed without the app: the core's evaluation at the same setting."""
    cache = load_cache(ROOT / "cache" / "rt-snippets")
    s = settings.defaults(cache)
    s.update(m=2, n=max(s["n"], 3), k=12, eps=0.0)  # the app clamps n above m
    risks = summary.risks(evaluate(cache, settings.config_from(cache, s), n_boot=200))
    assert any("more than the ε you allowed" in r for r in risks)  # the case is risky
    return risks


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/whatif.py",
                                  "pages/compare.py", "pages/samples.py"])
def test_every_kpi_page_shows_the_risk_warnings(page, expected_risks):
    at = _run(page, **RISKY)
    shown = [w.value for w in at.warning]
    eps = [r for r in expected_risks if "ε you allowed" in r]
    for risk in eps:  # Compare's scenarios start from the sidebar's split and ε
        head = risk.split(" (95 %")[0].split(" pp of accuracy")[0]
        assert any(w.startswith(head) for w in shown), (page, head, shown)


def test_a_refused_url_value_names_the_value_used():
    at = _run("pages/whatif.py", m="4", n="2")
    assert at.session_state["n"] == 5
    msg = next(w.value for w in at.warning if w.value.startswith("URL parameter n="))
    assert "using 5" in msg and "using the default 2" not in msg, msg


def test_zero_costs_are_named_as_in_the_sidebar():
    zero = {key: "0" for key, _ in settings.COSTS}
    at = _run("pages/whatif.py", **zero)
    text = " ".join(e.value for e in at.error)
    assert "o_cloud" not in text and "lambda_cloud" not in text, text
    for key in ("oc", "lc"):
        label = settings.SETTINGS[key].label
        assert label.replace("(", "\\(").replace(")", "\\)") in text, (label, text)


def test_an_unknown_dataset_in_the_url_gets_a_warning():
    at = _run(dataset="nope")
    shown = [w.value for w in at.warning]
    assert any(w.startswith("URL parameter dataset=") and "not an available dataset" in w
               for w in shown), shown
    at = _run(dataset="trec")  # the alias works when the name exists
    assert at.session_state["ds"] == "trec"


def test_network_sweep_applies_its_best_split():
    """The sweep's Apply writes the split its button names into the sidebar (budget
    policy), and Undo takes it back."""
    at = _run("pages/whatif.py", unit="ms")
    before = {k: at.session_state[k] for k in ("m", "n", "k", "policy")}
    at.toggle(key="net_go").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    button = at.button(key="net_apply")
    m, n, k = map(int, re.search(r"m = (\d+), n = (\d+), k = (\d+)", button.label).groups())
    success = " ".join(s.value for s in at.success)
    assert f"layers 1–{m}" in success or f"layer {m}" in success, success
    assert f"edge up to {n}, k = {k}" in success, success
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert (at.session_state["m"], at.session_state["n"], at.session_state["k"],
            at.session_state["policy"]) == (m, n, k, "budget")
    at.button(key="undo").click().run()
    assert {key: at.session_state[key] for key in before} == before


def test_error_breakdown_covers_every_test_sample():
    at = _run("pages/whatif.py")
    table = next(d.value for d in at.dataframe if "mistaken_for" in d.value.columns)
    cache = load_cache(ROOT / "cache" / "rt-snippets")
    assert table["answered"].sum() == cache.test.n
    ev = evaluate(cache, settings.config_from(cache, settings.defaults(cache)), n_boot=0)
    routing = ev.routings["dimee_plus"]
    wrong = routing.predictions(cache.test.probs) != cache.test.labels
    assert table["wrong"].sum() == wrong.sum()


def test_pinned_settings_side_by_side():
    """Three pins on What-if; Compare lists them with DIMEE's results from the core's own
    evaluation, draws the parallel coordinates, and loads one back into the sidebar."""
    at = _run("pages/whatif.py")
    cache = load_cache(ROOT / "cache" / "rt-snippets")
    pinned = []
    for m, k in ((1, 4), (2, 8), (3, 12)):
        at.sidebar.slider(key="m").set_value(m)
        at.sidebar.slider(key="k").set_value(k).run()
        at.button(key="pin_setting").click().run()
        pinned.append({key: at.session_state[key] for key in settings.SETTINGS})
    at.switch_page("pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    df = next(d.value for d in at.dataframe if "plus_reduction_pct" in d.value.columns)
    assert len(df) == 3
    for row, s in zip(df.itertuples(), pinned):
        ev = evaluate(cache, settings.config_from(cache, s), n_boot=0)
        assert (row.m, row.k) == (s["m"], s["k"])
        assert row.drop_pp == pytest.approx(ev.methods["dimee"].accuracy_drop_pp, abs=1e-9)
        assert row.reduction_pct == pytest.approx(ev.methods["dimee"].cost_reduction_pct,
                                                  abs=1e-9)
    charts = at.get("plotly_chart")
    assert any('"parcoords"' in c.proto.spec for c in charts)
    at.button(key="pin_load_0").click().run()
    assert (at.session_state["m"], at.session_state["k"]) == (1, 4)


def test_overview_offers_the_one_page_summary():
    at = _run()
    keys = {getattr(b, "key", None) for b in at.get("download_button")}
    assert {"ov_onepage_pdf", "ov_onepage_png"} <= keys, keys
