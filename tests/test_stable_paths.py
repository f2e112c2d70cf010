"""The Overview keeps each element's place (its delta path) when another section draws
more or fewer elements: the browser reuses an element whose place and content are
unchanged, and redraws a shifted chart from scratch. A unit switch changes the answer's
section (another sentence, KPIs and captions) and the charts in that unit, so the charts
it does not change must keep both their place and their figure."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.slow  # the whole Overview, in four units

ROOT = Path(__file__).resolve().parent.parent
UNCHANGED = ("ov_price_curve", "ov_tiers", "ov_sankey_method_chart")  # in any unit


def _charts(node, path=()) -> dict[str, tuple[tuple[int, ...], str]]:
    """Each Plotly chart's user key → (its place in the page, its figure)."""
    out = {}
    for i, child in getattr(node, "children", {}).items():
        proto = getattr(child, "proto", None)
        if getattr(child, "type", None) == "plotly_chart" and proto is not None:
            out[proto.id.split("-", 2)[-1]] = (path + (i,), proto.spec)  # $$ID-hash-key
        out.update(_charts(child, path + (i,)))
    return out


def test_a_unit_switch_keeps_the_unchanged_charts_in_place():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    seen = {}
    for unit in ("abstract", "ms", "mJ", "$"):
        at.sidebar.radio(key="unit").set_value(unit).run()
        assert not at.exception, [e.value for e in at.exception]
        seen[unit] = _charts(at.main)
    assert any(m.label.endswith("Money") for m in at.metric)  # the switch took effect
    base = seen["abstract"]
    assert set(UNCHANGED) <= set(base)
    for unit, charts in seen.items():
        for key in UNCHANGED:
            assert charts[key] == base[key], (unit, key)  # same place, same figure
        assert charts["ov_methods"][0] == base["ov_methods"][0]  # same place...
    assert seen["ms"]["ov_methods"][1] != base["ov_methods"][1]  # ...its axis in the unit
