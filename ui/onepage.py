"""The Overview's one-page summary for stakeholders (PDF or PNG): the data set's answer in
the sidebar's unit, its stored guarantee, where the samples go and the frontier."""

from __future__ import annotations

import streamlit as st

from dimee_core import recommendation, words
from dimee_core.cache import Cache
from dimee_core.config import METHOD_LABELS
from ui import answer, guarantee, units


def page(cache: Cache):
    """The page's content (a dimee_core.onepager.OnePage) from the same cached numbers
    the Overview shows."""
    # built on a click only: the buttons are on the first screen, which imports neither
    # scikit-learn nor matplotlib (tests/test_first_screen.py)
    from dimee_core import explore, onepager
    from ui import compute

    rec = compute.recommendation(cache)
    real = answer.recommendation_units(cache)
    shown = answer.recommendation_in_unit(rec, real)
    r, noun = shown.chosen, units.shown(real).noun
    name = METHOD_LABELS[rec.method]
    claim = next((c for c in guarantee.stored_claims(cache)
                  if c.config == rec.chosen_config), None)
    promise = (f"{name} at its stored setting ({recommendation.setting_words(rec.chosen_config)}): "
               + (claim.words() + ". Assumption: calibration and future samples are "
                  "exchangeable (drawn from the same population)." if claim else
                  "no guarantee is stored with this data set for this setting."))
    label, value, red_label, red, _ = units.cost_cells(rec.chosen, None if real is None
                                                      else real[rec.method])
    escalated = float(explore.via_edge(rec.routings[rec.method]).mean())
    notes = [recommendation.why(rec)]
    if escalated > 1e-12:
        notes.append(f"{100 * escalated:.1f} % of the requests reach the cloud through the "
                     "edge, which hands on those it is unsure of.")
    if units.in_units():
        notes.append("The frontier is in the paper's abstract cost (layer-equivalents), "
                     "the cost model the routers minimise; the numbers above are in "
                     f"{noun}.")
    return onepager.OnePage(
        title=f"DIMEE Studio: {cache.meta.get('title', cache.name)}",
        subtitle=f"Data set {cache.name} · model {cache.meta.get('model_id')} · "
                 f"{words.count(cache.test.n, 'held-out test sample')} · costs in {noun}",
        answer=recommendation.headline(shown, noun).replace("**", ""),
        guarantee=promise,
        kpis=[("Accuracy", f"{100 * r.accuracy:.2f} %"),
              ("Drop vs cloud", f"{r.accuracy_drop_pp:+.2f} pp"), (label, value),
              (red_label, red)],
        shares=r.tier_shares, n_samples=cache.test.n,
        frontier=compute.frontiers(cache, rec.config),
        point=(rec.chosen.mean_cost, rec.chosen.accuracy),
        point_label=f"{name}, the answer (test split)", notes=notes)


def _render(cache: Cache, fmt: str) -> bytes:
    from dimee_core.onepager import render  # on a click: see page()

    return render(page(cache), fmt)


def downloads(cache: Cache) -> None:
    """Two download buttons; each file is drawn on click, not on every rerun."""
    c1, c2 = st.columns(2)
    for col, fmt, mime in ((c1, "pdf", "application/pdf"), (c2, "png", "image/png")):
        col.download_button(f"One-page summary ({fmt.upper()})",
                            lambda fmt=fmt: _render(cache, fmt),
                            file_name=f"dimee_{cache.name}_summary.{fmt}", mime=mime,
                            on_click="ignore", key=f"ov_onepage_{fmt}",
                            icon=":material/description:",
                            help="For stakeholders: the answer, its guarantee, where the "
                                 "samples go and the accuracy/cost frontier, in the "
                                 "sidebar's unit.")
