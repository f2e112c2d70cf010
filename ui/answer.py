"""The Overview's answer: the data set's recommended method at its stored setting, read
back from what ``tune`` stored (ui.memo) without fitting anything, so it is the first
screen's (tests/test_first_screen.py: no scikit-learn or SciPy before it is drawn)."""

from __future__ import annotations

import streamlit as st

from dimee_core import recommendation
from dimee_core.cache import Cache
from dimee_core.config import METHOD_LABELS, DIMEEConfig
from ui import datasets, memo, unit_answer, units
from ui.kpis import kpi_row


def recommended(cache: Cache) -> recommendation.Recommendation:
    """The stored answer; computed (fitting the routers) only for a cache whose tune
    stored none for its current settings."""
    stored = memo.stored_answer(cache)
    if stored is not None:
        return stored
    from ui import compute  # the rare path: see the module's docstring

    return compute.recommendation(cache)


def recommendation_units(cache: Cache) -> dict | None:
    """Each method of the cache's recommendation as (own, all-in-cloud) under the profile
    in force; None in abstract mode."""
    if not units.in_units():
        return None
    from ui import compute  # rescoring needs the fitted routings: not a first-screen import

    return compute.recommendation_units(cache, units.profile())


def recommendation_in_unit(rec: recommendation.Recommendation, real: dict | None
                           ) -> recommendation.Recommendation:
    """``rec`` with its test results in the sidebar's unit (the pick and its calibration
    numbers stay)."""
    return rec if real is None else rec.with_test(
        {m: units.in_unit(r, real[m]) for m, r in rec.test.items()})


def recommended_answer(cache: Cache, cfg: DIMEEConfig) -> recommendation.Recommendation:
    """The data set's recommended method at its stored setting, in one sentence, its KPIs
    and why it was chosen; a note when the sidebar holds another setting."""
    rec = recommended(cache)
    if not unit_answer.draw(cache, kpi_row):  # chosen in this unit by tune: read, not computed
        _rescored_answer(cache, rec)
    if cfg != rec.config:
        st.info("The sidebar holds another setting: the sections below use yours.",
                icon=":material/tune:")
    return rec


def _rescored_answer(cache: Cache, rec: recommendation.Recommendation) -> None:
    """The abstract answer, rescored in the sidebar's unit when one is on (no answer is
    stored for this unit and profile)."""
    real = recommendation_units(cache)
    if real is not None:
        st.caption("No answer is stored for this profile (tune stores one per preset "
                   "profile and unit): below is the abstract answer rescored in this unit. "
                   "The What-if optimiser chooses in this unit.")
    st.markdown(recommendation.headline(recommendation_in_unit(rec, real), units.shown(real).noun))
    kpi_row(rec.chosen, prefix=f"{METHOD_LABELS[rec.method]} ",
            real=None if real is None else real[rec.method])
    st.caption(f"{METHOD_LABELS[rec.method]}'s setting stored with this data set "
               f"(certified on its calibration split by python -m dimee_core tune): "
               f"{recommendation.setting_words(rec.chosen_config)}, default costs. "
               f"{recommendation.why(rec)}"
               + ("" if real is None else " (Those calibration costs are abstract "
                  "layer-equivalents: the method was picked in the paper's cost model.)"))
    units.payoff_box(cache, rec.chosen_config)


def shipped_recommendations() -> list[tuple[Cache, recommendation.Recommendation]]:
    """Each shipped cache that loads with its recommendation (the all-data-sets summary;
    the cache is there to rescore the recommendation in real units)."""
    out = []
    for path in datasets.shipped().values():
        try:
            cache = memo.load(path)
            out.append((cache, recommended(cache)))
        except ValueError:  # a broken shipped cache: the sidebar already says so
            continue
    return out
