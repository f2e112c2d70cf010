import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dimee_core.splits import Split
from dimee_core.costs import CostModel
from dimee_core.profiles import (FALLBACK_TOKENS, METRICS, PRESETS, Device, Link, Profile,
                                 ProfileError, check_profile, label, load_profile,
                                 parse_profile, profile_from_dict, profile_json,
                                 per_request, route_polynomials, summarise)


def by_hand(p: Profile, tier: int, escalated: bool, T: int, m: int, n: int, L: int,
            mode: str, hidden: int, reference: bool = False) -> dict[str, float]:
    """One sample's figures, written out from the physical description (no polynomials)."""
    def layer(dev):
        return dev.ms_per_layer + dev.ms_per_token * T + dev.ms_per_token2 * T * T

    def send(link, nbytes):
        secs = nbytes * 8 / (link.uplink_mbps * 1e6)
        return link.rtt_ms + 1e3 * secs, (link.radio_tail_mj + link.radio_mj_per_mbit
                                          * nbytes * 8 / 1e6
                                          + link.radio_active_watts * 1e3 * secs)

    def price(dev, layers):
        return dev.usd_per_hour * layers * layer(dev) / 3_600_000 + (
            dev.usd_per_million_requests / 1e6)

    ids = T * p.payload.token_id_bytes
    if reference:
        ms, mj = send(p.phone_cloud, ids)
        return {"latency_ms": ms + L * layer(p.cloud), "energy_mj": mj,
                "usd": price(p.cloud, L), "bytes_uplink": ids}
    resume = mode == "resume"
    payload = T * hidden * p.payload.hidden_value_bytes if resume else ids
    ms = m * layer(p.phone)
    mj = ms * p.phone.watts
    usd, up = 0.0, 0.0
    if tier > 0:
        dev, link = (p.edge, p.phone_edge) if tier == 1 else (p.cloud, p.phone_cloud)
        last = n if tier == 1 else L
        layers = last - m if resume else last
        t_ms, t_mj = send(link, payload)
        ms += t_ms + layers * layer(dev)
        mj += t_mj
        usd += price(dev, layers)
        up += payload
    if escalated:  # the edge (tier 1 so far) hands the sample to the cloud
        t_ms, _ = send(p.edge_cloud, payload)
        layers = L - n if resume else L
        ms += t_ms + layers * layer(p.cloud)
        usd += price(p.cloud, layers)
    return {"latency_ms": ms, "energy_mj": mj, "usd": usd, "bytes_uplink": up}


ODD = Profile("odd", Device(0.3, 0.05, 1e-4, watts=2.0, usd_per_hour=99.0),
              Device(0.2, 0.01, 2e-5, usd_per_hour=1.5, usd_per_million_requests=3.0),
              Device(0.1, 0.002, 1e-6, usd_per_hour=6.0, usd_per_million_requests=7.0),
              Link(8.0, 12.0, 300.0, 0.5, 40.0), Link(60.0, 4.0, 400.0, 1.2, 9000.0),
              Link(25.0, 800.0, 5.0, 5.0, 5.0))


@pytest.mark.parametrize("profile", [ODD, *PRESETS.values()], ids=lambda p: p.name)
@pytest.mark.parametrize("mode", ["resume", "recompute"])
def test_per_sample_figures_match_the_hand_computation(profile, mode):
    rng = np.random.default_rng(0)
    N, m, n, L, hidden = 300, 2, 4, 6, 384
    tier = rng.integers(0, 3, N)
    escalated = (tier == 2) & (rng.random(N) < 0.5)  # Routing's convention: tier cloud
    T = rng.integers(1, 200, N)
    for reference in (False, True):
        s = summarise(profile, tier, escalated, T, m, n, L, mode, hidden, reference)
        rows = [by_hand(profile, 1 if e else int(t), bool(e), int(x), m, n, L, mode, hidden,
                        reference) for t, e, x in zip(tier, escalated, T)]
        lat = np.array([r["latency_ms"] for r in rows])
        assert s.latency_ms["mean"] == pytest.approx(lat.mean(), rel=1e-9)
        for q in (50, 95, 99):
            assert s.latency_ms[f"p{q}"] == pytest.approx(np.percentile(lat, q), rel=1e-9)
        assert s.phone_energy_mj["mean"] == pytest.approx(
            np.mean([r["energy_mj"] for r in rows]), rel=1e-9)
        assert s.money_per_million == pytest.approx(
            1e6 * np.mean([r["usd"] for r in rows]), rel=1e-9)
        assert s.bytes_uplink["mean"] == pytest.approx(
            np.mean([r["bytes_uplink"] for r in rows]), rel=1e-9)


