"""Issue 20 in a real browser (Debian Chromium, `streamlit run` on the shipped caches):
labels not cut, toolbars only on hover, titles near the top, filter chips visible,
Compare aligned, the preset named, one number format, Live's table without empty rows."""

from __future__ import annotations

import re

import pytest

from tests.browser import chromium_browser, first_chart, kpi_value, streamlit_server, \
    type_text, wait_idle

pytestmark = pytest.mark.browser
DESKTOP, PHONE = (1440, 900), (390, 844)


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as (url, _), chromium_browser() as browser:
        yield url, browser


def _open(server, path: str, size=DESKTOP, phone: bool = False, scheme: str = "light"):
    url, browser = server
    pg = browser.new_page(viewport={"width": size[0], "height": size[1]}, is_mobile=phone,
                          has_touch=phone, color_scheme=scheme)
    pg.goto(f"{url}/{path}")
    first_chart(pg).wait_for(timeout=120000)
    wait_idle(pg, 120000)
    pg.wait_for_timeout(800)  # Plotly finishes drawing
    return pg


SCATTER_LABELS_JS = """(key) => {
  const root = document.querySelector('.st-key-' + key + ' .js-plotly-plot');
  const svg = root.querySelector('.main-svg').getBoundingClientRect();
  return [...root.querySelectorAll('.scatterlayer text')]
    .filter(t => t.textContent.trim())
    .map(t => { const r = t.getBoundingClientRect();
                return [t.textContent, r.left, r.top, r.right, r.bottom]; })
    .concat([['SVG', svg.left, svg.top, svg.right, svg.bottom]]);
}"""


def _check_labels(pg, key: str) -> None:
    boxes = pg.evaluate(SCATTER_LABELS_JS, key)
    svg, labels = boxes[-1], boxes[:-1]
    assert len(labels) >= 4, labels
    for text, l, t, r, b in labels:  # inside the chart: nothing cut at its edge
        assert l >= svg[1] - 0.5 and r <= svg[3] + 0.5, (text, l, r, svg)
    for i, a in enumerate(labels):  # no two labels print over each other
        for c in labels[i + 1:]:
            w = min(a[3], c[3]) - max(a[1], c[1])
            h = min(a[4], c[4]) - max(a[2], c[2])
            assert w <= 1 or h <= 1, (a[0], c[0])


def test_overview_desktop_labels_toolbars_title_numbers(server):
    pg = _open(server, "")
    pg.locator(".st-key-ov_methods .js-plotly-plot").wait_for(timeout=60000)
    _check_labels(pg, "ov_methods")
    # the scatter zooms: its toolbar shows on hover only; the Sankey has none at all
    assert pg.locator(".st-key-ov_methods .modebar--hover").count() == 1
    assert pg.locator(".st-key-ov_sankey_method_chart .modebar").count() == 0
    assert pg.locator(".st-key-ov_tiers .modebar").count() == 0
    top = pg.evaluate("() => document.querySelector('h1').getBoundingClientRect().top")
    assert top < 80, top  # was 128: ~130 px of empty space above each title
    text = pg.locator('[data-testid="stMain"]').inner_text()
    assert "2,000 held-out test samples" in text
    bare = re.findall(r"(?<![\w.,#+-])\d{4,}(?![\w.,])", text)  # a count without commas
    assert not bare, bare
    pdf = pg.get_by_role("button", name=re.compile("One-page summary \\(PDF\\)"))
    pdf.first.wait_for(timeout=60000)  # drawn after the tables: wait, then count
    assert pdf.count() == 1
    pg.close()


def test_overview_phone_labels_and_no_toolbar(server):
    pg = _open(server, "", PHONE, phone=True)
    pg.locator(".st-key-ov_methods .js-plotly-plot").wait_for(timeout=60000)
    _check_labels(pg, "ov_methods")
    hidden = pg.evaluate("() => [...document.querySelectorAll('.modebar-container')]"
                         ".every(e => getComputedStyle(e).display === 'none')")
    assert hidden  # a touch screen never hovers: no toolbar over legends and labels
    pg.close()


