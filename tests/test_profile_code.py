"""A profile as a URL value (dimee_core.profile_code): round trip, refusals in the
sidebar's words, and a fuzz of the decoder (fixed seed)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dimee_core.profile_code import FIELD_CODES, PART_CODES, SLUGS, decode, encode
from dimee_core.profiles import (FIELD_LABELS, PARTS, PRESETS, ProfileError, label,
                                 profile_from_dict)

FUZZ = dict(derandomize=True, database=None, deadline=timedelta(seconds=10),
            suppress_health_check=[HealthCheck.too_slow])
INTERNAL_NAMES = [*FIELD_LABELS, "o_cloud", *(p for p in PARTS if "_" in p)]
INTERNAL = re.compile(r"\b(" + "|".join(INTERNAL_NAMES) + r")\b")  # never shown


def test_presets_are_their_slugs_and_come_back_identical():
    assert set(SLUGS) == set(PRESETS)
    for name, p in PRESETS.items():
        assert encode(p) == SLUGS[name]
        assert decode(SLUGS[name]) == p


def test_an_edit_is_the_nearest_preset_plus_the_changed_fields():
    wifi = PRESETS["Wi-Fi + edge GPU"]
    p = replace(wifi.scaled("phone_cloud", "rtt_ms", 2.0), name="mine")
    assert encode(p) == "wifi~pc.rtt_70"  # Wi-Fi's 35 ms doubled; nothing else
    back = decode("wifi~pc.rtt_70")
    assert back.phone_cloud.rtt_ms == 70.0 and back.name == "Wi-Fi + edge GPU (edited)"
    assert replace(back, name="mine") == p


@pytest.mark.parametrize("code, words", [
    ("lte~pc.rtt_-3", label("phone_cloud", "rtt_ms") + " must be at least 0"),
    ("lte~pe.up_0", label("phone_edge", "uplink_mbps") + " must be above 0"),
    ("lte~cl.uh_1e999", label("cloud", "usd_per_hour") + " must be finite"),
    ("lte~cl.uh_inf", label("cloud", "usd_per_hour") + " must be a finite number"),
    ("lte~cl.uh_nan", label("cloud", "usd_per_hour") + " must be a finite number"),
    ("lte~cl.uh_0", "costs no money (" + label("cloud", "usd_per_hour") + " and "
     + label("cloud", "usd_per_million_requests") + " are both 0)"),
    ("wifi~pc.rb_0~pc.rw_0~pc.tail_0", "costs no phone energy"),
    ("lte~pc.rtt_3~pc.rtt_4", label("phone_cloud", "rtt_ms") + " twice"),
    ("mars", "must start with a preset"),
    ("lte~xx.rtt_3", "an edit it does not know"),
    ("", "must be non-empty text"),
])
def test_bad_codes_get_one_message_in_the_sidebars_words(code, words):
    with pytest.raises(ProfileError) as exc:
        decode(code)
    assert words in str(exc.value)
    assert not INTERNAL.search(str(exc.value).replace(code, "")), str(exc.value)


NUMBERS = [(part, f) for part in PARTS for f in PRESETS["5G"].to_dict()[part]]
VALUES = st.floats(min_value=1e-9, max_value=1e9, allow_nan=False)


@pytest.mark.slow
@settings(max_examples=200, **FUZZ)
@given(base=st.sampled_from(list(PRESETS)),
       edits=st.dictionaries(st.sampled_from(NUMBERS), VALUES, max_size=12))
def test_any_valid_profile_round_trips_exactly(base, edits):
    d = PRESETS[base].to_dict()
    for (part, f), v in edits.items():
        d[part][f] = v
    p = profile_from_dict(d)
    back = decode(encode(p))
    assert replace(back, name=p.name) == p  # every number bit for bit
    assert len(encode(p)) <= 1500


CODE_PIECES = st.sampled_from([*SLUGS.values(), *PART_CODES.values(), *FIELD_CODES.values(),
                               "~", ".", "_", "-", "0", "1e9", "1e999", "nan", "inf", "e",
                               "5", ".5", "1_0", " ", "%", "\u00e9", "\x00"])


@pytest.mark.slow
@settings(max_examples=500, **FUZZ)
@given(code=st.one_of(st.text(max_size=60), st.lists(CODE_PIECES, max_size=14).map("".join)))
def test_any_text_is_a_valid_profile_or_one_profile_error(code):
    try:
        p = decode(code)
    except ProfileError as exc:
        assert not INTERNAL.search(str(exc)), str(exc)
        return
    assert profile_from_dict(p.to_dict()) == p  # only fully valid profiles get through
