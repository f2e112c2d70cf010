"""ui/settings.py: the sidebar's settings, URL parsing and scenario validation are
generated from dimee_core.config.PARAMS (one declaration per setting)."""

from __future__ import annotations

import importlib
import json

import pytest
from streamlit.testing.v1 import AppTest

from dimee_core import config
from dimee_core.cache import load_cache
from dimee_core.config import MAX_SEED, PARAMS, Param
from ui import scenarios, settings

from .conftest import ROOT, SHIPPED

CACHE = load_cache(SHIPPED / "rt-snippets")


@pytest.fixture
def table(monkeypatch):
    """``add(param)``: the table with one more (or one replaced) declaration, and
    ui.settings regenerated from it; both restored afterwards."""
    def add(param: Param) -> None:
        params = (*(p for p in PARAMS if p.name != param.name), param)
        monkeypatch.setattr(config, "PARAMS", params)
        monkeypatch.setattr(config, "BY_URL", {p.url: p for p in params if p.url})
        importlib.reload(settings)

    yield add
    monkeypatch.undo()
    importlib.reload(settings)


def test_every_url_parameter_of_the_table_is_a_setting():
    declared = {p.url: p for p in PARAMS if p.url}
    assert list(settings.SETTINGS) == [*declared, "unit"]  # the table's order, then units
    for key, p in declared.items():
        s = settings.SETTINGS[key]
        assert (s.label, s.help, s.options, s.param) == (p.label, p.help, p.choices, p.name)
        assert s.label and s.help  # the sidebar shows both
        if p.widget:
            assert (s.lo, s.hi, s.step) == p.widget
    assert settings.COSTS == tuple((p.url, p.name) for p in config.COST_PARAMS
                                   if p.kind is float)


def test_the_unit_setting_offers_exactly_the_units_the_pages_know():
    from ui import units

    assert settings.SETTINGS["unit"].options == tuple(units.UNITS)


def test_a_new_parameter_appears_in_url_parsing(table):
    """One entry in the table is all URL parsing needs: a fake knob is parsed, typed and
    bounds-checked under its URL key, with plain reasons for bad values."""
    assert "z" not in settings.SETTINGS
    table(Param("zeta", float, 0.5, 0.0, 1.0, url="z", widget=(0.0, 1.0, 0.1),
                label="Zeta", help="a fake knob to test the table"))
    s = settings.SETTINGS["z"]
    assert (s.label, s.kind, s.lo, s.hi, s.step) == ("Zeta", "float", 0.0, 1.0, 0.1)
    assert settings.parse(CACHE, "z", "0.3") == 0.3
    for raw, why in (("2", r"must lie in \[0, 1\]"), ("x", "is not a number"),
                     ("nan", r"must lie in \[0, 1\]")):
        with pytest.raises(ValueError, match=why):
            settings.parse(CACHE, "z", raw)
    table(Param("zeta", str, "low", choices=("low", "high"), url="z", label="Zeta"))
    assert settings.parse(CACHE, "z", "high") == "high"
    with pytest.raises(ValueError, match="must be one of low, high"):
        settings.parse(CACHE, "z", "mid")


def test_a_scenario_file_is_checked_against_the_table(table):
    """A scenarios file may hold exactly the table's settings: an unknown one is refused
    until the table declares it."""
    doc = json.loads(scenarios.to_json("rt-snippets", [("A", settings.defaults(CACHE))]))
    doc["scenarios"][0]["settings"]["seed"] = 7
    with pytest.raises(ValueError, match="unknown settings seed"):
        scenarios.from_json(json.dumps(doc).encode(), CACHE)
    table(Param("random_state", int, 0, 0, MAX_SEED, refits=True, url="seed",
                widget=(0, 99, 1), label="Seed", help="k-means' seed"))
    (_, values), = scenarios.from_json(json.dumps(doc).encode(), CACHE)
    assert values["seed"] == 7 and settings.config_from(CACHE, values).random_state == 7


@pytest.mark.slow
def test_a_link_reaches_the_config_through_a_new_url_key(table):
    """Give the table's random_state a URL key: the sidebar draws its slider, a link's
    value reaches the routing config, and a bad one is one warning with the default."""
    table(Param("random_state", int, 0, 0, MAX_SEED, refits=True, url="seed",
                widget=(0, 99, 1), label="Seed", help="k-means' seed"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["seed"] = "7"
    at.run()
    assert not at.exception, at.exception
    assert at.sidebar.slider(key="seed").value == 7
    assert at.session_state["_ctx"].cfg.random_state == 7
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["seed"] = "x"
    at.run()
    assert at.session_state["_ctx"].cfg.random_state == 0
    assert any("URL parameter seed='x' is not a whole number" in w.value for w in at.warning)
