"""Server start: import what pages need and fill the caches the first visitor's default
view (Overview) reads. app.py runs :func:`run` in a background thread when the server
starts (st.App lifespan), so the first page view finds them cached. (Not the What-if
frontier sweeps: ~0.5 s of CPU that would slow a first Overview run.) Imports stay
inside the function: the thread, not the server's start, pays for them.

Three phases, because the thread shares the GIL and two cores with the first visitor:
1. what the Overview's first screen reads (Plotly, the stored answer): light;
2. scikit-learn, SciPy and the default view's fit: seconds of CPU. They wait while a
   visitor who has just arrived is drawn their first screen (which needs none of them);
3. PyTorch and the Live model: after a visitor's whole first run.
"""

from __future__ import annotations

import logging
import threading

ARRIVAL_WAIT_S = 4.0  # phase 2 starts when nobody has opened the app by then...
FIRST_SCREEN_WAIT_S = 20.0  # ...or when the visitor's first screen is out (or this)
FIRST_RUN_WAIT_S = 120.0  # a server nobody visits still loads Live's model after this
_run_started = threading.Event()  # a session's script run has begun
_first_screen = threading.Event()  # a session's first screen (stored numbers) was sent
_first_run = threading.Event()  # set when a session's first script run has finished


def run_started() -> None:
    """app.py, at the start of every run."""
    _run_started.set()


def first_screen_sent() -> None:
    """A page (or app.py, at the end of a run) has sent what a visitor sees first: the
    warm-up may now take the CPU for scikit-learn, SciPy and the first fit."""
    _first_screen.set()


def first_run_finished() -> None:
    """app.py, at the end of every run: from now on the warm-up may load what the first
    screen does not need (PyTorch and the Live model)."""
    _first_screen.set()
    _first_run.set()


def run() -> None:
    """Imports, then the default view's caches; best effort (a failure is logged and the
    first visitor computes them as before)."""
    try:
        from ui import charts  # first: a first run's Plotly preload needs Plotly

        charts.warm_up()
        from ui import answer, datasets, memo, settings  # the first screen's

        found = datasets.shipped()
        name = datasets.default_dataset(list(found))
        if name is None:
            return
        cache = memo.load(found[name])
        cfg = settings.config_from(cache, settings.defaults(cache))
        memo.stored_answer(cache)  # in the Overview's order: its answer comes first
        if _run_started.wait(ARRIVAL_WAIT_S):
            _first_screen.wait(FIRST_SCREEN_WAIT_S)
        from ui import compute, price, widgets  # noqa: F401  (scikit-learn, SciPy: the rest)

        answer.recommended(cache)  # computed here only when tune stored none
        price.warm_up(cache)  # computed only when tune stored none
        compute.kpis(cache, cfg)
        compute.results(cache, cfg)
        answer.shipped_recommendations()  # last: the summary table further down
        # PyTorch and the model (seconds of CPU, the GIL included) would compete with the
        # first visitor's first screen on a busy machine: they wait for its end
        _first_run.wait(FIRST_RUN_WAIT_S)
        from ui import live  # then Live's opening setting and its model (PyTorch)

        live.warm_up(cache, cfg)
    except Exception:
        logging.getLogger(__name__).exception("DIMEE Studio warm-up failed")
