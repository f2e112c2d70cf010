"""Real browser: a link to a page in real units with an edited profile, opened in a fresh
browser (no cookies, no session), shows every KPI exactly as the sender saw it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from dimee_core.profile_code import decode
from tests.browser import KPI, chromium_browser, streamlit_server, wait_idle

pytestmark = pytest.mark.browser  # skipped without Chromium/Playwright (conftest)

KPI_JS = """() => Object.fromEntries([...document.querySelectorAll('%s')].map(m => [
  m.querySelector('[data-testid="stMetricLabel"]').textContent.trim(),
  m.querySelector('[data-testid="stMetricValue"]').textContent.trim()]))""" % KPI


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as (url, _), chromium_browser() as browser:
        yield url, browser


def _kpis(page) -> dict[str, str]:
    page.locator(KPI).first.wait_for(timeout=120000)
    wait_idle(page, 120000)
    return page.evaluate(KPI_JS)


def _warnings(page) -> list[str]:
    return page.locator('[data-testid="stAlertContentWarning"]').all_text_contents()


def _click(page, name: str) -> str:
    """Press a profile action in the sidebar; the URL's pf once the run wrote it."""
    before = page.evaluate("() => location.search")
    page.get_by_role("button", name=name).first.click()
    page.wait_for_function("old => location.search !== old", arg=before, timeout=60000)
    wait_idle(page, 120000)
    return parse_qs(urlparse(page.url).query)["pf"][0]


def test_a_link_with_an_edited_profile_reproduces_every_kpi_in_a_fresh_browser(server):
    url, browser = server
    sender = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = sender.new_page()
    page.goto(f"{url}/?unit=ms")
    _kpis(page)
    _click(page, "Uplink ÷3")
    code = _click(page, "RTT ×2")
    p = decode(code)  # the edit is in the link, exactly
    assert code.startswith("lte~") and p.phone_cloud.uplink_mbps == 2.0
    assert p.phone_cloud.rtt_ms == 140.0 and p.phone_edge.rtt_ms == 100.0
    shown, warned = _kpis(page), _warnings(page)
    assert any(k.endswith("Mean latency") for k in shown) and len(shown) >= 8
    link = page.url
    sender.close()

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = fresh.new_page()
    other.goto(link)
    again = _kpis(other)
    assert again == shown
    assert parse_qs(urlparse(other.url).query)["pf"] == [code]
    assert _warnings(other) == warned  # the same risk warnings, and no URL complaint
    assert not [w for w in warned if "URL parameter" in w]
    fresh.close()
