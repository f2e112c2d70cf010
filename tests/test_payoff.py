"""Which tier pays off under a profile (dimee_core.payoff): every mean against the
hand-written physical model, the verdicts and their reasons, the radio tail's share."""

from __future__ import annotations

import numpy as np
import pytest

from dimee_core.payoff import SOURCE, payoff, tail_note
from dimee_core.profiles import PRESETS, summarise

from .test_profiles import ODD, by_hand

LENGTHS = np.array([5, 12, 31, 64, 9, 22])
LTE, WIFI = PRESETS["LTE + cloud GPU"], PRESETS["Wi-Fi + edge GPU"]


@pytest.mark.parametrize("profile", [LTE, WIFI, ODD], ids=lambda p: p.name)
@pytest.mark.parametrize("metric", ["latency_ms", "energy_mj", "usd"])
@pytest.mark.parametrize("mode", ["resume", "recompute"])
def test_route_means_match_the_hand_model(profile, metric, mode):
    p = payoff(profile, metric, 2, 4, 6, LENGTHS, mode)
    for i, tier in enumerate(("phone", "edge", "cloud")):
        hand = np.mean([by_hand(profile, i, False, int(T), 2, 4, 6, mode, 384)[metric]
                        for T in LENGTHS])
        assert p.routes[tier].mean == pytest.approx(hand, rel=1e-12)
        r = p.routes[tier]
        assert r.phone + r.link + r.remote == pytest.approx(r.mean, rel=1e-12)
    ref = np.mean([by_hand(profile, 2, False, int(T), 2, 4, 6, mode, 384, reference=True)
                   [metric] for T in LENGTHS])
    assert p.reference.mean == pytest.approx(ref, rel=1e-12)
    cheaper = [t for t in ("phone", "edge", "cloud") if p.routes[t].mean < ref * (1 - 1e-9)]
    assert p.paying == cheaper


def test_lte_energy_only_the_phone_pays_off_and_says_why():
    p = payoff(LTE, "energy_mj", 2, 4, 6, LENGTHS)
    assert p.paying == ["phone"]
    words = p.sentence()
    assert "Neither the edge nor going on to the cloud after the phone pays off" in words
    assert "768 bytes per token" in words and "4 bytes per token" in words
    assert "all on the phone" in words


def test_wifi_latency_the_edge_pays_off_the_cloud_after_the_phone_does_not():
    p = payoff(WIFI, "latency_ms", 2, 4, 6, LENGTHS)
    assert p.paying == ["phone", "edge"]
    words = p.sentence()
    assert "Going on to the cloud after the phone never pays off" in words
    assert "The phone and the edge pay off here." in words


def test_money_is_per_million_requests():
    p = payoff(LTE, "usd", 2, 4, 6, LENGTHS)
    ref = np.mean([by_hand(LTE, 2, False, int(T), 2, 4, 6, "resume", 384, reference=True)
                   ["usd"] for T in LENGTHS])
    assert f"${1e6 * ref:,.3f} per 1 M requests;" in p.sentence()
    assert p.paying == ["phone", "edge", "cloud"]


def test_the_radio_tail_is_named_with_its_source_where_it_dominates():
    tier = np.array([0, 1, 2, 2, 0, 0])
    esc = np.array([False, False, True, False, False, False])
    s = summarise(LTE, tier, esc, LENGTHS, 2, 4, 6)
    # three transfers of six requests: 3 x 12,585 mJ / 6 over the mean energy
    assert s.phone_energy_mj["radio_tail"] == pytest.approx(3 * 12585.0 / 6)
    note = tail_note(LTE, s.phone_energy_mj)
    share = 100 * (3 * 12585.0 / 6) / s.phone_energy_mj["mean"]
    assert note.startswith(f"{share:.0f} % of it is the LTE radio's promotion and tail")
    assert SOURCE in note and "12,585 mJ per transfer" in note
    phone_only = summarise(LTE, np.zeros(6, int), None, LENGTHS, 2, 4, 6)
    assert tail_note(LTE, phone_only.phone_energy_mj) is None  # no transfer, no tail
    assert SOURCE not in tail_note(ODD, summarise(ODD, np.full(6, 2), None, LENGTHS, 2, 4,
                                                  6).phone_energy_mj)  # not a preset's
