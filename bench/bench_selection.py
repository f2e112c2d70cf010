"""How long a guaranteed recommendation takes, per shipped cache, and how much each
selection rule certifies (prints numbers; no assertions).

Run: python bench/bench_selection.py [cache ...] [--resplits R] [--compare R]

For each cache: evaluating every candidate (one k-means per (m, k, features), every
solve and both routings), certifying one target for each method (the fixed-sequence
walk), the whole dashboard request (candidates + certify + heatmap + frontier), and,
with --resplits, the mean seconds of one re-split of the report.

--compare R: R re-splits (calibration + test pooled, split 50/50 as the report does);
on each, every rule below certifies each method at 0.3 and 1 pp on one half and the
other half scores it: mean saving, mean scored drop and how many re-splits broke the
target, side by side (an uncertified method deploys all-in-cloud: 0 %, 0 pp).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dimee_core import selection  # noqa: E402
from dimee_core.cache import list_caches, load_cache  # noqa: E402
from dimee_core.evaluate import DIMEEConfig  # noqa: E402

RULES = {"earlier (counts, betting, own paths)": selection.EARLIER_RULE,
         "smooth, exact, shared path": selection.Rule("smooth", "exact", "shared"),
         "power, betting, shared path": selection.Rule("power", "betting", "shared"),
         "power, exact, family paths": selection.Rule("power", "exact", "family"),
         "power, exact, shared path": selection.Rule("power", "exact", "shared")}


def timing(cache) -> None:
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


def compare(cache, resplits: int, fit_fractions=(0.3,), targets=(0.3, 1.0)) -> None:
    from dimee_core.splits import concat, split_groups, two_way

    base = DIMEEConfig.for_cache(cache)
    pooled = concat(cache.calibration, cache.test)
    ref = base.costs.reference_cost(cache.num_layers)
    got: dict = {}
    for r in range(resplits):
        first, second = two_way(pooled.labels, split_groups(pooled), 0.5, r)
        cal, held = pooled.take(first), pooled.take(second)
        for ff in fit_fractions:
            cands = selection.evaluate_candidates(cal, replace(base, random_state=r),
                                                  fit_fraction=ff)
            for (name, rule), t, m in ((nr, t, m) for nr in RULES.items() for t in targets
                                       for m in selection.METHODS):
                rec = selection.certify(cands, t, 0.1, m, rule=rule, bound=False)
                if rec.ok:
                    route = cands.routing(rec.index, held)
                    drop = 100 * float(selection.paired_loss(held, route.exit_layer).mean())
                    out = (100 * (1 - float(route.cost.mean()) / ref), drop)
                else:
                    out = (0.0, 0.0)
                got.setdefault((ff, name, t, m), []).append(out)
    print(f"{cache.name}: {resplits} re-splits (mean saving % / mean scored drop pp / "
          f"re-splits whose scored drop broke the target)")
    for (ff, name, t, m), v in got.items():
        a = np.array(v)
        print(f"  fit {ff:.0%} | {name:38s} | {t:g} pp | {m:10s} | {a[:, 0].mean():5.1f} % "
              f"± {a[:, 0].std():4.1f} | {a[:, 1].mean():+.2f} pp | "
              f"{int((a[:, 1] > t + 1e-9).sum())}/{len(a)}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("caches", nargs="*")
    p.add_argument("--resplits", type=int, default=0)
    p.add_argument("--compare", type=int, default=0)
    p.add_argument("--fit-fractions", type=float, nargs="+", default=[0.3])
    args = p.parse_args()
    dirs = args.caches or [str(c) for c in list_caches(ROOT / "cache")]
    for d in dirs:
        cache = load_cache(d)
        if args.compare:
            compare(cache, args.compare, tuple(args.fit_fractions))
            continue
        timing(cache)
        if args.resplits:
            from dimee_core.report import resplit_evaluation

            t = time.perf_counter()
            resplit_evaluation(cache, args.resplits, base=DIMEEConfig.for_cache(cache))
            print(f"  {args.resplits} re-splits: {(time.perf_counter() - t) / args.resplits:.2f} "
                  f"s each")


if __name__ == "__main__":
    main()
