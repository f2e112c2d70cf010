"""Real browser, hostile input: Markdown, HTML and bare-URL payloads in every page
parameter, in a cache's title, name, label names and texts, in a typed text and in an
uploaded CSV never become a live link, an image or a request to another host.

One server on a cache root holding rt-snippets and a hostile copy of it (folder name,
title, label names and texts rewritten; the model kept, so the Live page runs it). Every
URL parameter carries the payload at once, so each page needs one load.
"""

from __future__ import annotations

import json
import shutil
from urllib.parse import urlencode, urlsplit

import pytest

from tests.browser import ROOT, chromium_browser, first_chart, kpi_value, streamlit_server, \
    type_text, wait_idle

pytestmark = pytest.mark.browser  # skipped without Chromium/Playwright (conftest)
EVIL = "evil.example"
PAYLOAD = (f"[md](https://{EVIL}/md) ![img](https://{EVIL}/i.png) "
           f"<img src=https://{EVIL}/h.png><a href=https://{EVIL}/h>h</a> "
           f"https://{EVIL}/bare www.{EVIL} x@{EVIL} :red[x] $x$")
HOSTILE_DS = f"www.{EVIL} x@{EVIL}"  # a folder name GFM would autolink twice
PAGES = {"": "DIMEE Studio — overview", "whatif": "What-if", "samples": "Samples",
         "learn": "Learn", "compare": "Compare two scenarios", "live": "Live"}

# what the page shows that could reach another host: links, images, frames, and the
# payload's text itself (to know the hostile strings were on screen at all)
SCAN_JS = """() => {
  const foreign = u => { try { return new URL(u, location.href).hostname !== location.hostname; }
                         catch (e) { return true; } };
  // each offender as "url @ the Streamlit element holding it", for the failure message
  const at = (e, u) => `${u} @ ${[...Array(3)].reduce(
      (acc) => acc.el && (acc.el = acc.el.parentElement && acc.el.parentElement.closest(
          '[data-testid]')) ? {el: acc.el, ids: [...acc.ids, acc.el.dataset.testid]} : acc,
      {el: e, ids: []}).ids.join(' < ')}`;
  const links = [...document.querySelectorAll('a[href], area[href]')]
      .filter(a => foreign(a.getAttribute('href'))).map(a => at(a, a.getAttribute('href')));
  const images = [...document.querySelectorAll('img, image, picture source, video, audio')]
      .map(i => [i, i.getAttribute('src') || i.getAttribute('href')
                    || i.getAttribute('srcset') || ''])
      .filter(([i, s]) => !s.startsWith('data:') && !s.startsWith('blob:') && foreign(s))
      .map(([i, s]) => at(i, s));
  const frames = [...document.querySelectorAll('iframe[src]')]
      .filter(f => foreign(f.getAttribute('src'))).map(f => at(f, f.getAttribute('src')));
  return {links, images, frames, shown: document.body.innerText.split('evil.example').length - 1};
}"""


def _settings_payload() -> dict[str, str]:
    """Every URL parameter the app reads, from the modules that declare them."""
    from ui import optimiser, samples, settings, teaching, units

    page = (*(p.key for p in (*samples.params(100), *optimiser.REQUEST)), teaching.KEY,
            units.PROFILE_PARAM)
    return {key: PAYLOAD for key in (*settings.SETTINGS, "ds", *page)}


def _scenarios(names: tuple[str, str]) -> str:
    from ui import scenarios

    return json.dumps({"format": scenarios.FORMAT, "version": 1, "dataset": "rt-snippets",
                       "scenarios": [{"name": n, "settings": {}} for n in names]})


@pytest.fixture(scope="module")
def hostile_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_root")
    shutil.copytree(ROOT / "cache" / "rt-snippets", root / "rt-snippets")
    dst = root / HOSTILE_DS
    shutil.copytree(ROOT / "cache" / "rt-snippets", dst)
    meta = json.loads((dst / "meta.json").read_text())
    meta.update(title=PAYLOAD, name=PAYLOAD, source=PAYLOAD,
                label_names=[f"neg {PAYLOAD}", f"pos {PAYLOAD}"])
    (dst / "meta.json").write_text(json.dumps(meta))
    texts = json.loads((dst / "texts.json").read_text())
    texts = {split: [f"{PAYLOAD} {t}" for t in values] for split, values in texts.items()}
    (dst / "texts.json").write_text(json.dumps(texts))
    return root