@pytest.mark.parametrize("mode", ["resume", "recompute"])
def test_per_request_figures_and_kpi_means_match_the_hand_computation(mode):
    """per_request: each request's figure and all-in-cloud's (money per million such
    requests); UnitSummary.mean: the KPI's mean of each metric."""
    rng = np.random.default_rng(1)
    N, m, n, L, hidden = 50, 1, 3, 6, 384
    tier = rng.integers(0, 3, N)
    escalated = (tier == 2) & (rng.random(N) < 0.5)
    T = rng.integers(1, 200, N)
    rows = [by_hand(ODD, 1 if e else int(t), bool(e), int(x), m, n, L, mode, hidden)
            for t, e, x in zip(tier, escalated, T)]
    refs = [by_hand(ODD, 2, False, int(x), m, n, L, mode, hidden, reference=True) for x in T]
    s = summarise(ODD, tier, escalated, T, m, n, L, mode, hidden)
    for metric, scale in (("latency_ms", 1), ("energy_mj", 1), ("usd", 1e6),
                          ("bytes_uplink", 1)):
        own, ref = per_request(ODD, metric, tier, escalated, T, m, n, L, mode, hidden)
        np.testing.assert_allclose(own, [scale * r[metric] for r in rows], rtol=1e-9)
        np.testing.assert_allclose(ref, [scale * r[metric] for r in refs], rtol=1e-9)
        assert s.mean(metric) == pytest.approx(own.mean(), rel=1e-9)


def test_issue_anchor_resume_payload_on_lte():
    """The issue's example: 128 tokens x 384 x 2 bytes = 98 kB, ~131 ms at 6 Mbit/s."""
    p = PRESETS["LTE + cloud GPU"]
    up = route_polynomials(p, "bytes_uplink", 2, 4, 6, "resume", 384)
    assert up.per_sample(np.array([2]), None, np.array([128]))[0] == 128 * 384 * 2
    lat = route_polynomials(p, "latency_ms", 2, 4, 6, "resume", 384)
    t = np.array([1.0, 128.0, 128.0 ** 2])
    cloud_layers = 4 * (t @ p.cloud.layer_ms())
    send = (lat.tier[2] - lat.tier[0]) @ t - cloud_layers
    assert send == pytest.approx(70 + 98304 * 8 / 6e3)  # 201 ms


def test_abstract_costs_as_polynomials():
    c = CostModel(o_edge=1.5, lambda_cloud=0.5, mode="recompute")
    p = c.route_polynomials(2, 4, 6)
    np.testing.assert_allclose(p.tier[:, 0], c.tier_costs(2, 4, 6))
    assert not p.tier[:, 1:].any() and p.escalation[0] == c.escalation_cost(4, 6)
    assert p.reference_per_sample(np.array([5, 50]))[1] == c.reference_cost(6)


def test_presets_round_trip_and_scaling(tmp_path):
    for p in PRESETS.values():
        assert parse_profile(profile_json(p)) == p
        path = tmp_path / "p.json"
        path.write_text(profile_json(p))
        assert load_profile(path) == p
        assert load_profile(p.name) == p
    p = PRESETS["LTE + cloud GPU"]
    fast = p.with_links("uplink_mbps", 3)
    assert fast.phone_edge.uplink_mbps == 18 and fast.phone_cloud.uplink_mbps == 18
    assert fast.edge_cloud == p.edge_cloud and fast.phone == p.phone


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["phone_edge"].update(uplink_mbps=-1), "phone → edge link: uplink bandwidth"),
    (lambda d: d["phone_edge"].update(uplink_mbps=0), "must be above 0"),
    (lambda d: d["cloud"].update(usd_per_hour="4"), "cloud: price per busy hour ($) must be "
                                                    "a number"),
    (lambda d: d["phone"].update(watts=True), "must be a number"),
    (lambda d: d["edge"].update(ms_per_token=1e300), "implausibly large"),
    (lambda d: d["phone"].pop("watts"), "phone: power while computing (W) is missing"),
    (lambda d: d.pop("edge_cloud"), "no edge → cloud link section"),
    (lambda d: d.update(edge=[1, 2]), "edge server section must be a JSON object"),
    (lambda d: d["edge"].update(teleport=1), "unknown fields: teleport"),
    (lambda d: d.update(name=""), "profile name"),
])
def test_bad_fields_name_things_in_the_users_words(edit, message):
    d = json.loads(profile_json(PRESETS["5G"]))
    edit(d)
    with pytest.raises(ProfileError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("$", r"\$")):
        profile_from_dict(d)


