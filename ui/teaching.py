"""Which setting the teaching pages (Learn, Live) run at: by default an illustrative one
that shows the method at work, labelled as not certified, with the certified one a click
away. A certified "send everything to the cloud" is honest, but one cluster and one tier
teach nothing about routing."""

from __future__ import annotations

import streamlit as st

from dimee_core import teaching
from dimee_core.cache import Cache
from dimee_core.evaluate import DIMEEConfig
from ui import guarantee, memo, settings, url
from ui.text import md

KEY = "lesson"  # widget key == URL parameter
CHOICES = {"illustrative": "Illustrative (not certified)", "certified": "Certified",
           "yours": "Your sidebar settings"}
PARAM = url.Param(KEY, url.choice(tuple(CHOICES)))


@memo.cached("data", max_entries=16,
                show_spinner="Choosing an illustrative setting on the calibration split…")
def _illustration(cache: Cache, base: DIMEEConfig) -> teaching.Illustration:
    return teaching.illustrative_setting(cache, base)


def illustration(cache: Cache, cfg: DIMEEConfig) -> teaching.Illustration:
    """The illustrative setting under the sidebar's costs (memoised per cache build)."""
    return _illustration(cache, DIMEEConfig.for_cache(cache, costs=cfg.costs))


def _certified(cache: Cache) -> tuple[DIMEEConfig, guarantee.Claim | None]:
    """DIMEE's stored (certified) setting and its claim, when the cache stores one."""
    cfg = DIMEEConfig.for_cache(cache)
    return cfg, guarantee.covering(guarantee.stored_claims(cache), "dimee", cfg)


def lesson_config(cache: Cache, cfg: DIMEEConfig) -> DIMEEConfig:
    """Draw the choice of setting and say what it is; return the config the page runs at.
    Opens at the illustrative setting while the sidebar holds the data set's defaults,
    else at the sidebar's settings (someone who moved a knob wants to see it)."""
    ss = st.session_state
    if KEY not in ss:
        at_defaults = cfg == settings.config_from(cache, settings.defaults(cache))
        ss[KEY] = "illustrative" if at_defaults else "yours"
    url.adopt((PARAM,))
    choice = st.segmented_control(
        "This page runs DIMEE at", list(CHOICES), format_func=CHOICES.get, key=KEY,
        help="Illustrative: a setting picked on calibration to show the method at work, "
             "with no guarantee. Certified: the setting stored with this data set, "
             "certified on calibration. Yours: the sidebar's knobs.") or "illustrative"
    url.mirror((PARAM,))
    certified, claim = _certified(cache)
    if choice == "yours":
        st.caption("The sidebar's knobs, exactly as set there.")
        return cfg
    if choice == "certified":
        if claim is None:  # tune stored DIMEE's knobs without a guarantee: say so
            why = cache.defaults.get("message") or "tune stored no guarantee for it"
            st.warning(f"**DIMEE has no certified setting on this data set:** {md(why)} "
                       f"This page shows its stored knobs "
                       f"({guarantee.setting_words('dimee', certified)}), which are not "
                       f"certified; the Overview's answer is the certified setting (DIMEE+, "
                       f"or the cascade it contains).", icon=":material/gpp_maybe:")
            return certified
        st.success(f"**Certified setting:** {guarantee.setting_words('dimee', certified)} — "
                   f"{claim.words()}. Where the target is tight for the samples at hand, "
                   f"the certified setting may send most requests to the cloud and the "
                   f"lesson then has little routing to show; the illustrative setting shows "
                   f"more.", icon=":material/verified:")
        return certified
    ill = illustration(cache, cfg)
    st.info(f"**Illustrative setting, not certified:** "
            f"{guarantee.setting_words('dimee', ill.config)}. Picked on the calibration "
            f"split to show the method at work ({ill.tiers_used} tiers in use, "
            f"{ill.reduction_pct:.1f} % cheaper than all-in-cloud at a "
            f"{ill.drop_pp:+.2f} pp drop there, in-sample): no guarantee on unseen samples. "
            + (f"Choose **Certified** above for DIMEE's setting stored with this data set "
               f"({claim.words()})." if claim else "DIMEE has no certified setting on this "
               "data set; the Overview's answer is the certified one."),
            icon=":material/school:")
    st.page_link("pages/overview.py", label="The certified answer for this data set",
                 icon=":material/verified:")
    return ill.config
