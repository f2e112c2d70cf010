"""Live's first load against the Overview's, in the same run: `python bench/bench_first_load.py
[--rounds 2]`.

Each round starts a fresh `streamlit run app.py` for each page (alternating, so both see
the same machine) and opens it in Chromium as a first visitor would: seconds from server
spawn until the page is drawn and idle (Overview: its first chart; Live: its text box and
example buttons, i.e. the model loaded). A second figure opens Live in a server whose
Overview was just drawn (a visitor who starts on the Overview). Target: Live ≤ 2× the
Overview (the server's warm-up loads Live's model and opening setting, ui/live.warm_up).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import chromium_browser, first_chart, streamlit_server, wait_idle  # noqa: E402


def _ready(page, path: str) -> None:
    if path == "live":
        page.locator('[data-testid="stTextArea"] textarea').first.wait_for(timeout=600000)
        page.locator('[data-testid="stButton"]').filter(has_text="Easy example").first \
            .wait_for(timeout=600000)
    else:
        first_chart(page).wait_for(timeout=600000)
    wait_idle(page, 600000)


def cold(browser, path: str) -> float:
    """Fresh server → ``path`` drawn and idle (seconds from spawn)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    with streamlit_server(timeout=120) as (url, spawned):
        page.goto(f"{url}/{path}")
        _ready(page, path)
        took = time.perf_counter() - spawned
    page.close()
    return took


def after_overview(browser) -> tuple[float, float]:
    """Fresh server: the Overview (from spawn), then Live in a new tab (from its open)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    with streamlit_server(timeout=120) as (url, spawned):
        page.goto(url)
        _ready(page, "")
        overview = time.perf_counter() - spawned
        live = browser.new_page(viewport={"width": 1400, "height": 1000})
        opened = time.perf_counter()
        live.goto(f"{url}/live")
        _ready(live, "live")
        took = time.perf_counter() - opened
        live.close()
    page.close()
    return overview, took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    print(f"load before: {os.getloadavg()[0]:.1f} (1-min average, {os.cpu_count()} cores)")
    ov, lv, seq_ov, seq_lv = [], [], [], []
    with chromium_browser() as browser:
        for _ in range(args.rounds):
            ov.append(cold(browser, ""))
            lv.append(cold(browser, "live"))
            a, b = after_overview(browser)
            seq_ov.append(a)
            seq_lv.append(b)
    mo, ml = statistics.median(ov), statistics.median(lv)
    print(f"cold first load (server spawn → page drawn, median of {args.rounds}): Overview "
          f"{mo:.1f} s, Live {ml:.1f} s: ratio {ml / mo:.2f}× (target ≤ 2×); Overview "
          f"{', '.join(f'{x:.1f}' for x in ov)}; Live {', '.join(f'{x:.1f}' for x in lv)}")
    print(f"Live opened right after the Overview was drawn (same server): "
          f"{', '.join(f'{x:.1f}' for x in seq_lv)} s after opening it; that Overview took "
          f"{', '.join(f'{x:.1f}' for x in seq_ov)} s from spawn")
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
