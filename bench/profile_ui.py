"""Where a cold start's first paint waits: `python bench/profile_ui.py [--py-spy PATH]`.

Starts `streamlit run app.py` under py-spy (sampling every thread, idle included, without
pausing the server: `--nonblocking`), opens the Overview in Chromium, notes when the
first heading, KPI and chart appear, and prints a timeline per thread (server main
thread, the warm-up thread, the script run): in each interval, the deepest frame of this
project's code, the module being imported and the leaf frame. py-spy is a profiling
tool, not a dependency (`pip install py-spy`); the timestamps are seconds from spawn.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import chromium_browser, first_chart, free_port  # noqa: E402


def record(py_spy: str, out: Path, rate: int) -> dict[str, float]:
    """Spawn the server under py-spy, load the Overview; milestones in s from spawn."""
    marks: dict[str, float] = {}
    with chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        port = free_port()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [py_spy, "record", "--idle", "--threads", "--nonblocking", "-r", str(rate),
             "-f", "chrometrace", "-o", str(out), "--", sys.executable, "-m", "streamlit",
             "run", "app.py", "--server.headless", "true", "--server.port", str(port),
             "--server.address", "127.0.0.1"], cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                        break
                except OSError:
                    time.sleep(0.05)
            marks["healthy"] = time.perf_counter() - t0
            page.goto(url)
            for what, loc in (("heading", page.locator('[data-testid="stHeading"]').first),
                              ("kpi", page.locator('[data-testid="stMetricValue"]').first),
                              ("chart", first_chart(page))):
                loc.wait_for(timeout=300000)
                marks[what] = time.perf_counter() - t0
        finally:
            # py-spy writes its trace when its child ends: stop the server, by its PID
            subprocess.run(["pkill", "-INT", "-P", str(proc.pid)], check=False)
            proc.wait(timeout=120)
    return marks


def _label(stack: list[tuple[str, str]]) -> str:
    ours = [f for f in stack if f[1].startswith(("dimee_core/", "ui/", "pages/", "app.py"))]
    mods = [f for f in stack if f[0] == "<module>"]
    parts = [f"ours {ours[-1][1]}:{ours[-1][0]}" if ours else "",
             f"importing {mods[-1][1][-40:]}" if mods else "",
             f"leaf {stack[-1][1][-30:]}:{stack[-1][0]}" if stack else "idle"]
    return " · ".join(p for p in parts if p)


def timeline(trace: Path, bucket: float) -> None:
    """Per thread and interval, the most frequent state among py-spy's stack changes."""
    stacks: dict[int, list] = collections.defaultdict(list)
    names: dict[int, str] = {}
    buckets: dict[int, dict] = collections.defaultdict(
        lambda: collections.defaultdict(collections.Counter))
    for e in json.loads(trace.read_text()):
        tid, file = e["tid"], e["args"].get("filename", "")
        file = file.split("site-packages/")[-1].replace(f"{ROOT}/", "")
        if e["ph"] == "B":
            stacks[tid].append((e["name"], file))
            if len(stacks[tid]) == 1:
                names[tid] = e["name"]
        elif stacks[tid]:
            stacks[tid].pop()
        buckets[tid][int(e["ts"] / 1e6 / bucket)][_label(stacks[tid][1:])] += 1
    for tid, per in buckets.items():
        if sum(sum(c.values()) for c in per.values()) < 20:
            continue  # idle pool threads
        print(f"=== {names.get(tid, tid)}")
        for k in sorted(per):
            label, _ = per[k].most_common(1)[0]
            print(f"{k * bucket:6.1f} s  {label[:150]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    ap.add_argument("--rate", type=int, default=25, help="samples per second (default 25)")
    ap.add_argument("--bucket", type=float, default=1.0, help="timeline step, s")
    ap.add_argument("--keep", metavar="FILE", help="also keep the chrome trace here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(args.keep or Path(tmp) / "trace.json")
        marks = record(args.py_spy, trace, args.rate)
        print(f"load {os.getloadavg()[0]:.1f}; milestones (s from spawn): "
              + ", ".join(f"{k} {v:.2f}" for k, v in marks.items()))
        timeline(trace, args.bucket)


if __name__ == "__main__":
    main()
