"""The Learn page defines each term where it first appears and covers every sidebar knob
(AppTest on the shipped rt-snippets cache)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui import lesson, settings

pytestmark = pytest.mark.slow  # AppTest: each test runs the app (seconds)

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Every text element of the Learn page's main area, in page order."""
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page("pages/learn.py").run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    out = []
    for node in at.main:  # depth-first, in page order
        value = getattr(node, "value", None)
        if isinstance(value, str) and node.type in ("markdown", "caption", "alert", "heading"):
            out.append(value)
    return out


# term as written on the page -> words that must sit in the same text (its definition)
DEFINED = {"ε": "accuracy drop you allow", "pp": "percentage points",
           "calibration split": "learns its clusters", "principal component":
           "direction along which the samples differ most", "μ": "how much accuracy one",
           "resume": "hidden state", "recompute": "starts again from layer 1",
           "safety margin": "standard errors"}


@pytest.mark.parametrize("term", sorted(DEFINED))
def test_each_term_is_defined_where_it_first_appears(texts, term):
    pattern = re.compile(rf"(?<![\w\\]){re.escape(term)}(?!\w)", re.IGNORECASE)
    first = next((t for t in texts if pattern.search(t)), None)
    assert first is not None, f"{term!r} never appears on the Learn page"
    assert DEFINED[term] in first, (term, first[:300])


def test_every_sidebar_knob_is_covered(texts):
    page = "\n".join(texts)
    for key, setting in settings.SETTINGS.items():
        assert f"**{setting.label}**" in page, key
        assert lesson.KNOB_WORDS[key] in page, key
    for name, _ in lesson.OTHER_CONTROLS:
        assert f"**{name}**" in page
