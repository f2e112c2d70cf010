"""Samples page state in the URL: the router, the filters and the selected sample, so a
link (and Back/Forward) shows the same request."""

from __future__ import annotations

import streamlit as st

from dimee_core import explore
from dimee_core.costs import TIERS
from ui import url

ROUTERS = ("dimee", "dimee_plus")
OUTCOMES = ("all", "correct", "wrong")
MAX_TEXT = 200


def params(n_test: int) -> tuple[url.Param, ...]:
    return (url.Param("smp_method", url.choice(ROUTERS)),
            url.Param("smp_tier", url.subset(TIERS), url.joined),
            url.Param("smp_pool", url.subset(explore.POOLS), url.joined),
            url.Param("smp_outcome", url.choice(OUTCOMES)),
            url.Param("smp_text", url.text(MAX_TEXT)),
            url.Param("smp_id", url.number(0, n_test - 1, whole=True)))


def start(n_test: int) -> None:
    """Defaults for the page's widgets (set here, not as widget defaults, so the URL can
    override them), then the URL's values on a run that adopts it."""
    ss = st.session_state
    for key, value in (("smp_method", "dimee"), ("smp_tier", list(TIERS)),
                       ("smp_pool", list(explore.POOLS)), ("smp_outcome", "all"),
                       ("smp_text", "")):
        ss.setdefault(key, value)
    url.adopt(params(n_test))


def mirror(n_test: int) -> None:
    url.mirror(params(n_test))
