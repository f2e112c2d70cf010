"""Real-unit speed: after a profile change, every method's latency percentiles, phone
energy, money and uplink bytes at N test samples (target: <= 50 ms at N = 10 k).

    python bench/bench_profiles.py [--cache cache/trec] [--n 10000] [--repeat 20]

The test split is resampled to N rows; the routings are computed once (a profile change
does not re-route under the abstract objective), then each repeat scales the uplink of
the profile (a new profile, so nothing is memoised) and recomputes every figure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from dimee_core.cache import load_cache
from dimee_core.evaluate import DIMEEConfig, evaluate, fit_routers, resolve, unit_results
from dimee_core.profiles import PRESETS
from dimee_core.tokens import with_lengths

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=str(ROOT / "cache" / "trec"))
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    cache, note = with_lengths(load_cache(args.cache))
    idx = np.random.default_rng(0).integers(0, cache.test.n, args.n)
    cache = replace(cache, test=cache.test.take(idx))
    ev = evaluate(cache, DIMEEConfig.for_cache(cache), n_boot=0)
    base = PRESETS["LTE + cloud GPU"]
    times = []
    for i in range(args.repeat):
        profile = base.with_links("uplink_mbps", 1 + i / 10)
        t0 = time.perf_counter()
        units = unit_results(ev, profile, cache.test.lengths)
        times.append(time.perf_counter() - t0)
    resolve_ms = {}
    cfg = DIMEEConfig.for_cache(cache, objective="latency_ms", profile=base)
    dimee, plus = fit_routers(cache, cfg)
    for label, extra in (("mean latency", {}), ("money + p95 SLA", {
            "objective": "usd", "latency_sla_ms": 150.0})):
        for name, router in (("DIMEE", dimee), ("DIMEE+", plus)):
            t = []
            for i in range(5):
                c = replace(cfg, profile=base.with_links("uplink_mbps", 1 + i / 10), **extra)
                t0 = time.perf_counter()
                resolve(router, c)
                t.append(time.perf_counter() - t0)
            resolve_ms[f"{name}, {label}"] = 1e3 * statistics.median(t)
    print(f"cache {cache.name}, N = {args.n}, {len(units)} methods, token counts: "
          f"{note or 'stored'}")
    print(f"profile change -> all methods' p50/p95/p99 latency, energy, money, bytes: "
          f"median {1e3 * statistics.median(times):.1f} ms, max {1e3 * max(times):.1f} ms "
          f"over {args.repeat} repeats (target <= 50 ms)")
    print("re-solve after a profile change (k x options statistics only), median of 5: "
          + "; ".join(f"{k} {v:.1f} ms" for k, v in resolve_ms.items()))


if __name__ == "__main__":
    main()
