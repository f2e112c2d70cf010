"""The price of certainty on the Overview (AppTest): what tune stored is shown as stored,
beside the answer and in the all-data-sets table; an answer at 0 % says why."""

from __future__ import annotations

import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from dimee_core import tuned
from dimee_core.cache import load_cache
from dimee_core.price_record import Interval, Price, SizePoint
from ui import datasets

from .conftest import ROOT, SHIPPED

pytestmark = pytest.mark.slow
APP = str(ROOT / "app.py")


def _price() -> Price:
    return Price(0.3, 0.1, "dimee_plus", 1614, 38.0, {"method": "cascade", "m": 2, "n": 5,
                                                       "alpha": 0.98}, 0.22, "Certified.",
                 68.1, 0.27, Interval(68.4, 65.0, 71.7, 0.67, 0.695, 200),
                 (SizePoint(404, 283, None, "too small: 283 held-out samples"),
                  SizePoint(806, 564, None, "too small: 564 held-out samples"),
                  SizePoint(1614, 1130, 38.0, "certified")), None)


def test_overview_shows_the_stored_price_beside_the_answer(tmp_path, monkeypatch):
    root = tmp_path / "caches"
    shutil.copytree(SHIPPED / "trec", root / "trec")
    cache = load_cache(root / "trec")
    settings = {**cache.defaults, tuned.PRICE_KEY: json.loads(json.dumps(_price().to_dict()))}
    tuned.save(root / "trec", settings, cache.num_layers, cache.calibration.n)
    monkeypatch.setattr(datasets, "CACHE_ROOT", root)
    at = AppTest.from_file(APP, default_timeout=300).run()
    assert not at.exception and not at.error, [e.value for e in at.exception]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Certified saving (calibration)"] == "38.0 %"
    assert shown["Calibration-best (not guaranteed)"] == "68.1 %"
    assert shown["What certainty costs here"] == "30.1 pp of saving"
    captions = " ".join(c.value for c in at.caption)
    assert ("the confidence cascade at α = 0.98, m = 2, n = 5. Drop ≤ 0.3 pp with 90 % "
            "confidence (δ = 0.1; its own bound +0.22 pp)") in captions
    assert "65–72 % saved, a mean drop of +0.67 pp, above the target in 70 % of them" in captions
    assert "too small for it" in captions  # N/4 and N/2 cannot certify 0.3 pp
    row = at.table[-1].value["trec"]  # data sets are columns
    assert row["Certified (calibration)"] == "38.0 %"
    assert row["It breaks the target in"] == "70 % of re-splits"
    assert row["With 4× the labels"] == "too small to say"
