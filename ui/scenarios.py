"""Compare's scenarios: every knob of a setting, saved and reloaded as JSON.

A scenario is a name plus one value per shared setting (ui.settings.SETTINGS: split points,
k, features, α, policy, ε, μ, offload mode and the six costs) and its device-and-network
profile (the URL's ``pf`` code; real units score each scenario under its own). Loading
validates every value with the same parser as the URL, so a hostile file gets one clear
message.
"""

from __future__ import annotations

import json
from typing import Any

from dimee_core.cache import Cache
from dimee_core.profile_code import decode, encode
from dimee_core.profiles import ProfileError
from ui import settings

FORMAT = "dimee-studio-scenarios"
MAX_BYTES = 64 * 1024
MAX_NAME = 60
PROFILE = "pf"  # a scenario's profile code in its settings (absent: the sidebar's)


def to_json(dataset: str, scenarios: list[tuple[str, dict[str, Any]]],
            compact: bool = False) -> str:
    """The scenarios file (``compact``: one line, for the URL's ``cmp`` parameter)."""
    return json.dumps({"format": FORMAT, "version": 1, "dataset": dataset,
                       "scenarios": [{"name": n, "settings": {k: s[k] for k in settings.SETTINGS},
                                      **({"profile": s[PROFILE]} if s.get(PROFILE) else {})}
                                     for n, s in scenarios]},
                      indent=None if compact else 2, ensure_ascii=False,
                      separators=(",", ":") if compact else None)


def from_json(data: bytes, cache: Cache) -> list[tuple[str, dict[str, Any]]]:
    """Parse and validate a scenarios file for ``cache``; ValueError with a plain reason.
    Missing settings take the cache's defaults; unknown ones are refused."""
    if len(data) > MAX_BYTES:
        raise ValueError(f"the file is larger than {MAX_BYTES // 1024} kB")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("the file is not valid UTF-8 JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"not a scenarios file (expected \"format\": \"{FORMAT}\")")
    items = doc.get("scenarios")
    if not isinstance(items, list) or not 1 <= len(items) <= 2:
        raise ValueError("\"scenarios\" must be a list of one or two scenarios")
    out = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("settings"), dict):
            raise ValueError(f"scenario {i} has no \"settings\" object")
        name = item.get("name", f"Scenario {i}")
        if not isinstance(name, str):
            raise ValueError(f"scenario {i}: the name must be text")
        raw = item["settings"]
        unknown = sorted(set(raw) - set(settings.SETTINGS))
        if unknown:
            raise ValueError(f"scenario {i}: unknown settings {', '.join(map(str, unknown))[:200]}")
        values = dict(settings.defaults(cache))
        for key in settings.SETTINGS:  # dict order: m before n, so n's bounds see m
            if key in raw:
                value = raw[key]
                if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                    raise ValueError(f"scenario {i}: {key} must be a number or a name")
                try:
                    values[key] = settings.parse(cache, key, str(value), values["m"])
                except ValueError as exc:
                    raise ValueError(f"scenario {i}: {key} {exc}") from None
        if values["n"] <= values["m"]:
            raise ValueError(f"scenario {i}: n must be above m")
        if "profile" in item:
            try:
                values[PROFILE] = encode(decode(item["profile"]))
            except ProfileError as exc:
                raise ValueError(f"scenario {i}: profile: {exc}") from None
        out.append((name.strip()[:MAX_NAME] or f"Scenario {i}", values))
    return out
