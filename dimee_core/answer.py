"""The Overview's answer as ``tune`` stored it with a cache's settings: :func:`stored`
rebuilds the :class:`~dimee_core.recommendation.Recommendation` that
:func:`~dimee_core.summary.recommend` would compute (no k-means fit, certification or
bootstrap: a dashboard's first screen reads it), :func:`store` computes and writes it.
The record's format and checks live in :mod:`dimee_core.answer_record`."""

from __future__ import annotations

import os
from dataclasses import replace

from . import tuned
from .answer_record import ANSWER_KEY, METHODS, fingerprint, parse, record
from .cache import Cache, load_cache
from .config import DIMEEConfig
from .recommendation import CalibrationPoint, Recommendation, pick_method, stored_target

N_BOOT = 1000  # bootstrap resamples of the stored intervals (the Overview's answer)


def settings_of(cache: Cache) -> dict:
    """The cache's routing settings without a stored answer."""
    return {k: v for k, v in cache.defaults.items() if k != ANSWER_KEY}


SCORED = (*tuned.SETTINGS, *tuned.RECORD, "costs", "dimee_plus")  # what it depends on


def _of(settings: dict, cache: Cache) -> str:
    """Digest of what the answer depends on: the build, the settings and their
    guarantee records (not the other records tune may store or renew apart: the price
    of certainty, the real-unit answers)."""
    return fingerprint({k: v for k, v in settings.items() if k in SCORED}, cache.build_id)


def stored(cache: Cache) -> Recommendation | None:
    """The cache's recommendation as stored by ``tune``/``migrate`` (``routings`` empty:
    rescoring in real units needs :func:`recommend`), or None when it holds none for
    its current build and settings."""
    d = cache.defaults.get(ANSWER_KEY)
    if d is None:
        return None
    of, _, alpha, cal, test = parse(d)  # checked when the cache was loaded
    if of != _of(settings_of(cache), cache):
        return None  # computed at other settings or on another build: stale
    target_pp, delta, certified, joint = stored_target(cache)
    config = DIMEEConfig.for_cache(cache)
    calibration = {m: CalibrationPoint(*cal[m]) for m in METHODS}
    cloud = float((cache.test.probs[:, -1].argmax(1) == cache.test.labels).mean())
    return Recommendation(
        cache.name, str(cache.meta.get("title", cache.name)), config,
        pick_method(calibration, target_pp, certified, joint), target_pp, alpha,
        calibration, test, cache.test.n, cloud, {},
        DIMEEConfig.for_cache(cache, "dimee_plus", costs=config.costs), delta, certified,
        joint)


def store(folder: str | os.PathLike[str]) -> Recommendation:
    """Compute the cache's recommendation at its stored settings and write it into its
    ``routing.json`` (atomically, validated); returns it."""
    # here, not at the top: reading (stored) must not import scikit-learn and SciPy,
    # which the dashboard's first screen does before anything is fitted
    from .summary import recommend

    cache = load_cache(folder)
    settings = settings_of(cache)
    rec = recommend(replace(cache, defaults=settings), n_boot=N_BOOT)
    settings[ANSWER_KEY] = record(
        _of(settings, cache), N_BOOT, rec.cascade_alpha,
        {m: (p.drop_pp, p.mean_cost) for m, p in rec.calibration.items()}, rec.test)
    tuned.save(folder, settings, cache.num_layers, cache.calibration.n)
    return rec