@pytest.mark.parametrize("text, message", [
    ('{"name": "x", "phone": NaN}', "finite number"),
    (profile_json(ODD).replace('"watts": 2.0', '"watts": 1' + "0" * 400), "implausibly"),
    (profile_json(ODD).replace('"watts": 2.0', '"watts": 1e400'), "must be finite"),
    ("[" * 100_000 + "]" * 100_000, "under 64 kB"),
    ("[" * 30_000 + "]" * 30_000, "nested too deeply"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
])
def test_malformed_files(text, message):
    with pytest.raises(ProfileError, match=message):
        parse_profile(text)
    with pytest.raises(ProfileError):
        parse_profile(text.encode())


def test_unknown_preset_or_file():
    with pytest.raises(ProfileError, match="no preset or readable profile file"):
        load_profile("/no/such/profile.json")


def test_labels_are_words():
    assert label("phone_cloud", "rtt_ms") == "phone → cloud link: round-trip time (ms)"


NUMBERS = [(part, f) for part in ("phone", "edge", "cloud", "phone_edge", "phone_cloud",
                                  "edge_cloud", "payload")
           for f in json.loads(profile_json(ODD))[part]]
BAD = st.one_of(st.floats(max_value=-1e-300), st.just(math.inf), st.just(-math.inf),
                st.just(math.nan), st.floats(min_value=1.01e9, allow_infinity=False),
                st.text(max_size=5), st.booleans(), st.none(), st.lists(st.integers(),
                                                                        max_size=2))


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(target=st.sampled_from(NUMBERS), bad=BAD)
def test_any_bad_value_is_one_profile_error(target, bad):
    d = json.loads(profile_json(ODD))
    d[target[0]][target[1]] = bad
    with pytest.raises(ProfileError, match=label(*target).replace("(", r"\(")
                       .replace(")", r"\)").replace("$", r"\$").replace("+", r"\+")
                       if not isinstance(bad, list) else None):
        profile_from_dict(d)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(target=st.sampled_from(NUMBERS),
       good=st.floats(min_value=1e-6, max_value=1e9, allow_nan=False))
def test_any_valid_value_is_kept(target, good):
    d = json.loads(profile_json(ODD))
    d[target[0]][target[1]] = good
    p = profile_from_dict(d)
    assert getattr(getattr(p, target[0]), target[1]) == good


JSON = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(),
                    lambda kids: st.lists(kids, max_size=4)
                    | st.dictionaries(st.text(max_size=12), kids, max_size=4), max_leaves=30)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(doc=st.one_of(JSON, st.fixed_dictionaries(
    {k: JSON for k in ("name", "phone", "edge")})))
def test_arbitrary_json_is_a_profile_or_one_profile_error(doc):
    try:
        p = parse_profile(json.dumps(doc))
    except ProfileError:
        return
    assert check_profile(p) == p  # only fully valid documents get through


def test_metric_names_and_costs_are_nonnegative():
    rng = np.random.default_rng(1)
    T = rng.integers(1, 512, 500)
    for p in PRESETS.values():
        for metric in METRICS:
            polys = route_polynomials(p, metric, 1, 3, 6, "resume")
            for tier in range(3):
                assert (polys.per_sample(np.full(500, tier), None, T) >= 0).all()


def test_old_cache_without_texts_falls_back_to_the_stated_constant():
    from dimee_core.cache import Cache
    from dimee_core.tokens import with_lengths

    s = Split(np.zeros(3, int), np.zeros((3, 3, 2), np.float32),
              np.zeros((3, 3, 1), np.float32), ())
    cache = Cache(meta={"name": "x", "model_id": "other"}, calibration=s, test=s,
                  path=None, defaults={})
    filled, note = with_lengths(cache)
    assert (filled.test.lengths == FALLBACK_TOKENS).all() and str(FALLBACK_TOKENS) in note
    again, none = with_lengths(filled)
    assert again is filled and none is None


@pytest.mark.parametrize("mode", ["resume", "recompute"])
def test_a_requests_parts_sum_to_the_hand_model_and_name_their_source(mode):
    """profiles.parts split one request (the Samples page's bar): they sum to the
    hand-written figure, the phone's part is its own layers, energy has no remote part
    and money no phone part; all-in-cloud's figure is the hand model's too."""
    from dimee_core.profiles import parts

    p, T, m, n, L = PRESETS["LTE + cloud GPU"], 37, 2, 4, 6
    for metric in ("latency_ms", "energy_mj", "usd"):
        model = parts(p, metric, m, n, L, mode, 384)
        for tier, esc in ((0, False), (1, False), (2, False), (1, True)):
            got = model.of_request(tier, esc, T)
            hand = by_hand(p, tier, esc, T, m, n, L, mode, 384)[metric]
            assert sum(got.values()) == pytest.approx(hand, rel=1e-12)
            assert got["escalation"] == 0.0 or esc
        ref = by_hand(p, 2, False, T, m, n, L, mode, 384, reference=True)[metric]
        assert model.reference_of(T) == pytest.approx(ref, rel=1e-12)
    lat = parts(p, "latency_ms", m, n, L, mode, 384).of_request(2, False, T)
    layer = p.phone.ms_per_layer + p.phone.ms_per_token * T + p.phone.ms_per_token2 * T * T
    assert lat["phone compute"] == pytest.approx(m * layer)
    assert parts(p, "energy_mj", m, n, L, mode, 384).of_request(2, False, T)[
        "remote compute"] == 0.0
    assert parts(p, "usd", m, n, L, mode, 384).of_request(1, False, T)["phone compute"] == 0.0
