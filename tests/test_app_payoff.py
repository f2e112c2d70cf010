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
