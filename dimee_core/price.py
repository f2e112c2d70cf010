"""The price of certainty for one cache: the three things a screen shows beside a
recommended saving, computed once (``tune`` stores them; the dashboard reads them).

1. the certified saving (target, δ, the setting's own bound);
2. the expected saving of the calibration-best setting, NOT guaranteed: the cheapest
   candidate whose held-out drop is within the target, with a re-split interval (pick on
   one half of the held-out part, score on the other, many times: how much of that
   saving survives on samples that did not choose it, and how often it breaks the target);
3. certified saving against calibration size (subsamples N/4, N/2, N), and what 4× the
   labels would buy, extrapolated from that curve and labelled as such.
"""

from __future__ import annotations

import math

import numpy as np

from .cache import Split
from .evaluate import DIMEEConfig
from .price_record import FAMILY, FRACTIONS, Interval, Price, SizePoint  # noqa: F401
from .selection import DELTA, FAMILIES, Candidates, Grid, certify
from .words import number

RESPLITS = 200


def resplit_interval(cands: Candidates, target_pp: float, family: str = FAMILY,
                     resplits: int = RESPLITS, random_state: int = 0) -> Interval | None:
    """The calibration-best rule's spread over re-splits of the held-out part (None when
    no candidate is within the target on any half)."""
    t = cands.table
    rows = np.flatnonzero(t["method"].isin(FAMILIES[family]).to_numpy())
    D = cands.D[rows].astype(np.float32)
    saving = t["reduction_pct"].to_numpy()[rows]
    n = D.shape[1]
    rng = np.random.default_rng(random_state)
    picked, drops = [], []
    for _ in range(resplits):
        perm = rng.permutation(n)
        a, b = perm[: n // 2], perm[n // 2:]
        ok = np.flatnonzero(100 * D[:, a].mean(1) <= target_pp + 1e-9)
        if not ok.size:
            continue
        best = ok[np.argmax(saving[ok])]
        picked.append(saving[best])
        drops.append(100 * D[best, b].mean())
    if not picked:
        return None
    p, d = np.array(picked), np.array(drops)
    return Interval(float(p.mean()), float(np.percentile(p, 5)), float(np.percentile(p, 95)),
                    float(d.mean()), float((d > target_pp + 1e-9).mean()), len(p))


def extrapolate_4x(points: list[SizePoint], ceiling: float | None = None) -> float | None:
    """Certified saving at 4 N, extrapolated (not measured) from the curve's trend per
    doubling of the labels (N/4 → N when measured, else N/2 → N); never below the
    saving at N, never above ``ceiling`` (the calibration-best saving, which no certified
    setting can beat) nor 100 %. None without two measured sizes."""
    got = [p for p in points if p.saving_pct is not None]
    if len(got) < 2:
        return None
    first, last = got[0], got[-1]
    doublings = math.log2(last.n_calibration / first.n_calibration)
    if doublings <= 0:
        return None
    per = (last.saving_pct - first.saving_pct) / doublings
    top = 100.0 if ceiling is None else min(100.0, max(ceiling, last.saving_pct))
    return float(min(top, max(last.saving_pct, last.saving_pct + 2 * per)))


def subsamples(calibration: Split, base: DIMEEConfig, fractions=FRACTIONS,
               grid: Grid = Grid()) -> list[tuple[int, Candidates | str]]:
    """Each stratified subsample's size and candidates (or why it is too small to fit
    and certify at all); shared by every target asked of the same data."""
    from .selection import SelectionError, evaluate_candidates
    from .splits import fit_part

    out: list[tuple[int, Candidates | str]] = []
    for f in fractions:
        sub = calibration.take(fit_part(calibration, f, base.random_state)[0])
        try:
            out.append((sub.n, evaluate_candidates(sub, base, grid)))
        except SelectionError as exc:
            out.append((sub.n, f"too small to try: {exc}"))
    return out


def size_point(n: int, cands: Candidates | str, target_pp: float, delta: float,
               family: str) -> SizePoint:
    """The certified saving on one subsample, or why it is too small for the target."""
    from .selection import samples_needed

    if isinstance(cands, str):
        return SizePoint(n, 0, None, cands)
    need = samples_needed(target_pp, delta)
    if need is not None and need > cands.n_held_out:
        return SizePoint(n, cands.n_held_out, None,
                         f"too small: {cands.n_held_out} held-out samples, the {target_pp:g} "
                         f"pp target needs at least {need}")
    rec = certify(cands, target_pp, delta, family)
    return SizePoint(n, cands.n_held_out, rec.reduction_pct if rec.ok else 0.0,
                     "certified" if rec.ok else rec.message)


def price_of_certainty(calibration: Split, base: DIMEEConfig, target_pp: float,
                       delta: float = DELTA, family: str = FAMILY,
                       cands: Candidates | None = None,
                       fractions: tuple[float, ...] = FRACTIONS,
                       subs: list[tuple[int, Candidates | str]] | None = None,
                       grid: Grid = Grid()) -> Price:
    """All three for one cache's calibration split (``cands``: its candidates under
    ``base``, and ``subs``: its ``subsamples``, when already evaluated). Calibration
    only: the test split plays no part."""
    from .selection import evaluate_candidates

    cands = cands if cands is not None else evaluate_candidates(calibration, base, grid)
    subs = subs if subs is not None else subsamples(calibration, base, fractions, grid)
    rec = certify(cands, target_pp, delta, family)
    t = cands.table
    rows = np.flatnonzero(t["method"].isin(FAMILIES[family]).to_numpy())
    held = 100 * cands.D[rows].mean(1)
    ok = rows[held <= target_pp + 1e-9]
    best = int(ok[np.argmax(t["reduction_pct"].to_numpy()[ok])]) if ok.size else None
    curve = [size_point(n, c, target_pp, delta, family) for n, c in subs]
    curve.append(size_point(calibration.n, cands, target_pp, delta, family))
    return Price(float(target_pp), float(delta), family, calibration.n,
                 rec.reduction_pct if rec.ok else 0.0, rec.setting(), rec.bound_pp,
                 rec.message, None if best is None else float(t["reduction_pct"].iat[best]),
                 None if best is None else float(100 * cands.D[best].mean()),
                 resplit_interval(cands, target_pp, family, random_state=base.random_state),
                 tuple(curve), extrapolate_4x(
                     curve, None if best is None else float(t["reduction_pct"].iat[best])))


def row(p: Price) -> dict[str, str]:
    """One data set's price of certainty as table cells (words, for a screen or a report)."""
    conf = f"{100 * (1 - p.delta):g} %"
    i = p.interval
    got = [q for q in p.curve if q.saving_pct is not None]
    return {
        "target": f"≤ {p.target_pp:g} pp, {conf}",
        "certified": (f"{p.certified_pct:.1f} %" if p.certified else
                      "0.0 % (nothing certified)"),
        "best": ("–" if p.best_pct is None else f"{p.best_pct:.1f} %"
                 + ("" if i is None else f" ({i.lo_pct:.0f}–{i.hi_pct:.0f} % on re-splits)")),
        "breaks": "–" if i is None else f"{100 * i.break_share:.0f} % of re-splits",
        "curve": " · ".join(f"{number(q.n_calibration)}: " + ("too small" if q.saving_pct is None
                                                      else f"{q.saving_pct:.0f} %")
                            for q in p.curve) if len(p.curve) > 1 else "not computed",
        "more_labels": ("too small to say" if len(p.curve) > 1 and len(got) < 2 else
                        "–" if p.extrapolated_4x_pct is None else
                        f"≈ {p.extrapolated_4x_pct:.0f} % (extrapolated)"),
    }


def by_target(calibration: Split, base: DIMEEConfig, targets, delta: float,
              cands: Candidates, grid: Grid = Grid()) -> dict[str, dict]:
    """The report's entry: each target's price (stored form), the subsamples shared."""
    subs = subsamples(calibration, base, grid=grid)
    return {f"{t:g}": price_of_certainty(calibration, base, t, delta, cands=cands,
                                         subs=subs).to_dict() for t in targets}


def markdown(datasets: dict[str, dict]) -> list[str]:
    """The report's table (lines, after a blank one): per data set and target, the three
    things side by side; nothing for a report made without them."""
    prices = {ds: [Price.from_dict(p) for p in d["price_of_certainty"].values()]
              for ds, d in datasets.items() if "price_of_certainty" in d}
    if not prices:
        return []
    lines = ["", "The price of certainty (calibration only; DIMEE+ with the cascade it "
             "contains): the certified saving, the calibration-best setting's saving with "
             "no guarantee (its range and break rate from re-selecting it on half the "
             "held-out samples and scoring it on the other half), and the certified saving "
             "on subsamples N/4, N/2, N with 4× the labels extrapolated (not measured).", "",
             "| dataset | target | certified | calibration-best, not guaranteed | breaks "
             "the target in | certified by calibration size | 4× labels |",
             "|---|---|---|---|---|---|---|"]
    for ds, ps in prices.items():
        for p in ps:
            c = row(p)
            lines.append(f"| {ds} | {c['target']} | {c['certified']} | {c['best']} | "
                         f"{c['breaks']} | {c['curve']} | {c['more_labels']} |")
    return lines
