"""DIMEE Studio: `streamlit run app.py`. Router only; each page lives in pages/.

This file plays three roles:
- the Streamlit script of every session (run as ``__main__``): ``main()`` declares the
  pages with ``st.navigation``, settles the shared settings and runs the current page;
- the module every page imports for :func:`current` (its context, and the one place
  that handles Streamlit's legacy pages/ mode);
- the server entry point: ``streamlit run`` finds the ``st.App`` below and imports this
  file as a module once, at server start. Its lifespan hook starts ``ui.warmup`` in a
  background thread (heavy imports, the default view's caches), so the first visitor
  does not pay for them. Heavy imports therefore stay inside functions here.
"""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

if TYPE_CHECKING:
    from ui.sidebar import Context

PAGES = [  # url_path == file name: legacy pages/ mode picks the same page (current)
    ("pages/overview.py", "Overview", ":material/dashboard:"),
    ("pages/whatif.py", "What-if", ":material/tune:"),
    ("pages/samples.py", "Samples", ":material/search:"),
    ("pages/learn.py", "Learn", ":material/school:"),
    ("pages/compare.py", "Compare", ":material/compare_arrows:"),
    ("pages/live.py", "Live", ":material/bolt:"),
]

KNOB_PAGES = ("whatif",)  # pages whose sidebar setting sections start open

# Contrast (axe, WCAG AA 4.5:1 for small text), light and dark themes alike:
# - captions and block quotes: Streamlit fades the text colour to 60 % (#828180 on white,
#   3.9:1); 85 % keeps them lighter than body text;
# - slider values: drawn in the primary colour, which cannot reach 4.5:1 both against the
#   dark background and under the white text of selected chips; use the text colour
#   (selected segmented-control buttons likewise: their border and tint still show it).
# Layout: the page starts just below the header bar (Streamlit's 6rem left ~130 px empty
# above each title). Plotly's toolbar (ui.charts.config): a touch screen cannot hover,
# so Plotly would show it for good, over legends and labels: hidden there.
STYLE = ("<style>.stApp [data-testid='stCaptionContainer'], .stApp blockquote "
         "{color: inherit; opacity: 0.85} "
         ".stApp [data-testid='stSliderThumbValue'] {color: inherit} "
         ".stApp button[data-selected='true'] {color: inherit !important} "
         ".stApp [data-testid='stMainBlockContainer'] {padding-top: 2.5rem} "
         "@media (max-width: 640px) {.stApp [data-testid='stMainBlockContainer'] "
         "{padding-top: 3.75rem}} "  # a phone: below the header's menu button
         "@media (hover: none) {.stApp .modebar-container {display: none}}</style>")


def main() -> None:
    # an emoji favicon is an inline SVG; a ":material/…:" one is fetched from Google's
    # servers by every visitor's browser (a request to another host on each page load)
    st.set_page_config(page_title="DIMEE Studio", page_icon="🔀", layout="wide")
    head = st.container()  # always present, so the page body keeps its place every run
    with head:
        _preload_plotly()
        st.markdown(STYLE, unsafe_allow_html=True)  # a style-only st.html vanishes
    from ui import progress, sidebar, warmup  # after the preload: may wait for its imports

    warmup.run_started()  # the warm-up's heavy imports now wait for this first screen

    page = st.navigation([st.Page(path, title=title, icon=icon, default=i == 0,
                                  url_path=path.split("/")[1][:-3])
                          for i, (path, title, icon) in enumerate(PAGES)])
    body = st.empty()  # the whole page: replaced at once by a progress bar on a switch
    loading = progress.start(body)
    setup = sidebar.prepare()
    with head:
        for msg in st.session_state.pop("_url_warnings", []):  # shown once, on arrival
            st.warning(msg)
    try:
        if setup.ctx is not None:
            if loading is not None:
                progress.finish(loading, setup.ctx)
            with body.container():
                page.run()
        else:
            with body.container():
                st.title("DIMEE Studio")
                st.error(setup.problem)
    finally:  # always: an undrawn widget would lose its state at the end of the run
        sidebar.draw(setup, knobs_open=page.url_path in KNOB_PAGES)
        warmup.first_run_finished()  # the warm-up may now fit, then load Live's model


def current() -> Context:
    """The context main() built for this run; every page calls this first.

    Because a pages/ folder exists (the product's layout names it), Streamlit starts in
    legacy multipage mode and may run a page file on its own (a deep link on a fresh
    server; every AppTest run). Then run main() instead, which declares st.navigation
    (leaving that mode) and runs this same page (url_path == file name), and end this
    run. The one place that knows about that mode."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        main()
        st.stop()
    ctx = st.session_state.get("_ctx")
    if ctx is None:  # main() only runs pages with a context; be safe anyway
        st.stop()
    return ctx


def _preload_plotly() -> None:
    """A session's first run starts with an empty, hidden Plotly chart: the browser then
    fetches and evaluates Plotly's ~4.7 MB bundle (2-4 s on this machine) while this run
    still computes, instead of after the first real chart arrives. Later runs skip it."""
    if st.session_state.get("_plotly_preloaded"):
        return
    st.session_state["_plotly_preloaded"] = True
    with st.container(key="plotly_preload"):  # st-key-<key> is the container's CSS class
        st.html("<style>.st-key-plotly_preload {display: none}</style>")
        st.plotly_chart({"data": [{"type": "bar"}]}, key="plotly_preload_chart")


@asynccontextmanager
async def _lifespan(_app):
    from ui import upload, warmup  # light: no scikit-learn (warmup imports it later)

    upload.remove_orphans()  # uploads of servers that were killed
    threading.Thread(target=warmup.run, name="dimee-warm-up", daemon=True).start()
    try:
        yield
    finally:  # server stop: no upload outlives it
        upload.remove_all()


if __name__ == "__main__":
    main()
elif not st.runtime.exists() and get_script_run_ctx() is None:
    # imported by `streamlit run` before its runtime starts (not by a page in a run)
    app = st.App(__file__, lifespan=_lifespan)
