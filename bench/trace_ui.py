"""Where the browser's time goes on one Overview interaction:
`python bench/trace_ui.py [--what slider|unit|cold] [--load N] [--repeat 3]`.

Records a Chromium performance trace (Playwright's ``browser.start_tracing``) around a
cost-slider press (bench_ui's COST_SWEEP settings), a unit switch (abstract → ms) or a
cold page load, and prints the renderer main thread's busy time by kind (scripting, style,
layout, paint, GC, parsing), its longest tasks, and the page's element count (Streamlit
element containers, charts, tables) with the websocket frames one run sent. A JavaScript
CPU profile (CDP ``Profiler``) over the same interaction names the heaviest functions by
self time (the bundle is minified: its file name, e.g. PlotlyChart…js, says whose), over
the whole interaction and from the action until the KPI's DOM changed (a mutation
observer marks it; 'seen' is the next animation frame that shows it). The websocket
frame times are when Playwright heard of them, up to ~0.2 s after the server sent them on
a busy machine; "act at" is time.perf_counter(), the server's clock too (to line up with
timestamps logged there).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_ui import COST_SWEEP, cpu_load, wait_server_idle  # noqa: E402
from tests.browser import KPI, chromium_browser, first_chart, kpi_value, reveal, \
    slider_thumb, streamlit_server, wait_idle, _KPI_JS  # noqa: E402

CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute",
              "blink.user_timing", "v8"]
KINDS = {  # trace event name → kind (self time)
    "FunctionCall": "scripting", "EvaluateScript": "scripting", "v8.compile": "compile",
    "v8.run": "scripting", "TimerFire": "scripting", "EventDispatch": "scripting",
    "FireAnimationFrame": "scripting", "RunMicrotasks": "scripting", "v8.callFunction":
    "scripting", "V8.GCScavenger": "gc", "MajorGC": "gc", "MinorGC": "gc",
    "V8.GCFinalizeMC": "gc", "V8.GC_MC_BACKGROUND_MARKING": "gc",
    "ParseHTML": "parse", "ParseAuthorStyleSheet": "parse", "v8.parseOnBackground": "parse",
    "UpdateLayoutTree": "style", "RecalculateStyles": "style", "Layout": "layout",
    "UpdateLayer": "paint", "Paint": "paint", "PrePaint": "paint", "Layerize": "paint",
    "PaintImage": "paint", "CompositeLayers": "paint", "Commit": "paint",
    "UpdateLayerTree": "paint", "HitTest": "other", "ScheduleStyleRecalculation": "style",
}
SEEN_JS = "(a) => { const r = (%s)(a); if (r) performance.mark('seen'); return r; }"
ELEMENTS_JS = """() => {
  const n = (sel) => document.querySelectorAll(sel.split(', ').map(
    s => '[data-testid="stMain"] ' + s).join(', ')).length;
  return {elements: n('[data-testid="stElementContainer"]'),
          charts: n('[data-testid="stPlotlyChart"]'),
          tables: n('[data-testid="stTable"], [data-testid="stDataFrame"]'),
          metrics: n('%s'), dom_nodes: document.getElementsByTagName('*').length};
}""" % KPI


def main_thread_summary(trace: dict) -> tuple[dict, list, list]:
    """Self time per kind on the renderer's main thread (ms), its longest tasks and the
    trace events with the most self time."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    names = {(e["pid"], e["tid"]): e["args"].get("name") for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name"}
    mains = {k for k, v in names.items() if v == "CrRendererMain"}
    by_thread = collections.defaultdict(list)
    for e in events:
        if (e.get("pid"), e.get("tid")) in mains and e.get("ph") == "X" and "dur" in e:
            by_thread[(e["pid"], e["tid"])].append(e)
    kinds: dict[str, float] = collections.Counter()
    by_name: dict[str, float] = collections.Counter()
    tasks = []
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack: list[list] = []  # [end, kind, child time]

        def close(until: float) -> None:
            while stack and stack[-1][0] <= until:
                end, kind, child, dur, name = stack.pop()
                kinds[kind] += (dur - child) / 1000
                by_name[name] += (dur - child) / 1000
                if stack:
                    stack[-1][2] += dur

        for e in evs:
            close(e["ts"])
            if e["name"] == "RunTask" and not stack:
                tasks.append((e["dur"] / 1000, e["ts"]))
            kind = KINDS.get(e["name"], stack[-1][1] if stack else "other")
            if e["name"] == "RunTask":
                kind = "other"
            stack.append([e["ts"] + e["dur"], kind, 0.0, e["dur"], e["name"]])
        close(float("inf"))
    marks = {e["name"]: e["ts"] for e in events if e.get("cat") == "blink.user_timing"
             and e["name"] in ("act", "seen", "committed")}
    t0 = marks.get("act", min((t for _, t in tasks), default=0))
    if "committed" in marks:
        print(f"   the KPI's DOM changed at +{(marks['committed'] - t0) / 1000:.0f} ms")
    if "seen" in marks:
        print(f"   the KPI was seen at +{(marks['seen'] - t0) / 1000:.0f} ms; main thread "
              f"busy before it {sum(d for d, t in tasks if t0 <= t < marks['seen']):.0f} ms")
    print("   tasks >= 15 ms in order (start+ms:duration): " + " ".join(
        f"{(t - t0) / 1000:.0f}:{d:.0f}" for d, t in sorted(tasks, key=lambda x: x[1])
        if d >= 15))
    longest = sorted(((d, f"at +{(t - t0) / 1000:.0f} ms") for d, t in tasks), reverse=True)
    top = sorted(by_name.items(), key=lambda kv: -kv[1])[:12]
    before = None
    if "committed" in marks:  # the work before the KPI's commit, as a pseudo task
        before = ((marks["committed"] - t0) / 1000, t0)
    return dict(kinds), longest[:8], top, before or max(tasks, default=None)


