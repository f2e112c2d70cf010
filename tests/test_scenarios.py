"""Compare's scenario files: round trip, and one clear message for a hostile file."""

from __future__ import annotations

import json

import pytest

from dimee_core.cache import load_cache
from tests.conftest import SHIPPED
from ui import scenarios, settings


@pytest.fixture(scope="module")
def cache():
    return load_cache(SHIPPED / "rt-snippets")


def test_round_trip(cache):
    a = dict(settings.defaults(cache), m=1, n=3, k=5, policy="reward", mu=0.25, oc=7.5,
             mode="recompute")
    b = settings.defaults(cache)
    text = scenarios.to_json("rt-snippets", [("cheap *uplink*", a), ("B", b)])
    back = scenarios.from_json(text.encode(), cache)
    assert back == [("cheap *uplink*", a), ("B", b)]


def _doc(settings, **extra) -> bytes:
    return json.dumps({"format": scenarios.FORMAT, "version": 1,
                       "scenarios": [{"name": "x", "settings": settings}], **extra}).encode()


@pytest.mark.parametrize("data,why", [
    (b"\xff\xfe", "not valid UTF-8 JSON"),
    (b"[1, 2]", "not a scenarios file"),
    (json.dumps({"format": scenarios.FORMAT, "scenarios": []}).encode(), "one or two"),
    (_doc({"m": 9}), "m must lie in"),
    (_doc({"policy": "magic"}), "policy must be one of"),
    (_doc({"oc": "nan"}), "oc must lie in"),
    (_doc({"k": True}), "k must be a number"),
    (_doc({"rm -rf": 1}), "unknown settings"),
    (_doc({"m": 3, "n": 3}), "n must lie in"),
    (b" " * (scenarios.MAX_BYTES + 1), "larger than"),
])
def test_hostile_files_get_one_clear_message(cache, data, why):
    with pytest.raises(ValueError, match=why):
        scenarios.from_json(data, cache)


def test_missing_settings_take_the_defaults(cache):
    (name, s), = scenarios.from_json(_doc({"oc": 9}), cache)
    assert s == dict(settings.defaults(cache), oc=9.0) and name == "x"
