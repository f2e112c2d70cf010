"""The Overview's first screen (title, the stored answer, its price of certainty and its
curve) is drawn before scikit-learn, SciPy or PyTorch is imported: a cold start then
waits for Streamlit, pandas and Plotly only (issue 21). A fresh interpreter runs the real
app through AppTest and notes which of them are loaded at the moment the page reports its
first screen sent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a fresh interpreter runs the whole app

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sklearn", "scipy", "torch", "transformers", "matplotlib")

PROBE = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
from streamlit.testing.v1 import AppTest
from ui import warmup

seen = {{}}
sent = warmup.first_screen_sent

def spy():
    if "loaded" not in seen:  # the page's own call; app.py's at the end comes later
        seen["loaded"] = sorted(m for m in {HEAVY!r} if m in sys.modules)
    sent()

warmup.first_screen_sent = spy
at = AppTest.from_file({str(ROOT / "app.py")!r}, default_timeout=300).run()
print(json.dumps({{
    "loaded_at_first_screen": seen.get("loaded"),
    "sklearn_after_the_run": "sklearn" in sys.modules,
    "exceptions": [str(e.value) for e in at.exception],
    "markdown": [m.value for m in at.markdown],
    "charts": len(at.get("plotly_chart")),
}}))
"""


@pytest.fixture(scope="module")
def probe() -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_first_screen_imports_no_heavy_library(probe):
    assert probe["exceptions"] == []
    assert probe["loaded_at_first_screen"] == []


def test_the_rest_of_the_page_still_runs_after_it(probe):
    """So the probe can fail: the same run fits routers (scikit-learn) below the first
    screen and draws the answer and the page's charts."""
    assert probe["sklearn_after_the_run"] is True
    assert any("held-out test samples" in m for m in probe["markdown"])
    assert probe["charts"] >= 3
