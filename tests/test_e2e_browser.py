"""Real browser: the app served by `streamlit run`, driven by Debian Chromium."""

from __future__ import annotations

import pytest

from tests.browser import ROOT, chromium_browser, first_chart, kpi_value, slider_thumb, \
    type_text, streamlit_server, wait_idle, wait_kpi_change, wait_kpi_text, wait_url_param

pytestmark = pytest.mark.browser  # skipped without Chromium/Playwright (conftest)

PAGES = {"": "DIMEE Studio — overview",  # the default page lives at "/"
         "whatif": "What-if: change the costs, see the routing",
         "samples": "Samples: follow one request", "learn": "Learn: what is an early exit?",
         "compare": "Compare two scenarios"}
LIVE_TITLE = "Live: type a text, watch it exit and get routed"
SCREENSHOT = ROOT / "docs" / "screenshot.png"


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as (url, _), chromium_browser() as browser:
        yield url, browser


@pytest.fixture(scope="module")
def page(server):
    url, browser = server
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.base_url = url
    yield pg
    pg.close()


def _no_exception(pg) -> None:
    assert pg.locator('[data-testid="stException"]').count() == 0
    assert pg.locator('[data-testid="stAlertContentError"]').count() == 0


def test_every_page_loads(page):
    for path, title in PAGES.items():
        page.goto(f"{page.base_url}/{path}")
        page.get_by_role("heading", name=title).first.wait_for(timeout=60000)
        first_chart(page).wait_for(timeout=60000)
        _no_exception(page)


def test_cost_slider_changes_kpi_and_screenshot(page):
    # A setting that uses the edge and the phone: a certified default can send every
    # sample to the cloud, whose saving is 0 % at any offload cost.
    page.goto(f"{page.base_url}/whatif?m=2&n=4&k=8")
    value = kpi_value(page, "Cost reduction")
    value.wait_for(timeout=60000)
    wait_idle(page)  # a press during the first run could hit a slider being re-mounted
    before = value.text_content()
    thumb = slider_thumb(page, "Offload phone → cloud")
    thumb.focus()
    for _ in range(4):  # steps of 0.25 up from o_cloud = 5
        thumb.press("ArrowRight")
    after = wait_kpi_change(page, "Cost reduction", before)
    assert after != before
    wait_idle(page)
    # the URL mirrors the setting the KPIs were computed for; no press was lost (a
    # preset widget once mirrored the costs and a stale value reset them mid-sequence)
    page.wait_for_function("() => location.search.includes('oc=6&')", timeout=30000)
    wait_idle(page)
    assert thumb.get_attribute("aria-valuetext") == "6.00"
    first_chart(page).wait_for()
    page.wait_for_timeout(1500)  # let charts finish drawing
    _no_exception(page)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


def _history(pg) -> int:
    return pg.evaluate("history.length")


def _thumb_shows(thumb, text: str) -> None:
    from playwright.sync_api import expect

    expect(thumb).to_have_attribute("aria-valuetext", text, timeout=30000)


def test_back_and_forward_replay_one_entry_per_change(page):
    """Three key presses on a slider: exactly three history entries; Back brings the
    slider and the KPI back to the previous value, Forward returns; a page switch adds
    one entry whose URL still carries the settings, and Back undoes it."""
    page.goto(f"{page.base_url}/whatif?m=2&n=4&k=8")  # a setting whose saving moves with oc
    value = kpi_value(page, "Cost reduction")
    value.wait_for(timeout=60000)
    wait_url_param(page, "ds", "rt-snippets")  # the arrival run got to its end
    wait_idle(page)
    start, kpis = _history(page), [value.text_content()]
    thumb = slider_thumb(page, "Offload phone → cloud")
    for oc in ("5.25", "5.5", "5.75"):  # steps of 0.25 up from o_cloud = 5
        thumb.focus()
        thumb.press("ArrowRight")
        wait_url_param(page, "oc", oc)
        wait_idle(page)
        kpis.append(value.text_content())
    assert _history(page) == start + 3
    assert kpis[2] != kpis[3], kpis  # else Back could not show the KPI going back
    page.go_back()
    wait_url_param(page, "oc", "5.5")
    _thumb_shows(thumb, "5.50")
    wait_kpi_text(page, "Cost reduction", kpis[2])
    wait_idle(page)
    assert "oc=5.5&" in page.url and _history(page) == start + 3  # not rewritten, no entry
    page.go_forward()
    _thumb_shows(thumb, "5.75")
    wait_kpi_text(page, "Cost reduction", kpis[3])
    wait_idle(page)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Samples").click()
    page.get_by_role("heading", name=PAGES["samples"]).first.wait_for(timeout=60000)
    wait_url_param(page, "oc", "5.75")  # the switch keeps the settings in the URL
    wait_idle(page)
    assert _history(page) == start + 4
    page.go_back()
    page.get_by_role("heading", name=PAGES["whatif"]).first.wait_for(timeout=60000)
    _thumb_shows(thumb, "5.75")
    _no_exception(page)


TAB_STOPS_JS = """() => {
  const a = document.activeElement, main = document.querySelector('[data-testid="stMain"]');
  return [Boolean(main && a && main.contains(a)),
          (a && a.closest('[data-testid]') || {getAttribute: () => ''})
            .getAttribute('data-testid')];
}"""


def _tab_stops(pg, limit: int = 80) -> list[str]:
    """Press Tab from a fresh page until focus enters the main area; the stops before."""
    stops = []
    for _ in range(limit):
        pg.keyboard.press("Tab")
        inside, testid = pg.evaluate(TAB_STOPS_JS)
        if inside:
            return stops
        stops.append(testid)
    raise AssertionError(f"focus never reached the main area: {stops}")


