"""A method's headline numbers as a KPI row and as one plain sentence, and a core error
as one message. Light (no scikit-learn, SciPy: the Overview's first screen draws its
answer with it)."""

from __future__ import annotations

import streamlit as st

from dimee_core import recommendation
from dimee_core.config import DIMEEConfig
from dimee_core.metrics import MethodResult
from ui import settings, units
from ui.text import md

KPI_HELP = {
    "accuracy": "Share of held-out test samples answered correctly.",
    "drop": "How many percentage points less accurate than sending everything to the "
            "cloud (full model). Negative means more accurate. Below it: the 95 % "
            "bootstrap interval over test samples.",
    "cost": "Average cost of answering one sample: compute on each device plus network "
            "transfers, in layer-equivalents (one phone layer = 1 by default).",
    "reduction": "How much cheaper than sending every raw input to the cloud.",
}


def _ci(ci: tuple[float, float] | None) -> str:
    return f"95 % interval {ci[0]:+.2f} to {ci[1]:+.2f}" if ci else ""


def kpi_row(r: MethodResult, prefix: str = "", per_row: int = 4,
            real: tuple | None = None, profile=None, unit=None) -> None:
    """Four headline numbers of one method (``per_row=2`` for half-width columns).
    ``real``: (own, all-in-cloud) real-unit summaries under ``profile`` (the sidebar's by
    default): the cost KPIs then show the sidebar's unit (through ui.units, like every
    cost on every page), and in mJ the radio tail's share when it dominates.
    ``unit``: ``r``'s cost is already in that unit (a stored answer)."""
    cells = [st.columns(per_row) for _ in range(4 // per_row)]
    c = [col for row in cells for col in row]
    c[0].metric(f"{prefix}Accuracy", f"{100 * r.accuracy:.2f} %", help=KPI_HELP["accuracy"])
    c[1].metric(f"{prefix}Accuracy drop vs cloud", f"{r.accuracy_drop_pp:+.2f} pp",
                help=KPI_HELP["drop"], delta_description=_ci(r.drop_ci95) or None)
    label, value, red_label, red, help_text = units.cost_cells(r, real, unit)
    c[2].metric(f"{prefix}{label}", value, help=help_text)
    shown = r if unit is not None else units.in_unit(r, real)
    c[3].metric(f"{prefix}{red_label}", red, help=KPI_HELP["reduction"],
                delta_description=_ci(shown.reduction_ci95) or None)
    note = units.energy_note(real, profile)
    if note:
        st.caption(f"{prefix}phone energy: {note}" if prefix else f"Phone energy: {note}")


def kpi_caption(r: MethodResult, name: str = "DIMEE", real: tuple | None = None,
                cfg: DIMEEConfig | None = None) -> None:
    """The same numbers as one plain-language sentence for stakeholders: the accuracy
    change is worded by its interval ('no measurable accuracy loss' when it spans 0); a
    router that sends everything to the cloud says why (``cfg``: its knobs)."""
    if cfg is not None and recommendation.all_to_cloud(r):
        st.caption(f"**In plain words:** {name} sends every request to the cloud at these "
                   f"knobs and saves nothing, {recommendation.cloud_reason(cfg)}.")
        return
    s, saving = r.tier_shares, recommendation.saving_words(units.in_unit(r, real),
                                                    units.shown(real).noun)
    st.caption(f"**In plain words:** {name} answers {100 * s['mobile']:.0f} % of requests on "
               f"the phone, {100 * s['edge']:.0f} % on the edge and {100 * s['cloud']:.0f} % "
               f"in the cloud. It {saving}, with {recommendation.accuracy_words(r)}.")


def show_error(exc: Exception, what: str = "This setting") -> None:
    """A core validation error as a plain message (never a traceback)."""
    st.error(f"{md(what)} cannot be evaluated: {md(settings.in_labels(exc), 400)}")
