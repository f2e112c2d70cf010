"""A device-and-network profile as one short, validated URL value.

A preset is its slug (``lte``); an edited profile is the nearest preset's slug plus the
fields that differ, each ``part.field_value`` after a ``~``:
``lte~pc.rtt_35~pe.up_18``. Numbers are written as Python's shortest exact repr, so a
link reproduces every figure bit for bit. Decoding re-validates the whole profile with
``profiles.profile_from_dict``: a bad value raises one :class:`ProfileError` naming the
field as the sidebar labels it, never its code.
"""

from __future__ import annotations

import re

from .profiles import (DEFAULT_PROFILE, PARTS, PRESETS, Profile, ProfileError, label,
                       profile_from_dict)

SLUGS = {"Wi-Fi + edge GPU": "wifi", "LTE + cloud GPU": "lte", "5G": "5g",
         "Congested uplink": "congested"}
PART_CODES = {"phone": "ph", "edge": "ed", "cloud": "cl", "phone_edge": "pe",
              "phone_cloud": "pc", "edge_cloud": "ec", "payload": "pl"}
FIELD_CODES = {"ms_per_layer": "ms", "ms_per_token": "mt", "ms_per_token2": "mt2",
               "watts": "w", "usd_per_hour": "uh", "usd_per_million_requests": "um",
               "rtt_ms": "rtt", "uplink_mbps": "up", "radio_mj_per_mbit": "rb",
               "radio_active_watts": "rw", "radio_tail_mj": "tail",
               "hidden_value_bytes": "hb", "token_id_bytes": "tb"}
MAX_CHARS = 1500  # every field of every part edited fits in about 700
EDITED = " (edited)"
_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\Z")  # no inf / nan / 1_0
_BY_SLUG = {v: k for k, v in SLUGS.items()}
_PART_BY_CODE = {v: k for k, v in PART_CODES.items()}
_FIELD_BY_CODE = {v: k for k, v in FIELD_CODES.items()}


def _num(v: float) -> str:
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def _diffs(profile: Profile, base: Profile) -> list[tuple[str, str, float]]:
    return [(part, f, v) for part in PARTS
            for f, v in getattr(profile, part).__dict__.items()
            if float(v) != float(getattr(getattr(base, part), f))]


def encode(profile: Profile) -> str:
    """The shortest code: the preset with the fewest differing fields (the default
    preset first on a tie), then those fields."""
    order = [DEFAULT_PROFILE, *(n for n in PRESETS if n != DEFAULT_PROFILE)]
    name = min(order, key=lambda n: (n != profile.name or bool(_diffs(profile, PRESETS[n])),
                                     len(_diffs(profile, PRESETS[n]))))
    return "~".join([SLUGS[name], *(f"{PART_CODES[p]}.{FIELD_CODES[f]}_{_num(v)}"
                                    for p, f, v in _diffs(profile, PRESETS[name]))])


def decode(code: str) -> Profile:
    """The profile a code stands for; :class:`ProfileError` with one plain reason."""
    if not isinstance(code, str) or not code:
        raise ProfileError("the profile code must be non-empty text")
    if len(code) > MAX_CHARS:
        raise ProfileError(f"the profile code is longer than {MAX_CHARS} characters")
    slug, *edits = code.split("~")
    if slug not in _BY_SLUG:
        raise ProfileError(f"the profile code must start with a preset: "
                           f"{', '.join(SLUGS.values())}")
    base = PRESETS[_BY_SLUG[slug]]
    d, seen = base.to_dict(), set()
    for edit in edits:
        key, sep, raw = edit.partition("_")
        part_code, dot, field_code = key.partition(".")
        part, field = _PART_BY_CODE.get(part_code), _FIELD_BY_CODE.get(field_code)
        if not (sep and dot) or part is None or field not in d[part]:
            raise ProfileError("the profile code holds an edit it does not know (each "
                               "reads part.field_value, e.g. pc.rtt_35)")
        if (part, field) in seen:
            raise ProfileError(f"the profile code sets {label(part, field)} twice")
        seen.add((part, field))
        if not _NUMBER.match(raw):
            raise ProfileError(f"{label(part, field)} must be a finite number")
        d[part][field] = float(raw)  # 1e999 reads as inf: profile_from_dict refuses it
    if edits:
        d["name"] = base.name + EDITED
    return profile_from_dict(d)