def test_few_tab_stops_before_the_main_content(server):
    """Keyboard users reach the page fast: on the Overview few stops come before it (the
    sidebar's setting sections start closed outside What-if), and the first stop is a
    skip link whose Enter moves focus into the main area on every page."""
    url, browser = server
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    for path in ("", "whatif"):
        pg.goto(f"{url}/{path}")
        first_chart(pg).wait_for(timeout=60000)
        wait_idle(pg)
        pg.locator('[data-testid="stSidebar"] [data-testid="stExpander"]').nth(4).wait_for(
            timeout=60000)  # the sidebar is drawn after the page
        stops = _tab_stops(pg)
        print(f"tab stops before the main content on /{path}: {len(stops)}")
        if path == "":
            assert len(stops) <= 16, stops  # 50 with the sections open
        pg.goto(f"{url}/{path}")
        first_chart(pg).wait_for(timeout=60000)
        pg.keyboard.press("Tab")
        assert pg.evaluate(TAB_STOPS_JS)[1] == "stSkipToContent"
        pg.keyboard.press("Enter")
        pg.keyboard.press("Tab")
        assert pg.evaluate(TAB_STOPS_JS)[0], "the skip link did not move focus"
    pg.close()


def test_deep_link_applies_url_settings(page):
    page.goto(f"{page.base_url}/samples?oc=7.5&m=1&n=3&policy=reward")
    page.get_by_role("heading", name=PAGES["samples"]).first.wait_for(timeout=60000)
    thumb = slider_thumb(page, "Offload phone → cloud")
    thumb.wait_for(state="attached", timeout=60000)
    assert thumb.get_attribute("aria-valuetext") == "7.50"
    page.wait_for_function("() => location.search.includes('policy=reward')", timeout=30000)
    _no_exception(page)


def test_live_page_type_a_sentence_see_the_route(page, smoke_cache_dir):
    """The real model in a real browser: a typed sentence comes back routed. Its own
    server, on a smoke build that ships its model (DIMEE_CACHE_ROOT); a new tab of the
    module's browser (one Playwright per process)."""
    with streamlit_server(cache_root=smoke_cache_dir.parent) as (url, _):
        pg = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            pg.goto(f"{url}/live")
            pg.get_by_role("heading", name=LIVE_TITLE).first.wait_for(timeout=90000)
            pg.locator('[data-testid="stTextArea"] textarea').first.wait_for(timeout=90000)
            type_text(pg, "An utterly charming, funny and moving film.")
            for method in ("DIMEE", "DIMEE+"):
                tier = kpi_value(pg, f"{method} sends it to")
                tier.wait_for(timeout=90000)
                assert tier.text_content() in ("mobile", "edge", "cloud")
            first_chart(pg).wait_for(timeout=60000)
            assert pg.get_by_text("Rule: cluster").count() == 2
            _no_exception(pg)
        finally:
            pg.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(server, scheme):
    """axe-core on every page (Live with a routed text), in the user's light and dark
    system theme (the app follows it): no serious or critical violation (contrast,
    names, roles...)."""
    from axe_playwright_python.sync_playwright import Axe

    url, browser = server
    pg = browser.new_page(viewport={"width": 1400, "height": 1000}, color_scheme=scheme)
    axe, found = Axe(), []
    for path, title in {**PAGES, "live": LIVE_TITLE}.items():
        pg.goto(f"{url}/{path}")
        pg.get_by_role("heading", name=title).first.wait_for(timeout=60000)
        if path == "live":  # its charts need a routed text (rt-snippets ships its model)
            pg.locator('[data-testid="stTextArea"] textarea').first.wait_for(timeout=90000)
            wait_idle(pg)
            type_text(pg, "An utterly charming, funny and moving film.")
            kpi_value(pg, "DIMEE sends it to").wait_for(timeout=120000)
        first_chart(pg).wait_for(timeout=60000)
        wait_idle(pg)
        pg.wait_for_timeout(500)  # the sidebar's widgets settle
        for v in axe.run(pg).response["violations"]:
            if v["impact"] in ("serious", "critical"):
                found.append((path or "overview", v["id"], [n["target"] for n in v["nodes"]]))
    pg.close()
    assert not found, found


PHONE = ROOT / "docs" / "phone.png"


def test_phone_width_needs_no_sideways_scrolling(server):
    """At 390 x 844 the Overview's KPIs and its summary table fit the screen: the main
    area never scrolls sideways and every KPI lies within the viewport."""
    url, browser = server
    pg = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    pg.goto(url)
    pg.get_by_role("heading", name=PAGES[""]).first.wait_for(timeout=60000)
    first_chart(pg).wait_for(timeout=60000)
    wait_idle(pg)
    pg.locator('[data-testid="stTable"]').first.wait_for(timeout=60000)
    overflow = pg.evaluate("""() => {
      const main = document.querySelector('[data-testid="stMain"]');
      const wide = [...document.querySelectorAll('[data-testid="stMetric"], '
                    + '[data-testid="stTable"]')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                || [e, ...e.querySelectorAll('*')].some(c =>
                     c.scrollWidth > c.clientWidth + 1
                     && getComputedStyle(c).overflowX !== 'visible'))
        .map(e => e.textContent.slice(0, 40));
      return {main: main.scrollWidth - main.clientWidth, wide: wide};
    }""")
    assert overflow["main"] <= 1 and not overflow["wide"], overflow
    pg.wait_for_timeout(1000)
    pg.screenshot(path=str(PHONE))
    pg.close()
