"""Which numbers on a page carry a guarantee, and the recommendation that was applied.

A guarantee ("drop ≤ t pp with 1 − δ confidence") belongs to one rule: one method at one
setting, certified on calibration by ``dimee_core.selection``. The sidebar's knobs drive
DIMEE, DIMEE+ and the cascade at once, so after an Apply only the recommended method's
numbers are the certified ones; the others run at knobs nobody certified. A ``Claim``
records one certified rule; ``covers`` says whether the page's current knobs still run it.
Pure parts first (data in, words out); ``applied_section`` and ``status_caption`` draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from dimee_core import tuned
from dimee_core.cache import Cache
from dimee_core.config import METHOD_LABELS, DIMEEConfig
from ui import units
from ui.kpis import kpi_row

if TYPE_CHECKING:  # a type only: this module is on the first screen (no scikit-learn)
    from dimee_core.evaluate import Evaluation

APPLIED = "_applied_claim"  # session key: the Claim the last Apply or frontier click set
SHOWN = ("dimee", "dimee_plus", "cascade")
# what a rule's routing depends on, per method (a cascade: only its split points and α)
RULE_FIELDS = {
    "cascade": ("m", "n", "alpha"),
    "dimee": ("m", "n", "k", "features", "alpha", "policy", "epsilon", "mu", "safety",
              "fit_fraction", "random_state", "costs", "objective", "profile",
              "latency_sla_ms"),
}
RULE_FIELDS["dimee_plus"] = RULE_FIELDS["dimee"]


@dataclass(frozen=True)
class Claim:
    """One certified rule: ``method`` at ``config``, drop ≤ ``target_pp`` with 1 − δ."""

    method: str  # "dimee", "dimee_plus" or "cascade": whose routing is certified
    config: DIMEEConfig
    target_pp: float
    delta: float
    bound_pp: float | None  # that setting's own held-out bound (not selection-adjusted)
    source: str  # where the claim comes from, in words

    def covers(self, method: str, cfg: DIMEEConfig) -> bool:
        """True when ``method`` at ``cfg`` runs exactly this certified rule."""
        return method == self.method and all(
            getattr(cfg, f) == getattr(self.config, f) for f in RULE_FIELDS[method])

    def words(self) -> str:
        bound = ("" if self.bound_pp is None else
                 f"; this setting's own held-out bound {self.bound_pp:+.2f} pp, not "
                 f"adjusted for the selection")
        return (f"accuracy drop vs all-in-cloud ≤ {self.target_pp:g} pp with "
                f"{100 * (1 - self.delta):g} % confidence ({self.source}{bound})")


def setting_words(method: str, cfg: DIMEEConfig) -> str:
    """A rule's knobs in one line (Markdown-safe: numbers and fixed names only)."""
    where = f"m = {cfg.m}, n = {cfg.n}"
    if method == "cascade":
        return f"the confidence cascade at α = {cfg.alpha:g}, {where}"
    knob = {"budget": f"budget ε = {cfg.epsilon:g} pp, safety {cfg.safety:g}",
            "reward": f"reward μ = {cfg.mu:g}", "pools": "majority pools"}[cfg.policy]
    return (f"{METHOD_LABELS[method]} with {where}, k = {cfg.k}, features {cfg.features}, "
            f"{knob}")


def stored_claims(cache: Cache) -> list[Claim]:
    """The settings ``tune`` stored with this cache, each with its own target and δ (a
    DIMEE+ setting that is a cascade certifies the cascade rule). An entry without a
    guarantee's words was not certified."""
    out = []
    for method in ("dimee", "dimee_plus"):
        g = tuned.guarantee(cache.defaults, method)
        if g is None or not g.text:
            continue
        cfg = DIMEEConfig.for_cache(cache, method)
        who = "DIMEE+'s setting" if method == "dimee_plus" else "DIMEE's setting"
        out.append(Claim("cascade" if cfg.as_cascade else method, cfg, g.target_pp, g.delta,
                         g.bound_pp, f"{who} stored with this data set by python -m "
                                     f"dimee_core tune"))
    return out


def covering(claims: list[Claim], method: str, cfg: DIMEEConfig) -> Claim | None:
    """The first claim that certifies ``method`` at ``cfg`` (None: not certified)."""
    return next((c for c in claims if c.covers(method, cfg)), None)


def status_words(claims: list[Claim], cfg: DIMEEConfig,
                 methods: tuple[str, ...] = SHOWN) -> str:
    """Which of the shown methods run a certified rule at ``cfg`` and which do not."""
    yes, no = [], []
    for m in methods:
        c = covering(claims, m, cfg)
        (yes if c else no).append(
            f"{METHOD_LABELS[m]} (≤ {c.target_pp:g} pp, {100 * (1 - c.delta):g} %)" if c
            else METHOD_LABELS[m])
    parts = []
    if yes:
        parts.append("**Certified at these knobs:** " + ", ".join(yes) + ".")
    if no:
        parts.append("**Not certified:** " + ", ".join(no) + " — their numbers are what "
                     "these knobs give on test, with no guarantee on unseen samples.")
    return " ".join(parts)


# ---------------------------------------------------------------- session: the applied claim

def record(claim: Claim) -> None:
    """Remember the recommendation an Apply (or frontier click) just wrote to the knobs."""
    st.session_state[APPLIED] = claim


def applied() -> Claim | None:
    return st.session_state.get(APPLIED)


def claims(cache: Cache) -> list[Claim]:
    """The applied recommendation first, then the cache's stored settings."""
    mine = applied()
    return ([mine] if mine is not None else []) + stored_claims(cache)


def applied_section(cfg: DIMEEConfig, ev: Evaluation, real: dict | None = None) -> None:
    """After an Apply: the recommended method's own numbers at the applied knobs (exactly
    the routing that was recommended), its guarantee beside them, and a plain note once a
    knob moved away from it. ``real``: every method's real-unit summaries (units mode)."""
    claim = applied()
    if claim is None:
        return
    name = METHOD_LABELS[claim.method]
    if not claim.covers(claim.method, cfg):
        st.info(f"You applied {setting_words(claim.method, claim.config)}; a knob has moved "
                f"since, so its guarantee no longer covers the numbers below.",
                icon=":material/info:")
        return
    st.subheader(f"The applied recommendation: {name}")
    kpi_row(ev.methods[claim.method], prefix=f"{name} (applied) ",
                    real=units.real_pair(real, claim.method))
    st.success(f"**Certified:** {setting_words(claim.method, claim.config)} — "
               f"{claim.words()}.", icon=":material/verified:")


def status_caption(cache: Cache, cfg: DIMEEConfig) -> None:
    st.caption(status_words(claims(cache), cfg))
