"""Server start: import the heavy modules and fill the caches the first visitor's default
view (Overview) reads. app.py runs :func:`run` in a background thread when the server
starts (st.App lifespan), so the first page view finds them cached. (Not the What-if
frontier sweeps: ~0.5 s of CPU that would slow a first Overview run.) Imports stay
inside the function: the thread, not the server's start, pays for them."""

from __future__ import annotations

import logging
import threading

FIRST_RUN_WAIT_S = 120.0  # a server nobody visits still loads Live's model after this
_first_run = threading.Event()  # set when a session's first script run has finished


def first_run_finished() -> None:
    """app.py, at the end of every run: from now on the warm-up may load what the first
    screen does not need (PyTorch and the Live model)."""
    _first_run.set()


def run() -> None:
    """Imports, then the default view's caches; best effort (a failure is logged and the
    first visitor computes them as before)."""
    try:
        from ui import charts  # first: a first run's Plotly preload needs Plotly

        charts.warm_up()
        from ui import compute, datasets, settings, widgets  # noqa: F401  (the rest)

        found = datasets.shipped()
        name = datasets.default_dataset(list(found))
        if name is None:
            return
        cache = compute.load(found[name])
        cfg = settings.config_from(cache, settings.defaults(cache))
        compute.recommended(cache)  # in the Overview's order: its answer comes first
        from ui import price

        price.warm_up(cache)  # beside the answer (read back when tune stored it)
        compute.kpis(cache, cfg)
        compute.results(cache, cfg)
        datasets.shipped_recommendations()  # last: the summary table further down
        # PyTorch and the model (seconds of CPU, the GIL included) would compete with the
        # first visitor's first screen on a busy machine: they wait for its end
        _first_run.wait(FIRST_RUN_WAIT_S)
        from ui import live  # then Live's opening setting and its model (PyTorch)

        live.warm_up(cache, cfg)
    except Exception:
        logging.getLogger(__name__).exception("DIMEE Studio warm-up failed")
