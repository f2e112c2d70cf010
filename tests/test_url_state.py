"""The URL and undo through AppTest: Samples' and the optimiser's own parameters travel in
the URL (validated on arrival), and every bulk change can be undone exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dimee_core.costs import PRESETS
from ui import settings

pytestmark = pytest.mark.slow  # AppTest: each test runs the app (seconds)

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
TIMEOUT = 120


def _deep_link(page: str, query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    return at.switch_page(page).run()  # the link's page is the session's first run


def _url(at: AppTest, key: str) -> str:
    v = at.query_params[key]
    return v[0] if isinstance(v, list) else v


def _settings(at: AppTest) -> dict:
    return {k: at.session_state[k] for k in settings.SETTINGS}


def test_samples_state_travels_in_the_url():
    at = _deep_link("pages/samples.py", {"smp_method": "dimee_plus", "smp_tier": "cloud,edge",
                                         "smp_outcome": "wrong", "smp_text": "the"})
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert at.session_state["smp_method"] == "dimee_plus"
    assert at.pills(key="smp_tier").value == ["edge", "cloud"]  # the options' order
    assert at.selectbox(key="smp_outcome").value == "wrong"
    shown = at.selectbox(key="smp_id").value
    at.pills(key="smp_pool").unselect("easy").run()  # a change: mirrored in the URL
    assert _url(at, "smp_pool") == "medium,hard" and _url(at, "smp_tier") == "edge,cloud"
    assert _url(at, "smp_outcome") == "wrong" and _url(at, "smp_method") == "dimee_plus"
    again = _deep_link("pages/samples.py", {k: _url(at, k) for k in at.query_params})
    assert again.selectbox(key="smp_id").value == at.selectbox(key="smp_id").value
    assert again.pills(key="smp_pool").value == ["medium", "hard"]
    assert shown is not None


def test_bad_samples_values_warn_once_and_use_defaults():
    at = _deep_link("pages/samples.py", {"smp_tier": "edge,[x](https://e.example)",
                                         "smp_id": "99999999", "smp_outcome": "maybe"})
    assert not at.exception
    warnings = [w.value for w in at.warning if w.value.startswith("URL parameter")]
    assert len(warnings) == 3, warnings
    assert all("](" not in w for w in warnings)
    assert at.pills(key="smp_tier").value == ["mobile", "edge", "cloud"]
    assert at.selectbox(key="smp_outcome").value == "all"


def test_optimiser_search_travels_in_the_url():
    at = _deep_link("pages/whatif.py", {"opt_target": "1", "opt_delta": "0.2",
                                        "opt_family": "dimee"})
    assert not at.exception
    assert len(at.success) == 1, [w.value for w in at.warning]  # the search ran
    assert "≤ 1 pp with 80 % confidence" in at.success[0].value
    assert (_url(at, "opt_target"), _url(at, "opt_delta"), _url(at, "opt_family")) == \
        ("1", "0.2", "dimee")
    bad = _deep_link("pages/whatif.py", {"opt_target": "1", "opt_delta": "0",
                                         "opt_family": "dimee"})
    assert not bad.exception and not bad.success
    assert any("not run" in w.value and "strictly between 0 and 1" in w.value
               for w in bad.warning)


def test_apply_reset_and_preset_can_be_undone_exactly():
    at = _deep_link("pages/whatif.py", {"opt_target": "1"})
    at.sidebar.slider(key="oc").set_value(7.0).run()  # a non-default state to come back to
    at.number_input(key="opt_target").set_value(1.0)
    at.button(key="opt_go").click().run()
    before = _settings(at)
    at.button(key="opt_apply").click().run()
    assert _settings(at) != before  # Apply changed knobs
    at.sidebar.button(key="undo").click().run()
    assert not at.exception
    assert _settings(at) == before
    assert not [b for b in at.sidebar.button if b.key == "undo"]  # one step, then gone
    at.sidebar.selectbox(key="preset").select("Congested uplink").run()
    assert at.session_state["oc"] == PRESETS["Congested uplink"].o_cloud != before["oc"]
    at.sidebar.button(key="undo").click().run()
    assert _settings(at) == before
    at.sidebar.button(key="reset_defaults").click().run()
    assert at.session_state["oc"] != before["oc"]
    at.sidebar.slider(key="k").set_value(3).run()  # a later change: undo no longer offered
    assert not [b for b in at.sidebar.button if b.key == "undo"]