def test_whatif_phone_frontier_legend_is_smaller_than_its_plot(server):
    pg = _open(server, "whatif", PHONE, phone=True)
    chart = pg.locator(".st-key-wi_frontier .js-plotly-plot")
    chart.wait_for(timeout=60000)
    sizes = chart.evaluate("""e => ({
        legend: e.querySelector('g.legend').getBoundingClientRect().height,
        plot: e.querySelector('.draglayer .nsewdrag').getBoundingClientRect().height})""")
    assert sizes["legend"] < 0.5 * sizes["plot"], sizes
    pg.close()


def test_samples_filter_chips_all_visible(server):
    pg = _open(server, "samples")
    for name in ("mobile", "edge", "cloud", "easy", "medium", "hard"):
        chip = pg.locator('[data-testid="stButtonGroup"] button').filter(
            has_text=re.compile(rf"^{name}$")).first
        assert chip.is_visible(), name
        assert chip.get_attribute("aria-checked") in ("true", None) or \
            chip.get_attribute("data-selected") == "true", name  # all start selected
        box = chip.bounding_box()
        assert box["width"] > 20 and box["x"] + box["width"] <= DESKTOP[0], (name, box)
    pg.close()


def test_compare_columns_stay_aligned_with_a_knob_panel_open(server):
    pg = _open(server, "compare")
    kpi_value(pg, "DIMEE Accuracy").wait_for(timeout=120000)
    pg.locator('[data-testid="stExpander"] summary').filter(
        has_text="Every knob of this scenario").first.click()  # side A's panel opens
    wait_idle(pg)
    kpi_value(pg, "DIMEE Accuracy").wait_for(timeout=120000)
    pg.wait_for_timeout(500)
    tops = pg.evaluate("""() => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .filter(m => m.querySelector('[data-testid="stMetricLabel"]').textContent.trim()
                     === 'DIMEE Accuracy')
        .map(m => m.getBoundingClientRect().top)""")
    assert len(tops) == 2 and abs(tops[0] - tops[1]) < 2, tops
    # the preset box no longer cuts the current costs' name: a caption shows it whole
    section = pg.locator('[data-testid="stSidebar"] details').filter(has_text="Cost model")
    section.locator("summary").first.click()
    caption = pg.get_by_text(re.compile(r"^Current costs: ")).first
    caption.wait_for(timeout=30000)
    fits = caption.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    assert fits and "Balanced (DIMEE.md defaults)" in caption.inner_text()
    pg.close()


def test_live_placeholder_table_rows_and_marking(server):
    """No Ctrl+Enter in the instructions; the features table shows no empty rows; the
    user can mark the true label and gets a verdict per route."""
    url, browser = server
    pg = browser.new_page(viewport={"width": DESKTOP[0], "height": DESKTOP[1]})
    pg.goto(f"{url}/live")
    area = pg.locator('[data-testid="stTextArea"] textarea').first
    area.wait_for(timeout=180000)
    wait_idle(pg, 180000)
    assert "ctrl" not in (area.get_attribute("placeholder") or "").lower()
    assert "ctrl" not in pg.locator('[data-testid="stMain"]').inner_text().lower()
    type_text(pg, "I laughed, I cried, and I'd happily watch it again tomorrow.")
    kpi_value(pg, "DIMEE sends it to").wait_for(timeout=180000)
    wait_idle(pg, 120000)
    table = pg.locator('[data-testid="stDataFrame"]').first  # the only table above the CSV part
    table.wait_for(timeout=60000)
    caption = pg.get_by_text(re.compile(r"and clusters on ")).first.inner_text()
    rows = int(re.search(r": (\d+) numbers?\.", caption).group(1))
    height = table.bounding_box()["height"]
    assert height <= 35 * (min(rows, 6) + 1) + 6, (rows, height)  # header + rows, no more
    pg.locator('[data-testid="stButtonGroup"]').filter(
        has_text="positive").get_by_text("positive", exact=True).first.click()
    verdict = pg.get_by_text(re.compile(r"^The final exit \(all in cloud\): "))
    verdict.first.wait_for(timeout=60000)
    assert verdict.first.inner_text().count("right") + \
        verdict.first.inner_text().count("wrong") == 3
    pg.close()