def profile_summary(profile: dict, top: int = 15, window: tuple | None = None
                    ) -> list[tuple[float, str]]:
    """Self time (ms) per function of a CDP CPU profile, heaviest first (``window``: only
    the samples between these two trace timestamps, µs)."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    self_ms: dict[str, float] = collections.Counter()
    ts = profile["startTime"]
    for node_id, dt in zip(profile["samples"], profile["timeDeltas"]):
        ts += dt
        if window and not window[0] <= ts <= window[1]:
            continue
        f = nodes[node_id]["callFrame"]
        name = f["functionName"] or "(anonymous)"
        src = Path(f["url"]).name if f["url"] else ""
        self_ms[f"{name} {src}:{f['lineNumber']}:{f['columnNumber']}"] += dt / 1000
    files: dict[str, float] = collections.Counter()
    for k, v in self_ms.items():
        files[k.rsplit(" ", 1)[1].split(":")[0] or k.split(" ")[0]] += v
    print("   JS self time by file (ms): " + ", ".join(
        f"{k} {v:.0f}" for k, v in sorted(files.items(), key=lambda kv: -kv[1])[:10]))
    return sorted(((v, k) for k, v in self_ms.items()), reverse=True)[:top]


def report(label: str, trace: bytes, profile: dict, wall: float, frames: list[int]) -> None:
    kinds, longest, top, big = main_thread_summary(json.loads(trace))
    busy = sum(v for k, v in kinds.items())
    print(f"\n== {label}: {1000 * wall:.0f} ms wall to the new KPI; renderer main thread "
          f"busy {busy:.0f} ms; websocket frames received {len(frames)}, "
          f"{sum(frames) / 1024:.0f} kB")
    print("   by kind: " + ", ".join(f"{k} {v:.0f}" for k, v in
                                   sorted(kinds.items(), key=lambda kv: -kv[1])))
    print("   by event (self ms): " + ", ".join(f"{k} {v:.0f}" for k, v in top))
    print("   longest tasks (ms): " + ", ".join(f"{d:.0f} {w}" for d, w in longest))
    print("   heaviest JS functions (self ms):")
    for ms, name in profile_summary(profile):
        print(f"     {ms:7.1f}  {name[:110]}")
    if big:
        print(f"   from the action to the KPI's commit, else in the longest task "
              f"({big[0]:.0f} ms), self ms:")
        for ms, name in profile_summary(profile, 25, (big[1], big[1] + 1000 * big[0])):
            print(f"     {ms:7.1f}  {name[:110]}")


COMMIT_JS = """([label, old]) => { const o = new MutationObserver(() => {
  const r = (%s)([label, old]); if (r) { performance.mark('committed'); o.disconnect(); } });
  o.observe(document.querySelector('[data-testid="stMain"]'),
            {subtree: true, childList: true, characterData: true}); }"""


def traced(browser, page, label: str, act, done, commit_js=None) -> None:
    """Trace and profile ``act()`` until ``done()`` returns, then until the run is idle."""
    cdp = page.context.new_cdp_session(page)
    frames = page.frames_received
    frames.clear()
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 200})
    cdp.send("Profiler.start")  # before the trace: starting it costs ~0.3-0.8 s of CPU
    page.wait_for_timeout(500)
    browser.start_tracing(page=page, categories=CATEGORIES)
    if commit_js:
        page.evaluate(*commit_js)
    page.evaluate("performance.mark('act')")
    t = time.perf_counter()
    print(f"   act at {t:.3f}")
    act()
    seen = done()
    wall = time.perf_counter() - t
    times = [f - t for f, _ in frames]
    if times:
        print(f"   websocket: first frame +{1000 * times[0]:.0f} ms, last +{1000 * times[-1]:.0f}"
              f" ms" + ("" if not seen else ", the new KPI's frame " + next(
                  (f"+{1000 * (f - t):.0f} ms (frame {i + 1})" for i, (f, p) in
                   enumerate(frames) if seen.encode() in p), "not found")))
    wait_idle(page, 120000)
    page.wait_for_timeout(300)  # the last paints after the run's end
    profile = cdp.send("Profiler.stop")["profile"]
    trace = browser.stop_tracing()
    cdp.detach()
    report(label, trace, profile, wall, [len(p) for _, p in frames])


def slider(browser, page, url: str, repeat: int) -> None:
    _, start, settings = COST_SWEEP.pages[0]
    params = {**settings, COST_SWEEP.key: f"{start:g}"}
    page.goto(f"{url}/?" + "&".join(f"{k}={v}" for k, v in params.items()))
    page.locator(KPI).first.wait_for(timeout=120000)
    wait_idle(page, 300000)
    reveal(page, COST_SWEEP.slider)
    thumb = slider_thumb(page, COST_SWEEP.slider)
    wait_idle(page, 300000)
    wait_server_idle()
    print("page:", page.evaluate(ELEMENTS_JS))
    for i in range(2 + repeat):  # two untraced presses fill the server's caches
        old = kpi_value(page, COST_SWEEP.kpi).text_content()
        thumb.focus()
        act = lambda: thumb.press("ArrowRight")
        if i < 2:
            act()
            wait_idle(page, 120000)
            page.wait_for_timeout(500)
            continue

        def done(old=old) -> None:  # rounding may hide a change: then the run's end
            try:
                return page.wait_for_function(
                    SEEN_JS % _KPI_JS, arg=[COST_SWEEP.kpi, old], polling="raf",
                    timeout=15000).json_value()
            except Exception:
                print("   (KPI unchanged at its rounding: timed to the run's end)")
                wait_idle(page, 120000)
                return None
        traced(browser, page, f"slider press {i - 1}", act, done,
               (COMMIT_JS % _KPI_JS, [COST_SWEEP.kpi, old]))


def unit(browser, page, url: str, repeat: int) -> None:
    from bench.bench_unit_switch import COST_LABELS, FIRST_COST_JS, _click_unit
    from ui.units import UNITS

    page.goto(url)
    page.locator(KPI).first.wait_for(timeout=120000)
    page.locator('[data-testid="stSidebar"] details').filter(
        has_text="Real units").first.wait_for(state="attached", timeout=600000)
    wait_idle(page, 300000)
    wait_server_idle()
    order = ["ms", "abstract"] * (1 + repeat)
    for i, key in enumerate(order):
        act = lambda key=key: _click_unit(page, key)
        done = lambda key=key: page.wait_for_function(
            SEEN_JS % FIRST_COST_JS, arg=[UNITS[key].kpi, COST_LABELS], polling="raf",
            timeout=60000) and UNITS[key].kpi
        if i < 2:
            act()
            done()
            wait_idle(page, 300000)
        else:
            traced(browser, page, f"unit switch → {key}", act, done)
        if i == 1:
            print("page:", page.evaluate(ELEMENTS_JS))


def cold(browser, page, url: str, repeat: int) -> None:
    del repeat  # one cold load per server
    traced(browser, page, "cold page load → first chart", lambda: page.goto(url),
           lambda: first_chart(page).wait_for(timeout=120000))
    print("page:", page.evaluate(ELEMENTS_JS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--what", choices=("slider", "unit", "cold"), default="slider")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--load", type=int, default=0, metavar="N")
    args = ap.parse_args()
    with cpu_load(args.load), chromium_browser() as browser:
        print(f"load {os.getloadavg()[0]:.1f}, extra busy processes {args.load}")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.frames_received = []  # sizes of the websocket frames the page receives
        page.on("websocket", lambda ws: ws.on(
            "framereceived", lambda p: page.frames_received.append(
                (time.perf_counter(), p if isinstance(p, bytes) else p.encode()))))
        with streamlit_server() as (url, _):
            {"slider": slider, "unit": unit, "cold": cold}[args.what](
                browser, page, url, args.repeat)
        print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
