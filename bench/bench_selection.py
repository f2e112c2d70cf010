"""How long a guaranteed recommendation takes, per shipped cache (prints numbers; no
assertions). Run: python bench/bench_selection.py [cache ...] [--resplits R]

For each cache: evaluating every candidate (one k-means per (m, k, features), every
solve and both routings), certifying one target for each method (the fixed-sequence
walk), the whole dashboard request (candidates + certify + heatmap + frontier), and,
with --resplits, the mean seconds of one re-split of the report.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dimee_core import selection  # noqa: E402
from dimee_core.cache import list_caches, load_cache  # noqa: E402
from dimee_core.evaluate import DIMEEConfig  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("caches", nargs="*")
    p.add_argument("--resplits", type=int, default=0)
    args = p.parse_args()
    dirs = args.caches or [str(c) for c in list_caches(ROOT / "cache")]
    for d in dirs:
        cache = load_cache(d)
        base = DIMEEConfig.for_cache(cache)
        t0 = time.perf_counter()
        cands = selection.evaluate_candidates(cache.calibration, base)
        t1 = time.perf_counter()
        recs = {m: selection.certify(cands, 0.3, 0.1, m) for m in selection.METHODS}
        t2 = time.perf_counter()
        selection.split_point_table(cands, 0.3, 0.1, "any")
        selection.certified_frontier(cands, 0.1, "any")
        t3 = time.perf_counter()
        print(f"{cache.name}: N_cal={cache.calibration.n}, {len(cands.table)} candidates "
              f"(fit {cands.n_fit} / certify {cands.n_held_out}); evaluate {t1 - t0:.2f} s, "
              f"certify 3 methods {1000 * (t2 - t1):.0f} ms, heatmap + frontier "
              f"{t3 - t2:.2f} s; dashboard request total {t3 - t0:.2f} s; "
              + ", ".join(f"{m} {'%.1f %%' % r.reduction_pct if r.ok else 'none'}"
                          for m, r in recs.items()) + " saved @ 0.3 pp")
        if args.resplits:
            from dimee_core.report import resplit_evaluation

            t = time.perf_counter()
            resplit_evaluation(cache, args.resplits, base=base)
            print(f"  {args.resplits} re-splits: {(time.perf_counter() - t) / args.resplits:.2f} "
                  f"s each")


if __name__ == "__main__":
    main()
