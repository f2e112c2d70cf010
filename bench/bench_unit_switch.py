"""Unit switch on the Overview → the answer's new KPIs, in a real browser:
`python bench/bench_unit_switch.py [--rounds 5] [--load N]`.

Each click on the sidebar's "Show costs in" radio (abstract → ms → mJ → $ → abstract …)
is timed until the first cost KPI (the recommended answer's) carries the new unit's label.
The first cycle is not timed (each unit's first visit fills the server's caches). The
reference, measured in the same run on the same machine: the same click on a trivial app
whose only content is that radio and one st.metric following it, i.e. Streamlit's own
round trip. Target: median ≤ 300 ms; the ratio says how much the app adds.
``--load N``: everything under a parallel load of N busy processes. Timing starts once
the server's warm-up (Live's model, in the background) has ended. Each switch is also
split, from the page's websocket frames, into click → request sent (the browser still
busy drawing the previous run), sent → the frame carrying the new label (the server) and
that frame → the label on screen (the browser drawing it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_ui import cpu_load, wait_server_idle  # noqa: E402
from tests.browser import KPI, chromium_browser, streamlit_server, wait_idle  # noqa: E402
from ui.units import UNITS  # noqa: E402

ORDER = ("ms", "mJ", "$", "abstract")
TRIVIAL_APP = """import streamlit as st

KPI = {"abstract": "Mean cost", "ms": "Mean latency", "mJ": "Phone energy", "$": "Money"}
with st.sidebar:
    with st.expander("Real units (ms, mJ, $)", expanded=True):
        u = st.radio("Show costs in", list(KPI), key="unit", horizontal=True)
st.metric("Answer accuracy", "90 %")
st.metric(f"Answer {KPI[u]}", "1.0")
"""
COST_LABELS = [u.kpi for u in UNITS.values()]
FIRST_COST_JS = """([label, names]) => {
  const l = [...document.querySelectorAll('%s [data-testid="stMetricLabel"]')].find(
    e => names.some(n => e.textContent.trim().endsWith(n)));
  return l && l.textContent.trim().endsWith(label);
}""" % KPI  # the first cost KPI on the page: the recommended answer's


SECTION = '[data-testid="stSidebar"] details'


def _click_unit(page, key: str) -> None:
    radio = page.locator('[data-testid="stSidebar"] [data-testid="stRadio"]').filter(
        has_text="Show costs in").first
    option = radio.get_by_text(key, exact=True)
    if not option.is_visible():  # its section starts closed in abstract mode
        page.locator(SECTION).filter(has_text="Real units").first.locator(
            "summary").first.click(force=True)
        option.wait_for(state="visible")  # a click during the opening was lost
    option.click(force=True)  # the sidebar redraws each run


def switch_times(browser, app: str, rounds: int) -> tuple[list[float], list[tuple]]:
    """Each timed switch's seconds, and its (sent, label frame, on screen) split."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    frames: list[tuple[float, bool, bytes]] = []  # (time, sent by the page, payload)

    def watch(ws) -> None:
        for event, sent in (("framesent", True), ("framereceived", False)):
            ws.on(event, lambda p, sent=sent: frames.append(
                (time.perf_counter(), sent, p if isinstance(p, bytes) else p.encode())))
    page.on("websocket", watch)
    times, parts = [], []
    with streamlit_server(app=app) as (url, _):
        page.goto(url)
        page.locator(KPI).first.wait_for(timeout=300000)
        # the sidebar is drawn after the page (app.py): wait for its unit section
        page.locator(SECTION).filter(has_text="Real units").first.wait_for(
            state="attached", timeout=600000)
        wait_idle(page, 300000)
        wait_server_idle()
        for r in range(rounds + 1):
            for key in ORDER:
                label = UNITS[key].kpi
                frames.clear()
                t = time.perf_counter()
                _click_unit(page, key)
                page.wait_for_function(FIRST_COST_JS, arg=[label, COST_LABELS],
                                       polling="raf", timeout=300000)
                seen = time.perf_counter()
                if r:  # round 0 warms each unit's caches up
                    times.append(seen - t)
                    sent = next((f[0] for f in frames if f[1]), t)
                    got = next((f[0] for f in frames if not f[1] and f[0] > sent
                                and label.encode() in f[2]), seen)
                    parts.append((sent - t, got - sent, seen - got))
                wait_idle(page, 300000)
    page.close()
    return times, parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="timed cycles through the units")
    ap.add_argument("--load", type=int, default=0, metavar="N",
                    help="run under a parallel load of N busy processes")
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        if args.load:
            stack.enter_context(cpu_load(args.load))
        print(f"load: {os.getloadavg()[0]:.1f} (1-min average at start), "
              f"extra busy processes: {args.load}")
        with chromium_browser() as browser, tempfile.TemporaryDirectory() as tmp:
            trivial = Path(tmp) / "trivial_units_app.py"
            trivial.write_text(TRIVIAL_APP)
            ours, split = switch_times(browser, "app.py", args.rounds)
            ref, _ = switch_times(browser, str(trivial), args.rounds)
    mo, mr = statistics.median(ours), statistics.median(ref)
    p90 = lambda xs: sorted(xs)[int(round(0.9 * (len(xs) - 1)))]
    print(f"unit switch → first KPI in the new unit (median of {len(ours)}): Overview "
          f"{1000 * mo:.0f} ms (p90 {1000 * p90(ours):.0f} ms), trivial radio+metric app "
          f"{1000 * mr:.0f} ms (p90 {1000 * p90(ref):.0f} ms): ratio {mo / mr:.2f}× "
          f"(target: Overview median ≤ 300 ms); load at the end "
          f"{os.getloadavg()[0]:.1f}")
    names = ("click → sent (browser busy)", "sent → label frame (server)",
             "frame → on screen (browser)")
    print("Overview, medians: " + ", ".join(
        f"{n} {1000 * statistics.median(p[i] for p in split):.0f} ms"
        for i, n in enumerate(names)))


if __name__ == "__main__":
    main()
