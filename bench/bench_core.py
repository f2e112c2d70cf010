"""Core speed: cache load, full fit at k=8 and re-solve after a cost change, at growing N.

    python bench/bench_core.py [--cache cache/rt-snippets] [--sizes 2000 100000 1000000]

Large caches are synthesised by resampling the calibration rows of a shipped one. The
re-solve touches only k x tiers statistics, so its time must not grow with N.
"""

from __future__ import annotations

import argparse
import sys
import statistics
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from dimee_core.cache import load_cache
from dimee_core.costs import CostModel
from dimee_core.router import DIMEERouter

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeat: int) -> float:
    """Median wall time of ``fn`` in seconds."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=str(ROOT / "cache" / "rt-snippets"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[2_000, 100_000, 1_000_000])
    ap.add_argument("--k", type=int, default=8)
    args = ap.parse_args()

    load_s = timed(lambda: load_cache(args.cache), 5)
    print(f"load {args.cache}: {1e3 * load_s:.0f} ms (median of 5; target <= 500 ms)")
    cache = load_cache(args.cache)
    rng = np.random.default_rng(0)
    costs = [CostModel(o_cloud=float(o), o_edge=float(o) / 3) for o in np.linspace(1, 20, 50)]
    print(f"{'N':>10} {'fit k=' + str(args.k):>12} {'re-solve (median)':>18} "
          f"{'re-solve budget+DIMEE+':>24}")
    for n in args.sizes:
        split = cache.calibration.take(rng.integers(0, cache.calibration.n, n))
        router = DIMEERouter(n_clusters=args.k, policy="budget", random_state=0)
        fit_s = timed(lambda: router.fit(split), 1)
        i = iter(range(10**9))

        def resolve(r=router):
            r.set_params(cost_model=costs[next(i) % len(costs)])
            r.solve()

        solve_s = timed(resolve, 200)
        plus = DIMEERouter(n_clusters=args.k, policy="budget", escalate=True).fit(split)
        plus_s = timed(lambda: resolve(plus), 50)
        print(f"{n:>10} {fit_s:>10.2f} s {1e3 * solve_s:>15.3f} ms {1e3 * plus_s:>21.3f} ms")
    print("targets: fit <= 5 s at N = 1,000,000; re-solve <= 1 ms and flat in N")


if __name__ == "__main__":
    main()
