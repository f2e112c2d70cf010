"""Shared by tests/test_e2e_browser.py and bench/bench_ui.py: run the app in a real
Streamlit server and drive Debian Chromium through Playwright."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
KPI = '[data-testid="stMetric"]'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(timeout: float = 60.0, log_path: str | os.PathLike | None = None,
                     cache_root: str | os.PathLike | None = None, app: str = "app.py"
                     ) -> Iterator[tuple[str, float]]:
    """Start `streamlit run app.py` on a free loopback port; yield (base URL, spawn time
    as time.perf_counter()) once /_stcore/health answers. Stopped by its own PID:
    terminate, then kill. ``log_path``: keep the server's output there. ``cache_root``:
    serve the caches of that folder instead of cache/ (DIMEE_CACHE_ROOT). ``app``: another
    script (bench/bench_ui.py's trivial reference app), run from the same folder."""
    port = free_port()
    log = open(log_path or os.devnull, "wb")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", app, "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=log,
        env=dict(os.environ, **({"DIMEE_CACHE_ROOT": str(cache_root)} if cache_root else {})))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early with code {proc.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("streamlit did not become healthy")
            time.sleep(0.1)
        yield url, started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@contextmanager
def chromium_browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def chromium_page(width: int = 1400, height: int = 1000):
    with chromium_browser() as browser:
        yield browser.new_page(viewport={"width": width, "height": height})


def type_text(page, text: str, box: str = '[data-testid="stTextArea"] textarea') -> None:
    """Type into a Streamlit text area and submit it (Ctrl+Enter), as a user would."""
    area = page.locator(box).first
    area.click()
    area.fill(text)
    area.press("Control+Enter")


def first_chart(page):
    """The first *visible* Plotly chart (a session's first run also holds a hidden one
    that only preloads Plotly's JavaScript; see app.py)."""
    return page.locator('[data-testid="stPlotlyChart"]').filter(visible=True).first


def kpi_value(page, label: str):
    """Locator of the value of the KPI whose label is exactly ``label`` (the Overview
    also shows "DIMEE+ Cost reduction" etc.)."""
    exact = page.locator('[data-testid="stMetricLabel"]').filter(
        has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    return page.locator(KPI).filter(has=exact).first.locator(
        '[data-testid="stMetricValue"]')


def slider_thumb(page, label: str):
    """The slider's keyboard-focusable thumb (a visually hidden range input)."""
    return page.locator('[data-testid="stSlider"]').filter(has_text=label).first.locator(
        'input[type="range"]')


def reveal(page, label: str) -> None:
    """Open the closed sidebar section that holds the widget labelled ``label`` (outside
    What-if the setting sections start closed, to keep tab stops few)."""
    section = page.locator('[data-testid="stSidebar"] details').filter(has_text=label).first
    section.wait_for(state="attached", timeout=300000)
    if section.get_attribute("open") is None:
        section.locator("summary").first.click()
    page.locator('[data-testid="stSlider"]').filter(has_text=label).first.wait_for(
        timeout=60000)


def wait_idle(page, timeout_ms: float = 60000) -> None:
    """Until the current script run finished (Streamlit's 'running' icon is gone)."""
    page.wait_for_function("() => !document.querySelector("
                           "'[data-testid=\"stStatusWidgetRunningIcon\"]')",
                           timeout=timeout_ms)


_KPI_JS = """([label, old]) => {
  const m = [...document.querySelectorAll('[data-testid="stMetric"]')].find(e => {
    const l = e.querySelector('[data-testid="stMetricLabel"]');
    return l && l.textContent.trim() === label;
  });
  const v = m && m.querySelector('[data-testid="stMetricValue"]');
  return v && v.textContent !== old ? v.textContent : false;
}"""


def wait_kpi_text(page, label: str, text: str, timeout_ms: float = 20000) -> None:
    """Poll every animation frame until the KPI ``label`` shows exactly ``text``."""
    page.wait_for_function(_KPI_JS.replace("!== old", "=== old"), arg=[label, text],
                           polling="raf", timeout=timeout_ms)


def wait_url_param(page, key: str, value: str, timeout_ms: float = 30000) -> None:
    """Until the page URL carries ``key=value`` (app.py mirrors the settings into the URL
    at the end of each run, so this also means that run got that far)."""
    page.wait_for_function("([k, v]) => new URLSearchParams(location.search).get(k) === v",
                           arg=[key, value], timeout=timeout_ms)


def wait_kpi_change(page, label: str, old: str, timeout_ms: float = 20000) -> str:
    """Poll every animation frame until the KPI ``label`` shows something else than
    ``old`` (re-queried each time: Streamlit may replace the element)."""
    return page.wait_for_function(_KPI_JS, arg=[label, old], polling="raf",
                                  timeout=timeout_ms).json_value()
