"""Server start: import the heavy modules and fill the caches the first visitor's default
view (Overview) reads. app.py runs :func:`run` in a background thread when the server
starts (st.App lifespan), so the first page view finds them cached. (Not the What-if
frontier sweeps: ~0.5 s of CPU that would slow a first Overview run.) Imports stay
inside the function: the thread, not the server's start, pays for them."""

from __future__ import annotations

import logging


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
        from ui import live  # then Live's opening setting and its model (PyTorch)

        live.warm_up(cache, cfg)
    except Exception:
        logging.getLogger(__name__).exception("DIMEE Studio warm-up failed")