@pytest.fixture(scope="module")
def browsed(hostile_root):
    """(base URL, page, foreign requests seen): every request to another host is
    recorded and aborted."""
    foreign: list[str] = []
    with streamlit_server(cache_root=hostile_root) as (url, _), chromium_browser() as browser:
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        host = urlsplit(url).hostname

        def guard(route):
            if urlsplit(route.request.url).hostname not in (host, None):
                foreign.append(route.request.url)
                route.abort()
            else:
                route.continue_()

        pg.route("**/*", guard)
        yield url, pg, foreign
        pg.close()


def _visit(pg, url: str, path: str, query: dict[str, str]) -> dict:
    pg.goto(f"{url}/{path}?{urlencode(query)}")
    pg.get_by_role("heading", name=PAGES[path]).first.wait_for(timeout=120000)
    # the run's end: app.py then writes the settings into the URL (m: a whole number)
    pg.wait_for_function("() => /^[0-9]+$/.test(new URLSearchParams(location.search)"
                         ".get('m'))", timeout=120000)
    if path == "":
        pg.locator('[data-testid="stTable"]').first.wait_for(timeout=120000)
    wait_idle(pg, 120000)
    pg.wait_for_timeout(500)  # tooltips' and charts' DOM settles
    return pg.evaluate(SCAN_JS)


def _assert_inert(found: dict, where: str) -> None:
    assert found["shown"] > 0, f"{where}: the payload never reached the page"
    assert not found["links"] and not found["images"] and not found["frames"], (where, found)


@pytest.mark.parametrize("path", list(PAGES))
def test_every_url_parameter_stays_inert(browsed, path):
    """All settings, ds, Samples' and the optimiser's parameters at once; on Compare the
    scenario names of a valid ``cmp`` carry the payload too (≤ 60 characters each)."""
    url, pg, foreign = browsed
    foreign.clear()
    query = _settings_payload()
    if path == "compare":
        query["cmp"] = _scenarios((f"[a](https://{EVIL}/c) https://{EVIL}/d",
                                   f"<img src=https://{EVIL}/e> www.{EVIL} x@{EVIL}"))
    _assert_inert(_visit(pg, url, path, query), path)
    assert not foreign, foreign


def test_refused_scenarios_echo_inert(browsed):
    url, pg, foreign = browsed
    foreign.clear()
    bad = json.loads(_scenarios(("a", "b")))
    bad["scenarios"][0]["settings"] = {PAYLOAD[:190]: 1}  # an unknown setting is named
    _assert_inert(_visit(pg, url, "compare", {"cmp": json.dumps(bad)}), "cmp refused")
    assert not foreign, foreign


@pytest.mark.parametrize("path", [p for p in PAGES if p != "live"])
def test_hostile_cache_strings_stay_inert(browsed, path):
    """A cache whose folder name, title, label names and texts are the payload."""
    url, pg, foreign = browsed
    foreign.clear()
    query = {"ds": HOSTILE_DS}
    if path == "samples":
        query["smp_text"] = EVIL  # every test text matches: the first is shown
    _assert_inert(_visit(pg, url, path, query), f"hostile cache /{path}")
    assert not foreign, foreign


def test_live_typed_text_and_csv_stay_inert(browsed, tmp_path):
    """The Live page on the hostile cache: a typed payload routed by the real model
    (its label names are the payload too), then a CSV whose header and cells are."""
    url, pg, foreign = browsed
    foreign.clear()
    pg.goto(f"{url}/live?{urlencode({'ds': HOSTILE_DS})}")
    pg.locator('[data-testid="stTextArea"] textarea').first.wait_for(timeout=120000)
    wait_idle(pg, 120000)
    type_text(pg, PAYLOAD)
    kpi_value(pg, "DIMEE sends it to").wait_for(timeout=120000)
    first_chart(pg).wait_for(timeout=60000)
    wait_idle(pg, 120000)
    pg.wait_for_timeout(500)
    _assert_inert(pg.evaluate(SCAN_JS), "live typed text")
    final = kpi_value(pg, "The final exit says").text_content()  # shown literally
    assert final.replace("\u2060", "") in (f"neg {PAYLOAD}", f"pos {PAYLOAD}"), final
    csv = tmp_path / f"{EVIL}.csv"
    header = PAYLOAD.replace(",", " ").replace('"', "")
    csv.write_text(f'"{header}"\n' + "".join(f'"{PAYLOAD} {i}"\n' for i in range(3)))
    upload = '[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]'
    pg.locator(upload).set_input_files(str(csv))
    pg.get_by_role("button", name="Route these texts").click()
    pg.locator('[data-testid="stDataFrame"]').nth(1).wait_for(timeout=120000)
    wait_idle(pg, 120000)
    pg.wait_for_timeout(500)
    _assert_inert(pg.evaluate(SCAN_JS), "live csv")
    assert pg.locator('[data-testid="stException"]').count() == 0
    assert not foreign, foreign
