"""Progress while another data set loads (a switch).

Streamlit keeps the previous run's elements on screen, faded, until the new run
replaces them one by one: after a switch that showed the old data set's KPIs under the
new caption for seconds. app.py therefore draws every page inside one ``st.empty``
slot; on a switch this module first fills that slot with a progress bar (which removes
the old page at once), then computes what every page reads, then the page replaces it.
A session's first run has no old page to hide: it draws at once, the Overview's answer
from stored numbers first, and each later section waits with its own spinner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from ui.text import md

DRAWN = "_drawn_ds"  # the data set the last finished run drew


@dataclass
class Loading:
    bar: Any
    dataset: str | None


def start(slot) -> Loading | None:
    """A progress bar in ``slot`` when this run draws another data set than the last
    one (None otherwise: a slider move keeps the page in place)."""
    ss = st.session_state
    want = ss.get("ds")
    if ss.setdefault(DRAWN, want) == want:  # no switch; a first run has nothing old
        return None
    label = f"“{md(want)}”" if want else "the data set"
    # an element, not a container: a container in the slot would inherit the old page's
    # elements (Streamlit keeps a same-type block's children), an element drops them
    return Loading(slot.progress(0.05, text=f"Loading {label}…"), want)


def finish(loading: Loading, ctx) -> None:
    """Fill the caches the page reads (k-means fit, KPIs, every method), step by step."""
    from ui import compute  # on a switch only: a first run imports no scikit-learn early

    cache, cfg = ctx.cache, ctx.cfg
    loading.bar.progress(0.25, text=f"Clustering what the phone sees on "
                                    f"{cache.calibration.n:,} calibration samples (k = {cfg.k})…")
    try:
        compute.kpis(cache, cfg)
        loading.bar.progress(0.7, text=f"Scoring DIMEE, DIMEE+ and the baselines on "
                                       f"{cache.test.n:,} test samples…")
        compute.results(cache, cfg)
    except ValueError:
        pass  # the page shows the error in its place
    loading.bar.progress(1.0, text="Drawing…")
    st.session_state[DRAWN] = ctx.dataset
